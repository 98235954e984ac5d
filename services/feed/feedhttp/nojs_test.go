package feedhttp_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/dpihub/dpihub/services/feed/feedhttp"
	"github.com/dpihub/dpihub/services/feed/feedhttp/feedtest"
)

// noScript turns JavaScript off in the tab: the pages must work without
// it.
func noScript(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
	_, err := cdp.Call(ctx, t, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
	return chromedp.Void{}, err
}

func TestBrowserTheCampaignViewsWorkByKeyboardWithoutJavaScript(t *testing.T) {
	st := campaign(t, 50, 300)
	srv := newServer(t, campaignHandler(st, feedhttp.WithRefusals(campaignRefusals())))
	ctx := feedtest.Browser(t)
	// The proof that the page's scripts are off: the feed's live status
	// keeps what the server wrote.
	do(t, ctx, noScript, chromedp.Navigate(srv+"/"), chromedp.WaitVisible(chromedp.CSS("#live-status")))
	if st := feedtest.JS[string](t, ctx, `document.querySelector("#live-status").dataset.state`); st != "off" {
		t.Fatalf("the page's script ran (live status %q)", st)
	}
	do(t, ctx, chromedp.Navigate(srv+"/matrix"), chromedp.WaitVisible(chromedp.CSS("#project-matrix")))

	t.Run("a filter typed and sent with Enter narrows the matrix", func(t *testing.T) {
		do(t, ctx, chromedp.Focus(chromedp.CSS("#cve")), chromedp.SendKeys(chromedp.CSS("#cve"), "any"), chromedp.KeyEvent("\r"))
		feedtest.WaitJS(t, ctx, "the filtered matrix loads", `location.search.includes("cve=any") && document.readyState === "complete"`)
		rows := feedtest.JS[[]string](t, ctx, `[...document.querySelectorAll("#project-matrix tbody th small")].map(s => s.textContent)`)
		if len(rows) == 0 {
			t.Fatal("no fix names a CVE: the test proves nothing")
		}
		for _, r := range rows {
			if !strings.Contains(r, "CVE") {
				t.Fatalf("a fix without a CVE: %q", r)
			}
		}
	})

	t.Run("Tab reaches the country headers, and Enter opens what the country lacks", func(t *testing.T) {
		do(t, ctx, chromedp.Navigate(srv+"/matrix"), chromedp.WaitVisible(chromedp.CSS("#project-matrix")),
			chromedp.Focus(chromedp.CSS(".results-bar .exports a")), chromedp.KeyEvent("\t"))
		// After the filters and the JSON link, the scroll box is next,
		// then the first country's header link.
		if got := feedtest.JS[string](t, ctx, `document.activeElement.className`); got != "heat-wrap" {
			t.Fatalf("after the JSON link, Tab focuses %q, want the matrix's scroll box (arrow keys scroll it)", got)
		}
		do(t, ctx, chromedp.KeyEvent("\t"))
		href := feedtest.JS[string](t, ctx, `document.activeElement.getAttribute("href") || ""`)
		if !strings.HasPrefix(href, "/countries/") {
			t.Fatalf("the next Tab focuses %q, want a country's header", href)
		}
		do(t, ctx, chromedp.KeyEvent("\r"))
		feedtest.WaitJS(t, ctx, "the country's lacking page loads", `location.pathname === `+"`"+href+"`"+` && !!document.querySelector("#lacking-fixes")`)
	})

	t.Run("the refused events and the propagation figures show without scripts", func(t *testing.T) {
		do(t, ctx, chromedp.Navigate(srv+"/refused"), chromedp.WaitVisible(chromedp.CSS("#refusals")))
		if n := feedtest.JS[int](t, ctx, `document.querySelectorAll("#refusals tbody tr.forgery").length`); n == 0 {
			t.Fatal("no forgery listed")
		}
		do(t, ctx, chromedp.Navigate(srv+"/propagation"), chromedp.WaitVisible(chromedp.CSS("#propagation-chart")))
		if n := feedtest.JS[int](t, ctx, `document.querySelectorAll("#propagation-countries tbody tr").length`); n != 50 {
			t.Fatalf("%d countries in the table", n)
		}
	})
}
