package feedhttp_test

import (
	"context"
	"errors"
	"flag"
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

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/services/feed"
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
	row := feedtest.JS[[]string](t, ctx, `[...document.querySelectorAll('#project-matrix tr[data-fix="lk-fix-0107"] td')].map(c => c.textContent)`)
	cols := feedtest.JS[[]string](t, ctx, `[...document.querySelectorAll('#project-matrix thead th[data-country]')].map(c => c.dataset.country)`)
	want = map[string]string{"lk": "O", "ma": "A", "ph": "C", "ke": "·"}
	if len(row) != len(cols) {
		t.Fatalf("matrix row of lk-fix-0107: %q under %q", row, cols)
	}
	for i, cc := range cols {
		if w, ok := want[cc]; ok && row[i] != w {
			t.Errorf("matrix, lk-fix-0107, %s: %q, want %q", cc, row[i], w)
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

// waitVisible waits until an element matching sel is rendered (it has a
// box: not display:none, not in a closed details), failing the test with
// what after WaitJS's deadline rather than the browser's.
func waitVisible(t testing.TB, ctx context.Context, what, sel string) {
	t.Helper()
	feedtest.WaitJS(t, ctx, what, `(() => { const e = document.querySelector(`+strconv.Quote(sel)+`); return !!e && e.getClientRects().length > 0; })()`)
}

// maliciousBody is a proposal body that tries every way to run a script
// on the board, around Markdown that must still render.
const maliciousBody = "## Plan\n\n- step one\n- step two\n\n" +
	`<img src=x onerror="document.title='pwned'">` + "\n\n" +
	"<script>document.title='pwned'</script>\n\n" +
	`<svg onload="document.title='pwned'"></svg>` + "\n\n" +
	"[the docs](javascript:document.title='pwned') and " +
	`<a href="javascript:document.title='pwned'">more</a>` + "\n"

// boardStore is a store with the story, the board's proposals and, if
// malicious, one proposal (sn-2026-01) whose body tries to run scripts,
// submitted after all the others and with no votes.
func boardStore(t testing.TB, base time.Time, malicious bool) feed.Store {
	t.Helper()
	st := openStore(t)
	steps := story(t, base)
	board, err := feedtest.Board(base)
	if err != nil {
		t.Fatal(err)
	}
	steps = append(steps, board...)
	if !malicious {
		apply(t, st, 1, steps)
		return st
	}
	e, err := events.New(events.Source{Country: "sn", Service: "node"}, feedtest.Project,
		&events.ProposalSubmitted{ProposalID: "sn-2026-01", Title: "Harmless-looking proposal", Body: maliciousBody},
		events.WithTime(base.Add(170*time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	steps = append(steps, feedtest.Step{Event: e, Received: base.Add(170 * time.Minute)})
	apply(t, st, 1, steps)
	return st
}

func TestBrowserProposalsBoard(t *testing.T) {
	ctx := feedtest.Browser(t)
	srv := newServer(t, feedhttp.New(boardStore(t, storyBase, true), feedhttp.WithGovernance(feedtest.BoardGovernance())))
	openCards := func(t *testing.T) []string {
		return feedtest.JS[[]string](t, ctx, `[...document.querySelectorAll("section.s-open article.card")].map(c => c.id.replace("proposal-", ""))`)
	}

	do(t, ctx, chromedp.Navigate(srv+"/proposals"), chromedp.WaitVisible(chromedp.CSS(".board")))
	// Images load (or fail) before the load event: an onerror would have
	// run by now.
	feedtest.WaitJS(t, ctx, "the board has loaded", `document.readyState === "complete"`)
	const title = "Proposals · dpihub coordinator feed"

	t.Run("a malicious body runs nothing and leaves no trace of its scripts", func(t *testing.T) {
		if got := feedtest.JS[string](t, ctx, `document.title`); got != title {
			t.Fatalf("title %q, want %q", got, title)
		}
		n := feedtest.JS[int](t, ctx, `document.querySelectorAll('.md script, .md img, .md svg, .md [onerror], .md [onload], a[href^="javascript" i]').length`)
		if n != 0 {
			t.Fatalf("%d dangerous elements in the rendered bodies", n)
		}
		// Opening it (by keyboard) shows its Markdown, still inert.
		do(t, ctx, chromedp.Focus(chromedp.CSS(`#proposal-sn-2026-01 .proposal-text summary`)), chromedp.KeyEvent("\r"))
		waitVisible(t, ctx, "the opened body shows its list", `#proposal-sn-2026-01 .md ul`)
		items := feedtest.JS[[]string](t, ctx, `[...document.querySelectorAll("#proposal-sn-2026-01 .md li")].map(e => e.textContent)`)
		if !slices.Equal(items, []string{"step one", "step two"}) {
			t.Fatalf("list items %q", items)
		}
		feedtest.WaitJS(t, ctx, "the opened body has loaded whatever it loads", `document.readyState === "complete"`)
		if got := feedtest.JS[string](t, ctx, `document.title`); got != title {
			t.Fatalf("title %q after opening the body", got)
		}
	})

	t.Run("a body's Markdown renders, its headings below the card's", func(t *testing.T) {
		do(t, ctx, chromedp.Click(chromedp.CSS(`#proposal-ph-2026-11 .proposal-text summary`)))
		waitVisible(t, ctx, "the opened body shows its headings", `#proposal-ph-2026-11 .md h5`)
		heads := feedtest.JS[[]string](t, ctx, `[...document.querySelectorAll("#proposal-ph-2026-11 .md h5")].map(e => e.textContent)`)
		if !slices.Equal(heads, []string{"Why", "What changes"}) {
			t.Fatalf("headings %q", heads)
		}
		if n := feedtest.JS[int](t, ctx, `document.querySelectorAll("#proposal-ph-2026-11 .md ul > li").length`); n != 3 {
			t.Fatalf("%d list items, want 3", n)
		}
		if s := feedtest.JS[string](t, ctx, `document.querySelector("#proposal-ph-2026-11 .md del").textContent`); s != "SMS notifications" {
			t.Fatalf("strikethrough %q", s)
		}
		if n := feedtest.JS[int](t, ctx, `document.querySelectorAll("#proposal-ph-2026-11 .md table td").length`); n != 4 {
			t.Fatalf("%d table cells, want 4", n)
		}
		if rel := feedtest.JS[string](t, ctx, `document.querySelector("#proposal-ph-2026-11 .md a").rel`); rel != "nofollow noopener" {
			t.Fatalf("link rel %q", rel)
		}
	})

	t.Run("the time left shows as text in a time element", func(t *testing.T) {
		want := map[string]string{"lk-2026-07": "3 days left", "ph-2026-11": "5 h 20 min left", "ke-2026-02": "deadline passed"}
		for id, text := range want {
			got := feedtest.JS[[]string](t, ctx, `(() => { const t = document.querySelector("#proposal-`+id+` .o-left time"); return t ? [t.textContent, t.dateTime] : []; })()`)
			if len(got) != 2 || got[0] != text {
				t.Errorf("%s: time left %q, want %q", id, got, text)
				continue
			}
			if _, err := time.Parse(time.RFC3339, got[1]); err != nil {
				t.Errorf("%s: datetime %q: %v", id, got[1], err)
			}
		}
		rules := feedtest.JS[string](t, ctx, `document.querySelector("#proposal-lk-2026-07 .o-rules dd").textContent`)
		if rules != feedtest.ProjectRules {
			t.Errorf("rules %q", rules)
		}
	})

	t.Run("votes by country read as words, and objections with their reasons are visible", func(t *testing.T) {
		votes := feedtest.JS[[]string](t, ctx, "("+readable+`)("#proposal-lk-2026-07 .by-country li")`)
		if want := []string{"MA endorses", "PH endorses", "KE objects"}; !slices.Equal(votes, want) {
			t.Fatalf("lk-2026-07 votes %q, want %q", votes, want)
		}
		// Kenya objected to ph-2026-11, then endorsed it: one vote.
		votes = feedtest.JS[[]string](t, ctx, "("+readable+`)("#proposal-ph-2026-11 .by-country li")`)
		if want := []string{"KE endorses", "LK endorses", "MA endorses"}; !slices.Equal(votes, want) {
			t.Fatalf("ph-2026-11 votes %q, want %q", votes, want)
		}
		waitVisible(t, ctx, "Kenya's reason shows without opening anything", `#proposal-lk-2026-07 .objection[data-country="ke"] .reason`)
		obj := feedtest.JS[[]string](t, ctx, "("+readable+`)('#proposal-lk-2026-07 .objection[data-country="ke"]')`)
		if len(obj) != 1 || !strings.Contains(obj[0], "widens the attack surface") || !strings.Contains(obj[0], "unanswered") {
			t.Fatalf("Kenya's objection reads %q", obj)
		}
	})

	t.Run("a link to a proposal opens its text", func(t *testing.T) {
		do(t, ctx, chromedp.Navigate(srv+"/proposals?project=mosip-id-repository#proposal-lk-2026-07"))
		waitVisible(t, ctx, "the linked proposal's text shows", `#proposal-lk-2026-07 .md p`)
		if n := feedtest.JS[int](t, ctx, `document.querySelectorAll("details.proposal-text[open]").length`); n != 1 {
			t.Fatalf("%d proposal texts open, want only the linked one", n)
		}
		do(t, ctx, chromedp.Navigate(srv+"/proposals"), chromedp.WaitVisible(chromedp.CSS(".board")))
	})

	t.Run("the sort links reorder the board, by keyboard", func(t *testing.T) {
		if got, want := openCards(t), []string{"ph-2026-11", "lk-2026-07", "sn-2026-01", "ke-2026-02"}; !slices.Equal(got, want) {
			t.Fatalf("by support: %q, want %q", got, want)
		}
		do(t, ctx, chromedp.Evaluate[chromedp.Void](`window.__before = true`),
			chromedp.Focus(chromedp.CSS(`.sort a[href$="sort=newest"]`)), chromedp.KeyEvent("\r"))
		feedtest.WaitJS(t, ctx, "the newest-first board loads", `!window.__before && document.readyState === "complete"`)
		if s := feedtest.JS[string](t, ctx, `location.search`); s != "?sort=newest" {
			t.Fatalf("location %q", s)
		}
		if got, want := openCards(t), []string{"sn-2026-01", "ke-2026-02", "ph-2026-11", "lk-2026-07"}; !slices.Equal(got, want) {
			t.Fatalf("by newest: %q, want %q", got, want)
		}
		if cur := feedtest.JS[string](t, ctx, `document.querySelector('.sort a[aria-current="true"]').textContent`); cur != "Newest" {
			t.Fatalf("current order %q", cur)
		}
		do(t, ctx, chromedp.Evaluate[chromedp.Void](`window.__before = true`), chromedp.Click(chromedp.CSS(`.sort a[href$="sort=support"]`)))
		feedtest.WaitJS(t, ctx, "the board by support loads", `!window.__before && document.readyState === "complete"`)
		if got := openCards(t); got[0] != "ph-2026-11" {
			t.Fatalf("by support again: %q", got)
		}
	})
}

// serveBoard, with -serve-board=ADDR, serves the board's sample (the
// story, the board's proposals, BoardGovernance) on
// ADDR until the test's deadline, for a look or a screenshot:
//
//	go test ./feedhttp -run TestServeBoard -serve-board 127.0.0.1:8099 -timeout 30m
//	chromium --headless --screenshot=board.png --window-size=1280,1000 http://127.0.0.1:8099/proposals
var serveBoard = flag.String("serve-board", "", "serve the proposals board's sample on this address until the test's deadline")

func TestServeBoard(t *testing.T) {
	if *serveBoard == "" {
		t.Skip("set -serve-board=ADDR to serve the board's sample")
	}
	ln, err := net.Listen("tcp", *serveBoard)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: feedhttp.New(boardStore(t, time.Now().UTC().Add(-3*time.Hour).Truncate(time.Minute), false),
		feedhttp.WithGovernance(feedtest.BoardGovernance()))}
	deadline, ok := t.Deadline()
	if !ok {
		deadline = time.Now().Add(time.Hour)
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline.Add(-5*time.Second))
	defer cancel()
	go func() { <-ctx.Done(); srv.Close() }()
	t.Logf("serving the board's sample on http://%s/proposals", ln.Addr())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		t.Fatal(err)
	}
}
