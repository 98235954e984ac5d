package feedhttp_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/services/feed/feedhttp"
	"github.com/dpihub/dpihub/services/feed/feedhttp/feedtest"
)

// do runs browser actions, failing the test on error.
func do(t testing.TB, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// submit submits the search form the way a person does (clicking the
// button) and waits for the next page to have loaded.
func submit(t testing.TB, ctx context.Context) {
	t.Helper()
	do(t, ctx, chromedp.Evaluate[chromedp.Void](`window.__before = true`), chromedp.Click(chromedp.CSS(`form.search button[type="submit"]`)))
	feedtest.WaitJS(t, ctx, "the search page loads", `!window.__before && document.readyState === "complete"`)
}

// readable is the text of the elements matching sel without what is
// hidden from assistive technology (the verdict icons): what a screen
// reader says, and what someone who cannot tell the colours apart reads.
const readable = `(sel) => [...document.querySelectorAll(sel)].map(el => {
	const c = el.cloneNode(true);
	c.querySelectorAll('[aria-hidden="true"]').forEach(h => h.remove());
	return c.textContent.replace(/\s+/g, " ").trim();
})`

func TestBrowserSearchAndFiltersNarrowTheList(t *testing.T) {
	ctx := feedtest.Browser(t)
	f := newFixture(t, feedhttp.WithBroadcaster(feedhttp.NewBroadcaster()))
	count := func() int { return feedtest.JS[int](t, ctx, `document.querySelectorAll("#events li.event").length`) }

	do(t, ctx, chromedp.Navigate(f.srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#events li.event")))
	if n := count(); n != len(f.steps) {
		t.Fatalf("the feed lists %d events, want all %d", n, len(f.steps))
	}

	t.Run("a search word narrows the list", func(t *testing.T) {
		do(t, ctx, chromedp.SendKeys(chromedp.CSS("#q"), "transliteration"))
		submit(t, ctx)
		n := count()
		if n == 0 || n >= len(f.steps) {
			t.Fatalf("search lists %d events", n)
		}
		summaries := feedtest.JS[[]string](t, ctx, `[...document.querySelectorAll("#events .event-summary")].map(e => e.textContent)`)
		if !strings.Contains(strings.Join(summaries, "\n"), "Support Arabic and French name transliteration") {
			t.Fatalf("the proposal is not among %q", summaries)
		}
		if v := feedtest.JS[string](t, ctx, `document.querySelector("#q").value`); v != "transliteration" {
			t.Fatalf("the search box lost the query: %q", v)
		}
	})

	t.Run("a country filter keeps only that country", func(t *testing.T) {
		// (chromedp's SetValue refuses an empty value; clear the box by script.)
		do(t, ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector("#q").value = ""`), chromedp.SetValue(chromedp.CSS("#country"), "ke"))
		submit(t, ctx)
		want := 0
		for _, s := range f.steps {
			if s.Event.Extensions()[events.ExtCountry] == "ke" {
				want++
			}
		}
		if n := count(); n != want {
			t.Fatalf("country=ke lists %d events, want %d", n, want)
		}
		for _, cc := range feedtest.JS[[]string](t, ctx, `[...document.querySelectorAll("#events .cc")].map(e => e.textContent)`) {
			if cc != "KE" {
				t.Fatalf("an event of %s in Kenya's list", cc)
			}
		}
	})

	t.Run("a type filter narrows further", func(t *testing.T) {
		do(t, ctx, chromedp.SetValue(chromedp.CSS("#type"), "fix.assessed"))
		submit(t, ctx)
		if n := count(); n != 1 {
			t.Fatalf("country=ke type=fix.assessed lists %d events, want 1", n)
		}
		if s := feedtest.JS[string](t, ctx, `location.search`); !strings.Contains(s, "country=ke") || !strings.Contains(s, "type=fix.assessed") {
			t.Fatalf("the filters are not in the URL (so not shareable): %s", s)
		}
	})

	t.Run("a bad search says why instead of failing", func(t *testing.T) {
		do(t, ctx, chromedp.SetValue(chromedp.CSS("#q"), `"unclosed`))
		submit(t, ctx)
		msg := feedtest.JS[string](t, ctx, `(document.querySelector('[role="alert"]') || {}).textContent || ""`)
		if !strings.Contains(msg, "could not run") {
			t.Fatalf("no explanation on the page: %q", msg)
		}
	})
}

func TestBrowserFixMatrixShowsTheVerdictsAsText(t *testing.T) {
	ctx := feedtest.Browser(t)
	f := newFixture(t)

	do(t, ctx, chromedp.Navigate(f.srv.URL+"/fixes/ma-fix-0042"), chromedp.WaitVisible(chromedp.CSS("#fix-matrix")))
	countries := feedtest.JS[[]string](t, ctx, `[...document.querySelectorAll("#fix-matrix tbody tr")].map(r => r.dataset.country)`)
	verdicts := feedtest.JS[[]string](t, ctx, "("+readable+`)("#fix-matrix tbody .verdict-cell")`)
	got := map[string]string{}
	for i, cc := range countries {
		got[cc] = verdicts[i]
	}
	want := map[string]string{"ma": "origin", "ph": "applies", "lk": "present", "ke": "conflicts"}
	for cc, v := range want {
		if got[cc] != v {
			t.Errorf("fix page, %s: cell reads %q, want %q", cc, got[cc], v)
		}
	}
	details := feedtest.JS[string](t, ctx, `document.querySelector('#fix-matrix tr[data-country="ke"] .details').textContent.replace(/\s+/g, " ")`)
	if !strings.Contains(details, "IdRepoServiceImpl.java hunk 1") {
		t.Errorf("Kenya's conflict does not name file and hunk: %q", details)
	}

	do(t, ctx, chromedp.Navigate(f.srv.URL+"/matrix?project=mosip-id-repository"), chromedp.WaitVisible(chromedp.CSS("#project-matrix")))
	row := feedtest.JS[[]string](t, ctx, "("+readable+`)('#project-matrix tr[data-fix="lk-fix-0107"] .verdict-cell')`)
	cols := feedtest.JS[[]string](t, ctx, `[...document.querySelectorAll('#project-matrix tr[data-fix="lk-fix-0107"] .verdict-cell')].map(c => c.dataset.country)`)
	want = map[string]string{"lk": "origin", "ma": "applies", "ph": "conflicts", "ke": "pending"}
	if len(row) != len(want) {
		t.Fatalf("matrix row of lk-fix-0107: %q", row)
	}
	for i, cc := range cols {
		if row[i] != want[cc] {
			t.Errorf("matrix, lk-fix-0107, %s: %q, want %q", cc, row[i], want[cc])
		}
	}
}

func TestBrowserKeyboardReachesTheSkipLinkFirst(t *testing.T) {
	ctx := feedtest.Browser(t)
	f := newFixture(t)
	do(t, ctx, chromedp.Navigate(f.srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#events")), chromedp.KeyEvent("\t"))
	if got := feedtest.JS[string](t, ctx, `document.activeElement.className`); got != "skip" {
		t.Fatalf("first Tab focuses %q, want the skip link", got)
	}
	if visible := feedtest.JS[bool](t, ctx, `document.activeElement.getBoundingClientRect().top >= 0`); !visible {
		t.Fatal("the focused skip link is off screen")
	}
	do(t, ctx, chromedp.KeyEvent("\r"))
	feedtest.WaitJS(t, ctx, "Enter on the skip link moves focus to the content", `document.activeElement.id === "main"`)
}

// TestScreenshots writes a screenshot of each main view, from the demo
// story, to docs/screenshots. It runs only with DPIHUB_SCREENSHOTS=1, so
// that CI does not rewrite them.
func TestScreenshots(t *testing.T) {
	if os.Getenv("DPIHUB_SCREENSHOTS") != "1" {
		t.Skip("set DPIHUB_SCREENSHOTS=1 to rewrite docs/screenshots")
	}
	dir := filepath.Join("..", "..", "..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := feedtest.Browser(t)
	st := openStore(t)
	base := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Minute)
	apply(t, st, 1, story(t, base))
	srv := newServer(t, feedhttp.New(st, feedhttp.WithBroadcaster(feedhttp.NewBroadcaster())))
	views := []struct{ name, path, ready string }{
		{"feed", "/", `document.querySelector("#live-status").dataset.state === "on"`},
		{"fix-matrix", "/fixes/ma-fix-0042", `!!document.querySelector("#fix-matrix")`},
		{"project-matrix", "/matrix?project=mosip-id-repository", `!!document.querySelector("#project-matrix")`},
		{"proposals", "/proposals", `!!document.querySelector(".board")`},
		{"duplicates", "/duplicates", `!!document.querySelector("#duplicates")`},
		{"countries", "/countries", `!!document.querySelector("#countries")`},
	}
	for _, v := range views {
		do(t, ctx, chromedp.Navigate(srv+v.path))
		feedtest.WaitJS(t, ctx, v.name+" is ready", v.ready)
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
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
