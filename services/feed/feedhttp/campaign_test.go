package feedhttp_test

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dpihub/dpihub/services/feed"
	"github.com/dpihub/dpihub/services/feed/feedbus/feedgen"
	"github.com/dpihub/dpihub/services/feed/feedhttp"
	"github.com/dpihub/dpihub/services/feed/feedhttp/feedtest"
	"github.com/dpihub/dpihub/services/feed/sqlite"
)

// campaignEnd is when the test campaigns end, and the handlers' clock.
var campaignEnd = feedgen.Start.Add(180 * 24 * time.Hour)

// campaign is a store holding a campaign of countries and fixes
// (feedgen.Campaign, seed 16), ending at campaignEnd.
func campaign(t testing.TB, countries, fixes int) *sqlite.Store {
	t.Helper()
	st := openStore(t)
	c := feedgen.Campaign{Countries: countries, Fixes: fixes, Seed: 16, End: campaignEnd}
	if err := st.ApplyBatch(context.Background(), c.Records()); err != nil {
		t.Fatal(err)
	}
	return st
}

// campaignHandler serves st as of campaignEnd.
func campaignHandler(st *sqlite.Store, opts ...feedhttp.Option) http.Handler {
	return feedhttp.New(st, append([]feedhttp.Option{feedhttp.WithClock(func() time.Time { return campaignEnd.Add(time.Hour) })}, opts...)...)
}

// serveCampaign, with -serve-campaign=ADDR, serves a campaign of 50
// countries and 1,000 fixes on ADDR until the test's deadline, for a look:
//
//	go test ./feedhttp -run TestServeCampaign -serve-campaign 127.0.0.1:8099 -timeout 30m
var serveCampaign = flag.String("serve-campaign", "", "serve a 50-country campaign on this address until the test's deadline")

func TestServeCampaign(t *testing.T) {
	if *serveCampaign == "" {
		t.Skip("set -serve-campaign=ADDR to serve a campaign")
	}
	ln, err := net.Listen("tcp", *serveCampaign)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: campaignHandler(campaign(t, 50, 1000))}
	deadline, ok := t.Deadline()
	if !ok {
		deadline = time.Now().Add(time.Hour)
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline.Add(-5*time.Second))
	defer cancel()
	go func() { <-ctx.Done(); srv.Close() }()
	t.Logf("serving a campaign on http://%s/matrix", ln.Addr())
	_ = srv.Serve(ln)
}

// box is an element's rectangle in the page.
type box struct{ Top, Left, Right, Bottom float64 }

func rect(t testing.TB, ctx context.Context, sel string) box {
	t.Helper()
	return feedtest.JS[box](t, ctx, `(() => { const r = document.querySelector(`+strconv.Quote(sel)+`).getBoundingClientRect(); return {Top: r.top, Left: r.left, Right: r.right, Bottom: r.bottom}; })()`)
}

