package feedhttp_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/services/feed"
)

// heartbeat is the i-th extra heartbeat of the benchmark's store, after
// the campaign's events.
func heartbeat(b *testing.B, i int) feed.Record {
	b.Helper()
	at := campaignEnd.Add(time.Duration(i+1) * time.Second)
	e, err := events.New(events.Source{Country: "ke", Service: "node"}, "", events.NodeHeartbeat{Version: "v1", StartedAt: campaignEnd, Forks: 1},
		events.WithTime(at), events.WithID(fmt.Sprintf("bench-hb-%d", i)))
	if err != nil {
		b.Fatal(err)
	}
	return feed.Record{Event: e, Seq: uint64(1_000_000 + i), Received: at}
}

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
		{"countries", "/countries"},
		{"propagation", "/propagation"},
		{"propagation-after-each-event", "/propagation"},
		{"propagation-project", "/propagation?project=x-road"},
		{"api-propagation", "/api/v1/propagation"},
	}
	const requests = 200
	for _, v := range views {
		b.Run(v.name, func(b *testing.B) {
			var (
				times []time.Duration
				size  int
			)
			extra := 0 // heartbeats applied so far
			for b.Loop() {
				times = times[:0]
				for range requests {
					if v.name == "propagation-after-each-event" {
						// A heartbeat arrives before each request: the
						// figures are worked out again once in
						// PropagationMaxAge (max-ms is that request).
						extra++
						hb := heartbeat(b, extra)
						b.StopTimer()
						if err := st.Apply(context.Background(), hb.Event, hb.Seq, hb.Received); err != nil {
							b.Fatal(err)
						}
						b.StartTimer()
					}
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
			b.ReportMetric(float64(times[len(times)-1].Microseconds())/1000, "max-ms")
		})
	}
}
