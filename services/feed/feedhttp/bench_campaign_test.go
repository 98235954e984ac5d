package feedhttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/dpihub/dpihub/services/feed"
)

// BenchmarkCampaignViews measures the coordinator's campaign views on a
// store of 50 countries and 1,000 fixes (feedgen.Campaign, about 50,000
// events): for each view, the size of its answer and the server time of
// 200 requests in a row, through the handler (no network), as p50 and
// p95. The store is built once, before the timer.
//
//	cd services/feed && go test -run '^$' -bench CampaignViews -benchtime 1x ./feedhttp
func BenchmarkCampaignViews(b *testing.B) {
	st := campaign(b, 50, 1000)
	h := campaignHandler(st)
	page, err := st.FixMatrix(context.Background(), feed.FixFilter{Limit: 100})
	if err != nil {
		b.Fatal(err)
	}
	newest, next := page.Fixes[0].ID, page.Next
	views := []struct{ name, path string }{
		{"matrix", "/matrix"},
		{"matrix-page-2", "/matrix?cursor=" + next},
		{"matrix-pending", "/matrix?verdict=pending"},
		{"matrix-cve-older-30d", "/matrix?cve=any&age=30d"},
		{"api-matrix", "/api/v1/matrix"},
		{"country-lacking", "/countries/ke/lacking"},
		{"country-lacking-slowest", "/countries/co/lacking"},
		{"api-country-lacking", "/api/v1/countries/ke/lacking?limit=500"},
		{"fix-lacking", "/fixes/" + newest + "/lacking"},
		{"fix", "/fixes/" + newest},
	}
	const requests = 200
	for _, v := range views {
		b.Run(v.name, func(b *testing.B) {
			var (
				times []time.Duration
				size  int
			)
			for b.Loop() {
				times = times[:0]
				for range requests {
					rec := httptest.NewRecorder()
					req := httptest.NewRequest(http.MethodGet, v.path, nil)
					start := time.Now()
					h.ServeHTTP(rec, req)
					times = append(times, time.Since(start))
					if rec.Code != http.StatusOK {
						b.Fatalf("GET %s: %d %.300s", v.path, rec.Code, rec.Body.String())
					}
					size = rec.Body.Len()
				}
			}
			slices.Sort(times)
			b.ReportMetric(float64(size), "bytes/page")
			b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(times[len(times)*95/100].Microseconds())/1000, "p95-ms")
		})
	}
}