func TestBrowserCampaignMatrixAtFiftyCountries(t *testing.T) {
	st := campaign(t, 50, 300)
	srv := newServer(t, campaignHandler(st))
	ctx := feedtest.Browser(t)
	do(t, ctx, chromedp.Navigate(srv+"/matrix"), chromedp.WaitVisible(chromedp.CSS("#project-matrix")))

	cols := feedtest.JS[[]string](t, ctx, `[...document.querySelectorAll("#project-matrix thead th[data-country]")].map(th => th.dataset.country)`)
	if want := feedgen.CampaignCountries(50); len(cols) != 50 || !slices.Equal(sorted(cols), sorted(want)) {
		t.Fatalf("%d columns %q, want the 50 countries", len(cols), cols)
	}

	t.Run("every column can be scrolled into view, past the fix column", func(t *testing.T) {
		wrap := rect(t, ctx, ".heat-wrap")
		for _, i := range []int{0, 24, 49} {
			sel := `#project-matrix thead th[data-country="` + cols[i] + `"]`
			do(t, ctx, chromedp.Evaluate[chromedp.Void](`(() => { const w = document.querySelector(".heat-wrap"), th = document.querySelector(`+strconv.Quote(sel)+`); w.scrollLeft += th.getBoundingClientRect().left - document.querySelector(".heat th.corner").getBoundingClientRect().right; })()`))
			th, fixCol := rect(t, ctx, sel), rect(t, ctx, ".heat th.corner")
			if th.Left < fixCol.Right-1 || th.Right > wrap.Right+1 {
				t.Errorf("column %d (%s) at %+v: not between the fix column (right %v) and the box's edge (%v)", i, cols[i], th, fixCol.Right, wrap.Right)
			}
		}
	})

	t.Run("the country headers and the fix column stay in view when scrolled", func(t *testing.T) {
		do(t, ctx, chromedp.Evaluate[chromedp.Void](`(() => { const w = document.querySelector(".heat-wrap"); w.scrollTop = 1500; w.scrollLeft = w.scrollWidth; })()`))
		wrap := rect(t, ctx, ".heat-wrap")
		if st := feedtest.JS[float64](t, ctx, `document.querySelector(".heat-wrap").scrollTop`); st < 1000 {
			t.Fatalf("the box scrolled only %v px down: the test proves nothing", st)
		}
		last := rect(t, ctx, `#project-matrix thead th[data-country="`+cols[49]+`"]`)
		if d := last.Top - wrap.Top; d < -1 || d > 2 {
			t.Errorf("scrolled down, the headers are %v px from the box's top, want 0", d)
		}
		row := rect(t, ctx, `#project-matrix tbody tr:nth-child(40) th`)
		if d := row.Left - wrap.Left; d < -1 || d > 2 {
			t.Errorf("scrolled right, the fix column is %v px from the box's left, want 0", d)
		}
	})

	t.Run("the pages list every fix once, with the total", func(t *testing.T) {
		do(t, ctx, chromedp.Navigate(srv+"/matrix"), chromedp.WaitVisible(chromedp.CSS("#project-matrix")))
		seen := map[string]bool{}
		for page := 1; ; page++ {
			if c := feedtest.JS[string](t, ctx, `document.querySelector("#matrix-count").textContent`); !strings.Contains(c, "of 300 fixes") {
				t.Fatalf("page %d says %q", page, c)
			}
			for _, id := range feedtest.JS[[]string](t, ctx, `[...document.querySelectorAll("#project-matrix tbody tr")].map(r => r.dataset.fix)`) {
				if seen[id] {
					t.Fatalf("%s on two pages", id)
				}
				seen[id] = true
			}
			if !feedtest.JS[bool](t, ctx, `!!document.querySelector('.pager a[rel="next"]')`) {
				break
			}
			// By keyboard: focus the link, press Enter.
			do(t, ctx, chromedp.Evaluate[chromedp.Void](`window.__before = true`), chromedp.Focus(chromedp.CSS(`.pager a[rel="next"]`)), chromedp.KeyEvent("\r"))
			feedtest.WaitJS(t, ctx, "the next page loads", `!window.__before && document.readyState === "complete"`)
		}
		if len(seen) != 300 {
			t.Fatalf("the pages list %d fixes, want 300", len(seen))
		}
	})

	t.Run("the verdict filter keeps the fixes some country conflicts with", func(t *testing.T) {
		do(t, ctx, chromedp.Navigate(srv+"/matrix"), chromedp.WaitVisible(chromedp.CSS("#project-matrix")),
			chromedp.SetValue(chromedp.CSS("#verdict"), "conflicts"),
			chromedp.Evaluate[chromedp.Void](`window.__before = true`), chromedp.Click(chromedp.CSS(`.matrix-filter button[type="submit"]`)))
		feedtest.WaitJS(t, ctx, "the filtered matrix loads", `!window.__before && document.readyState === "complete"`)
		rows := feedtest.JS[[]bool](t, ctx, `[...document.querySelectorAll("#project-matrix tbody tr")].map(r => [...r.querySelectorAll("td")].some(td => td.textContent === "C"))`)
		if len(rows) == 0 {
			t.Fatal("no fix conflicts anywhere: the test proves nothing")
		}
		for i, ok := range rows {
			if !ok {
				t.Fatalf("row %d has no conflict", i)
			}
		}
		if s := feedtest.JS[string](t, ctx, `location.search`); s != "?project=&country=&verdict=conflicts&age=&cve=" {
			t.Logf("filters in the URL: %s", s)
		}
	})
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

func TestCampaignMatrixPageIsSmall(t *testing.T) {
	st := campaign(t, 50, 300)
	srv := newServer(t, campaignHandler(st))
	res, err := http.Get(srv + "/matrix")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || len(b) > 300_000 {
		t.Fatalf("status %d, %d bytes of HTML; want 200 and under 300 kB", res.StatusCode, len(b))
	}
	if n := strings.Count(string(b), "<tr data-fix="); n != feedhttp.MatrixPageSize {
		t.Fatalf("%d rows, want a page of %d", n, feedhttp.MatrixPageSize)
	}
}

func TestMatrixAPIPagesWithTheSameFilters(t *testing.T) {
	st := campaign(t, 12, 150)
	srv := newServer(t, campaignHandler(st))
	next := "/api/v1/matrix?verdict=pending&limit=40"
	seen, total := map[string]bool{}, -1
	for next != "" {
		res, err := http.Get(srv + next)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Countries []string `json:"countries"`
			Fixes     []feed.Fix
			Total     int
			Next      string
		}
		err = json.NewDecoder(res.Body).Decode(&page)
		res.Body.Close()
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("GET %s: %d %v", next, res.StatusCode, err)
		}
		if len(page.Countries) != 12 {
			t.Fatalf("%d columns, want 12", len(page.Countries))
		}
		total = page.Total
		for _, f := range page.Fixes {
			if seen[f.ID] {
				t.Fatalf("%s twice", f.ID)
			}
			seen[f.ID] = true
			if len(f.Assessments) >= 11 {
				t.Fatalf("%s has every verdict, yet is listed as pending somewhere", f.ID)
			}
		}
		next = ""
		if l := res.Header.Get("Link"); l != "" {
			next = strings.TrimPrefix(strings.Split(l, ">")[0], "<")
			if !strings.Contains(next, "verdict=pending") || !strings.Contains(next, "limit=40") {
				t.Fatalf("the next link %q loses the filters", next)
			}
		}
	}
	if total <= 40 || len(seen) != total {
		t.Fatalf("the pages list %d fixes, total %d", len(seen), total)
	}
	for _, bad := range []string{"?verdict=origin", "?age=2d", "?cve=1234", "?country=hub", "?cursor=zz", "?limit=0", "?project=A"} {
		res, err := http.Get(srv + "/api/v1/matrix" + bad)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 400 || res.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %s, want 400 problem+json", bad, res.StatusCode, res.Header.Get("Content-Type"))
		}
	}
}

// TestCampaignScreenshots writes a screenshot of each campaign view at
// 50 countries and 1,000 fixes to docs/screenshots. It runs only with
// DPIHUB_SCREENSHOTS=1.
func TestCampaignScreenshots(t *testing.T) {
	if os.Getenv("DPIHUB_SCREENSHOTS") != "1" {
		t.Skip("set DPIHUB_SCREENSHOTS=1 to rewrite docs/screenshots")
	}
	dir := filepath.Join("..", "..", "..", "docs", "screenshots")
	st := campaign(t, 50, 1000)
	srv := newServer(t, campaignHandler(st))
	ctx := feedtest.Browser(t)
	for _, v := range campaignViews {
		do(t, ctx, chromedp.Navigate(srv+v.path))
		feedtest.WaitJS(t, ctx, v.name+" is ready", v.ready)
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, v.name+".png")
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", path)
	}
}

// campaignViews are the views TestCampaignScreenshots takes.
var campaignViews = []struct{ name, path, ready string }{
	{"campaign-matrix", "/matrix", `!!document.querySelector("#project-matrix")`},
}
