package feedhttp_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/services/feed"
	"github.com/dpihub/dpihub/services/feed/feedbus/feedgen"
	"github.com/dpihub/dpihub/services/feed/feedhttp"
	"github.com/dpihub/dpihub/services/feed/feedhttp/feedtest"
	"github.com/dpihub/dpihub/services/feed/sqlite"
)

// campaignEnd is when the test campaigns end, and the handlers' clock.
var campaignEnd = feedgen.Start.Add(180 * 24 * time.Hour)

// campaign is a store holding a campaign of countries and fixes, and a
// proposal a country (feedgen.Campaign, seed 16), ending at campaignEnd.
func campaign(t testing.TB, countries, fixes int) *sqlite.Store {
	t.Helper()
	st := openStore(t)
	c := feedgen.Campaign{Countries: countries, Fixes: fixes, Proposals: countries, Seed: 16, End: campaignEnd}
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
	srv := newServer(t, campaignHandler(st, feedhttp.WithRefusals(campaignRefusals())))
	ctx := feedtest.Browser(t)
	page, err := st.FixMatrix(context.Background(), feed.FixFilter{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range campaignViews(page.Fixes[0].ID) {
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

// campaignViews are the views TestCampaignScreenshots takes; fix is
// the newest fix.
func campaignViews(fix string) []struct{ name, path, ready string } {
	return []struct{ name, path, ready string }{
		{"campaign-feed", "/", `!!document.querySelector("#events")`},
		{"campaign-matrix", "/matrix", `!!document.querySelector("#project-matrix")`},
		{"campaign-proposals", "/proposals", `!!document.querySelector(".board")`},
		{"campaign-country-lacking", "/countries/ke/lacking", `!!document.querySelector("#lacking-fixes")`},
		{"campaign-countries", "/countries", `!!document.querySelector("#countries")`},
		{"campaign-refused", "/refused", `!!document.querySelector("#refusals")`},
		{"campaign-propagation", "/propagation", `!!document.querySelector("#propagation-chart")`},
		{"campaign-fix", "/fixes/" + fix + "#diff-h", `!!document.querySelector("#diff")`},
		{"campaign-fix-lacking", "/fixes/" + fix + "/lacking", `!!document.querySelector("#lacking-countries")`},
	}
}

// heatmap reads every page of the matrix in the browser: each fix's
// letter in each country's column.
func heatmap(t testing.TB, ctx context.Context, srv string) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	do(t, ctx, chromedp.Navigate(srv+"/matrix?limit=500"), chromedp.WaitVisible(chromedp.CSS("#project-matrix")))
	for {
		rows := feedtest.JS[map[string]map[string]string](t, ctx, `(() => {
			const cols = [...document.querySelectorAll("#project-matrix thead th[data-country]")].map(th => th.dataset.country);
			const out = {};
			for (const tr of document.querySelectorAll("#project-matrix tbody tr")) {
				const cells = {};
				[...tr.querySelectorAll("td")].forEach((td, i) => cells[cols[i]] = td.textContent);
				out[tr.dataset.fix] = cells;
			}
			return out;
		})()`)
		for id, cells := range rows {
			out[id] = cells
		}
		if !feedtest.JS[bool](t, ctx, `!!document.querySelector('.pager a[rel="next"]')`) {
			return out
		}
		do(t, ctx, chromedp.Evaluate[chromedp.Void](`window.__before = true`), chromedp.Click(chromedp.CSS(`.pager a[rel="next"]`)))
		feedtest.WaitJS(t, ctx, "the next page loads", `!window.__before && document.readyState === "complete"`)
	}
}

// lacks: a cell's letter says the country could take the fix and does
// not have it.
func lacks(letter string) bool { return letter == "·" || letter == "A" || letter == "C" }

func TestBrowserLackingViewsAgreeWithTheMatrix(t *testing.T) {
	st := campaign(t, 50, 300)
	srv := newServer(t, campaignHandler(st))
	ctx := feedtest.Browser(t)
	heat := heatmap(t, ctx, srv)
	if len(heat) != 300 {
		t.Fatalf("the matrix shows %d fixes, want 300", len(heat))
	}

	t.Run("a fix's page lists the countries whose cell says they lack it", func(t *testing.T) {
		checked := 0
		for id, cells := range heat {
			var want []string
			for cc, l := range cells {
				if lacks(l) {
					want = append(want, cc)
				}
			}
			if len(want) < 3 {
				continue
			}
			do(t, ctx, chromedp.Navigate(srv+"/fixes/"+id), chromedp.WaitVisible(chromedp.CSS("#lacking-link")),
				chromedp.Evaluate[chromedp.Void](`window.__before = true`), chromedp.Focus(chromedp.CSS("#lacking-link")), chromedp.KeyEvent("\r"))
			feedtest.WaitJS(t, ctx, "the lacking page loads", `!window.__before && document.readyState === "complete"`)
			got := feedtest.JS[[]string](t, ctx, `[...document.querySelectorAll("#lacking-countries tbody tr")].map(r => r.dataset.country)`)
			if !slices.Equal(sorted(got), sorted(want)) {
				t.Fatalf("%s: the page lists %q, the matrix says %q", id, sorted(got), sorted(want))
			}
			states := feedtest.JS[[]string](t, ctx, "("+readable+`)("#lacking-countries tbody td:nth-child(2)")`)
			for i, cc := range got {
				if w := map[string]string{"·": "pending", "A": "applies", "C": "conflicts"}[cells[cc]]; states[i] != w {
					t.Errorf("%s, %s: %q, the matrix says %q", id, cc, states[i], w)
				}
			}
			if checked++; checked == 3 {
				break
			}
		}
		if checked == 0 {
			t.Fatal("no fix lacks in three countries: the test proves nothing")
		}
	})

	t.Run("a country's page lists the fixes its column lacks, most carried first", func(t *testing.T) {
		for _, cc := range []string{"ke", feedgen.CampaignCountries(50)[49]} {
			want := map[string]int{} // fix -> carriers
			for id, cells := range heat {
				if !lacks(cells[cc]) {
					continue
				}
				n := 0
				for _, l := range cells {
					if l == "O" || l == "P" {
						n++
					}
				}
				want[id] = n
			}
			do(t, ctx, chromedp.Navigate(srv+"/countries"), chromedp.WaitVisible(chromedp.CSS("#countries")),
				chromedp.Evaluate[chromedp.Void](`window.__before = true`), chromedp.Click(chromedp.CSS(`#countries a[href="/countries/`+cc+`/lacking"]`)))
			feedtest.WaitJS(t, ctx, "the country's lacking page loads", `!window.__before && document.readyState === "complete"`)
			rows := feedtest.JS[[][]string](t, ctx, `[...document.querySelectorAll("#lacking-fixes tbody tr")].map(r => [r.dataset.fix, r.querySelector("td.num").textContent])`)
			if len(rows) != len(want) {
				t.Fatalf("%s: %d fixes listed, the matrix says %d", cc, len(rows), len(want))
			}
			prev := 1 << 30
			for _, r := range rows {
				n, ok := want[r[0]]
				if !ok {
					t.Fatalf("%s: %s is listed, but the matrix says %s has it or cannot take it", cc, r[0], cc)
				}
				var got int
				if _, err := fmt.Sscanf(r[1], "%d", &got); err != nil || got != n {
					t.Fatalf("%s: %s carried by %q, the matrix row has %d", cc, r[0], r[1], n)
				}
				if got > prev {
					t.Fatalf("%s: %s (%d carriers) after one with %d", cc, r[0], got, prev)
				}
				prev = got
			}
		}
	})
}

func TestLackingAPIs(t *testing.T) {
	st := campaign(t, 12, 100)
	srv := newServer(t, campaignHandler(st))
	getJSON := func(t *testing.T, path string, v any) *http.Response {
		t.Helper()
		res, err := http.Get(srv + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if v != nil && res.StatusCode == 200 {
			if err := json.NewDecoder(res.Body).Decode(v); err != nil {
				t.Fatal(err)
			}
		}
		return res
	}
	t.Run("a country's gaps are ranked and limited, with the total", func(t *testing.T) {
		var all, few struct {
			Country string
			Total   int
			Fixes   []feed.LackingFix
		}
		getJSON(t, "/api/v1/countries/ke/lacking?limit=500", &all)
		getJSON(t, "/api/v1/countries/ke/lacking?limit=5", &few)
		if all.Total == 0 || len(all.Fixes) != all.Total || few.Total != all.Total || len(few.Fixes) != 5 {
			t.Fatalf("all: %d of %d, few: %d of %d", len(all.Fixes), all.Total, len(few.Fixes), few.Total)
		}
		if !slices.IsSortedFunc(all.Fixes, feed.LackingOrder) {
			t.Fatal("the fixes are not in LackingOrder")
		}
		for _, f := range all.Fixes {
			if f.Country == "ke" {
				t.Fatalf("Kenya lacks its own fix %s", f.ID)
			}
		}
	})
	t.Run("a fix's gaps name each country once", func(t *testing.T) {
		var page struct{ Fixes []feed.Fix }
		getJSON(t, "/api/v1/matrix?verdict=pending&limit=1", &page)
		var l struct {
			Fix       string
			Countries []feed.LackingCountry
		}
		getJSON(t, "/api/v1/fixes/"+page.Fixes[0].ID+"/lacking", &l)
		if l.Fix != page.Fixes[0].ID || len(l.Countries) == 0 {
			t.Fatalf("%+v", l)
		}
	})
	for path, status := range map[string]int{
		"/api/v1/fixes/nope/lacking":              404,
		"/api/v1/countries/xyz/lacking":           400,
		"/api/v1/countries/hub/lacking":           400,
		"/api/v1/countries/to/lacking":            404,
		"/api/v1/countries/ke/lacking?limit=0":    400,
		"/api/v1/countries/ke/lacking?project=A!": 400,
	} {
		t.Run(path+" is refused", func(t *testing.T) {
			res := getJSON(t, path, nil)
			if res.StatusCode != status || res.Header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("%d %s, want %d problem+json", res.StatusCode, res.Header.Get("Content-Type"), status)
			}
		})
	}
	res := getJSON(t, "/countries/xyz/lacking", nil)
	if res.StatusCode != 400 {
		t.Fatalf("the page of a bad country: %d, want 400", res.StatusCode)
	}
}

func TestBrowserPropagationChartsAgreeWithTheirTables(t *testing.T) {
	st := campaign(t, 50, 300)
	srv := newServer(t, campaignHandler(st))
	ctx := feedtest.Browser(t)
	do(t, ctx, chromedp.Navigate(srv+"/"), chromedp.WaitVisible(chromedp.CSS("#main")),
		chromedp.Evaluate[chromedp.Void](`window.__before = true`), chromedp.Click(chromedp.CSS(`nav a[href="/propagation"]`)))
	feedtest.WaitJS(t, ctx, "the propagation page loads", `!window.__before && document.readyState === "complete"`)

	t.Run("each country's bars are its table row's median and p90, on one scale, in the same order", func(t *testing.T) {
		type bar struct {
			Country             string
			Median, P90         float64 // bar widths
			MedianSec, P90Sec   float64 // the table's
			MedianText, P90Text string
			Title               string
		}
		bars := feedtest.JS[[]bar](t, ctx, `[...document.querySelectorAll("#propagation-chart g[data-country]")].map(g => {
			const row = document.querySelector('#propagation-countries tr[data-country="' + g.dataset.country + '"]');
			const tds = row.querySelectorAll("td[data-seconds]");
			return {Country: g.dataset.country,
				Median: g.querySelector("rect.median").getBBox().width, P90: g.querySelector("rect.p90").getBBox().width,
				MedianSec: +tds[0].dataset.seconds, P90Sec: +tds[1].dataset.seconds,
				MedianText: tds[0].textContent, P90Text: tds[1].textContent, Title: g.querySelector("title").textContent};
		})`)
		rows := feedtest.JS[[]string](t, ctx, `[...document.querySelectorAll("#propagation-countries tbody tr")].map(r => r.dataset.country)`)
		if len(bars) != 50 || len(rows) != 50 {
			t.Fatalf("%d bars, %d rows; want 50 of each", len(bars), len(rows))
		}
		scale := bars[0].P90 / bars[0].P90Sec
		for i, b := range bars {
			if rows[i] != b.Country {
				t.Fatalf("bar %d is %s, table row %d is %s", i, b.Country, i, rows[i])
			}
			for _, v := range [][2]float64{{b.Median, b.MedianSec}, {b.P90, b.P90Sec}} {
				if d := v[0] - v[1]*scale; d < -0.5 || d > 0.5 {
					t.Errorf("%s: a bar %.1f px long for %.0f s; the scale says %.1f", b.Country, v[0], v[1], v[1]*scale)
				}
			}
			if !strings.Contains(b.Title, "median "+b.MedianText+", 90th percentile "+b.P90Text) {
				t.Errorf("%s: the bar says %q, the table %s and %s", b.Country, b.Title, b.MedianText, b.P90Text)
			}
			if i > 0 && b.MedianSec > bars[i-1].MedianSec {
				t.Errorf("%s (%v s) is listed after a faster country", b.Country, b.MedianSec)
			}
		}
	})

	t.Run("the trend's dots are its table's monthly medians", func(t *testing.T) {
		type dot struct {
			Month       string
			Height, Sec float64
		}
		dots := feedtest.JS[[]dot](t, ctx, `[...document.querySelectorAll("#trend-chart circle")].map(c => ({Month: c.dataset.month,
			Height: 190 - c.cy.baseVal.value,
			Sec: +document.querySelector('#propagation-trend tr[data-month="' + c.dataset.month + '"] td').dataset.seconds}))`)
		if len(dots) < 5 {
			t.Fatalf("%d months", len(dots))
		}
		scale := dots[0].Height / dots[0].Sec
		for _, d := range dots {
			if diff := d.Height - d.Sec*scale; diff < -0.5 || diff > 0.5 {
				t.Errorf("%s: a dot %.1f px high for %.0f s; the scale says %.1f", d.Month, d.Height, d.Sec, d.Sec*scale)
			}
		}
	})

	t.Run("the API has the same figures", func(t *testing.T) {
		res, err := http.Get(srv + "/api/v1/propagation")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var p struct {
			Countries []struct {
				Name   string
				Median float64
			}
		}
		if err := json.NewDecoder(res.Body).Decode(&p); err != nil {
			t.Fatal(err)
		}
		first := feedtest.JS[[]string](t, ctx, `[document.querySelector("#propagation-countries tbody tr").dataset.country, document.querySelector("#propagation-countries tbody td[data-seconds]").dataset.seconds]`)
		if p.Countries[0].Name != first[0] || fmt.Sprintf("%.0f", p.Countries[0].Median) != first[1] {
			t.Fatalf("the API's slowest is %+v, the page's %q", p.Countries[0], first)
		}
	})
}

func TestMetricsHaveTheSameTimeToPropagateAsTheAPI(t *testing.T) {
	st := campaign(t, 12, 100)
	reg := prometheus.NewRegistry()
	m, err := feedhttp.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, campaignHandler(st, feedhttp.WithGatherer(reg), feedhttp.WithMetrics(m)))
	res, err := http.Get(srv + "/api/v1/propagation")
	if err != nil {
		t.Fatal(err)
	}
	var p feed.Propagation
	err = json.NewDecoder(res.Body).Decode(&p)
	res.Body.Close()
	if err != nil || len(p.Countries) != 12 {
		t.Fatalf("%d countries, %v", len(p.Countries), err)
	}
	res, err = http.Get(srv + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	got := map[string]float64{}
	for _, l := range strings.Split(string(body), "\n") {
		if name, v, ok := strings.Cut(l, "} "); ok && strings.HasPrefix(name, "dpihub_feed_time_to_propagate_seconds{") {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			got[name+"}"] = f
		}
	}
	for _, c := range p.Countries {
		for q, d := range map[string]feed.Duration{"0.5": c.Median, "0.9": c.P90} {
			key := fmt.Sprintf(`dpihub_feed_time_to_propagate_seconds{country=%q,quantile=%q}`, c.Name, q)
			// The API's seconds went through JSON: equal to a microsecond.
			if v, ok := got[key]; !ok || math.Abs(v-time.Duration(d).Seconds()) > 1e-6 {
				t.Errorf("/metrics has %s %v (%v), the API %v", key, v, ok, time.Duration(d).Seconds())
			}
		}
	}
	if !strings.Contains(string(body), `dpihub_feed_project_time_to_propagate_seconds{project="x-road",quantile="0.9"}`) {
		t.Error("/metrics lacks the projects' figures")
	}
}

func TestPropagationFiguresFollowNewEvents(t *testing.T) {
	st := campaign(t, 12, 60)
	var clock atomic.Int64 // nanoseconds after the campaign's end
	now := func() time.Time { return campaignEnd.Add(time.Duration(clock.Load())) }
	srv := newServer(t, campaignHandler(st, feedhttp.WithClock(now)))
	taken := func() int {
		t.Helper()
		res, err := http.Get(srv + "/api/v1/propagation")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var p feed.Propagation
		if err := json.NewDecoder(res.Body).Decode(&p); err != nil {
			t.Fatal(err)
		}
		return p.All.N
	}
	before := taken()
	if again := taken(); again != before {
		t.Fatalf("the same store gives %d, then %d", before, again)
	}
	// A country adopts a fix it had not assessed: one more fix taken.
	open, err := st.LongestOpen(context.Background(), "", 1)
	if err != nil || len(open) == 0 {
		t.Fatalf("no open fix: %v", err)
	}
	f, err := st.Fix(context.Background(), open[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	var cc string
	for _, l := range feed.CountriesLacking(f, feedgen.CampaignCountries(12)) {
		if l.State == "pending" {
			cc = l.Country
			break
		}
	}
	at := campaignEnd.Add(time.Minute)
	e, err := events.New(events.Source{Country: cc, Service: "node"}, f.Project,
		events.FixAdopted{FixID: f.ID, PatchID: f.PatchID, Commit: strings.Repeat("d", 40), Branch: cc + "-prod"}, events.WithTime(at))
	if err != nil {
		t.Fatal(err)
	}
	last, _ := st.LastSeq(context.Background())
	if err := st.Apply(context.Background(), e, last+1, at); err != nil {
		t.Fatal(err)
	}
	// The figures of a moment ago serve for PropagationMaxAge, then the
	// new event counts.
	clock.Add(int64(feedhttp.PropagationMaxAge / 2))
	if got := taken(); got != before {
		t.Fatalf("%s after the event, within PropagationMaxAge: %d fixes taken, want the cached %d", feedhttp.PropagationMaxAge/2, got, before)
	}
	clock.Add(int64(feedhttp.PropagationMaxAge))
	if after := taken(); after != before+1 {
		t.Fatalf("after %s adopted %s: %d fixes taken, want %d", cc, f.ID, after, before+1)
	}
}

// campaignRefusals is a log of the refusals a campaign sees over two
// weeks: malformed events of a few countries, a node retrying an old key,
// and, in the last hours, unsigned events in Morocco's name.
func campaignRefusals() *feed.RefusalLog {
	l := feed.NewRefusalLog()
	countries := feedgen.CampaignCountries(50)
	reasons := []string{"schema-invalid", "schema-invalid", "invalid-event", "key-outside-validity", "max-deliveries"}
	seq := uint64(0)
	for i := range 60 {
		seq++
		cc := countries[(i*7)%len(countries)]
		r := reasons[i%len(reasons)]
		l.Add(feed.Refusal{Seq: seq, StreamSeq: seq, Time: campaignEnd.Add(-time.Duration(14*24-i*5) * time.Hour), Country: cc, Reason: r,
			Subject: "dpi." + cc + ".fix.assessed.x-road", Type: events.TypeFixAssessed, Consumer: "feed", Detail: "at /verdict: value must be one of present, applies, conflicts, not-applicable"})
	}
	for i := range 3 {
		seq++
		l.Add(feed.Refusal{Seq: seq, StreamSeq: seq, Time: campaignEnd.Add(time.Duration(i-3) * time.Hour), Country: "ma", Reason: "unsigned",
			Subject: "dpi.ma.fix.published.mosip-id-repository", Type: events.TypeFixPublished, Consumer: "feed", Detail: "the event carries no signature (dssematerial)"})
	}
	return l
}

func TestBrowserCountriesShowStaleNodesFirstWithTheirBacklog(t *testing.T) {
	st := campaign(t, 50, 300)
	// As of the campaign's end: the first countries' nodes sent their
	// last heartbeat minutes ago, the last ones' hours ago.
	srv := newServer(t, feedhttp.New(st, feedhttp.WithClock(func() time.Time { return campaignEnd })))
	ctx := feedtest.Browser(t)
	do(t, ctx, chromedp.Navigate(srv+"/countries"), chromedp.WaitVisible(chromedp.CSS("#countries")))
	type row struct {
		Country, State, Version, Seen string
		Backlog                       int
	}
	rows := feedtest.JS[[]row](t, ctx, `[...document.querySelectorAll("#countries tbody tr")].map(r => ({
		Country: r.dataset.country, State: r.dataset.state,
		Version: r.querySelector("td:nth-child(4)").textContent,
		Seen: (r.querySelector("td:nth-child(3) time") || {}).dateTime || "",
		Backlog: +((r.querySelector("[data-backlog]") || {dataset: {backlog: -1}}).dataset.backlog)}))`)
	if len(rows) != 50 {
		t.Fatalf("%d rows, want 50", len(rows))
	}
	online, stale := 0, 0
	for i, r := range rows {
		switch r.State {
		case "stale":
			stale++
			if online > 0 {
				t.Fatalf("%s, stale, is listed after an online node", r.Country)
			}
		case "online":
			online++
		default:
			t.Fatalf("%s is %s: every campaign node sends heartbeats", r.Country, r.State)
		}
		if r.Version == "—" || r.Seen == "" {
			t.Errorf("%s shows no heartbeat: %+v", r.Country, r)
		}
		if i > 0 && rows[i-1].State == r.State && rows[i-1].Seen > r.Seen {
			t.Errorf("%s (seen %s) is listed after %s (seen %s)", r.Country, r.Seen, rows[i-1].Country, rows[i-1].Seen)
		}
	}
	if online == 0 || stale == 0 {
		t.Fatalf("%d online and %d stale: the test proves nothing", online, stale)
	}

	t.Run("a backlog is the fixes the country has not assessed", func(t *testing.T) {
		for _, r := range rows[:3] {
			res, err := http.Get(srv + "/api/v1/countries/" + r.Country + "/lacking?limit=500")
			if err != nil {
				t.Fatal(err)
			}
			var l struct {
				Total int
				Fixes []feed.LackingFix
			}
			err = json.NewDecoder(res.Body).Decode(&l)
			res.Body.Close()
			if err != nil || l.Total > 500 {
				t.Fatalf("%v, total %d", err, l.Total)
			}
			pending := 0
			for _, f := range l.Fixes {
				if f.State == events.VerdictPending {
					pending++
				}
			}
			if r.Backlog != pending {
				t.Errorf("%s: backlog %d, but it has %d fixes pending", r.Country, r.Backlog, pending)
			}
		}
	})
}

// The refused page shows each country's and each reason's refusals over
// the last two weeks, day by day, as the API counts them.
func TestRefusedPageShowsEachCountryAndReasonOverTime(t *testing.T) {
	log := campaignRefusals()
	srv := newServer(t, feedhttp.New(openStore(t), feedhttp.WithRefusals(log), feedhttp.WithClock(func() time.Time { return campaignEnd })))
	res, err := http.Get(srv + "/api/v1/refused")
	if err != nil {
		t.Fatal(err)
	}
	var s feed.RefusalSummary
	err = json.NewDecoder(res.Body).Decode(&s)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	res, err = http.Get(srv + "/refused")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	rows := 0
	for _, c := range append(s.ByCountry, s.ByReason...) {
		sum := 0
		labels := make([]string, len(c.Days))
		for i, n := range c.Days {
			sum += n
			labels[i] = strconv.Itoa(n)
		}
		if len(c.Days) != len(s.ByDay) {
			t.Fatalf("%s: %d days, the summary has %d", c.Name, len(c.Days), len(s.ByDay))
		}
		if sum == 0 {
			continue
		}
		rows++
		if want := `aria-label="by day, oldest first: ` + strings.Join(labels, ", ") + `"`; !strings.Contains(string(page), want) {
			t.Errorf("the page lacks %s's series %s", c.Name, want)
		}
	}
	if rows == 0 {
		t.Fatal("no country or reason had refusals in the last two weeks")
	}
}
