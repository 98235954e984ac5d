package feedhttp_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/services/feed/feedhttp"
	"github.com/dpihub/dpihub/services/feed/feedhttp/feedtest"
)

// bigDiff is a diff of one file with n added lines.
func bigDiff(n int) string {
	var b strings.Builder
	b.WriteString("diff --git a/big.go b/big.go\nindex 1111111..2222222 100644\n--- a/big.go\n+++ b/big.go\n")
	fmt.Fprintf(&b, "@@ -1,2 +1,%d @@\n package big\n-var x = 1\n", n+1)
	for i := range n {
		fmt.Fprintf(&b, "+var x%d = %d // <script>alert(1)</script>\n", i, i)
	}
	return b.String()
}

// fixPageServer is the story plus a fix (sn-fix-0001) whose diff is
// 3,000 lines, naming two CVEs, with the same patch-id as the story's
// ma-fix-0042.
func fixPageServer(t testing.TB) (string, []feedtest.Step) {
	t.Helper()
	st := openStore(t)
	steps := story(t, storyBase)
	var maPatch string
	for _, s := range steps {
		if p, err := events.DecodeValue(s.Event); err == nil {
			if fp, ok := p.(events.FixPublished); ok && fp.FixID == "ma-fix-0042" {
				maPatch = fp.PatchID
			}
		}
	}
	at := storyBase.Add(3 * time.Hour)
	e, err := events.New(events.Source{Country: "sn", Service: "node"}, feedtest.Project, events.FixPublished{
		FixID: "sn-fix-0001", Title: "Check every big value", Message: "Check every big value\n\nThe values were <b>unchecked</b>.\n\nSigned-off-by: Dev SN <dev@ospo.gov.sn>",
		Author: events.Person{Name: "Dev SN", Email: "dev@ospo.gov.sn"}, Commit: strings.Repeat("a", 40), UpstreamBase: strings.Repeat("b", 40),
		PatchID: maPatch, Files: []string{"big.go"}, Diff: bigDiff(3000),
		References: &events.References{CVEs: []string{"CVE-2025-11111", "CVE-2024-22222"}},
	}, events.WithTime(at))
	if err != nil {
		t.Fatal(err)
	}
	steps = append(steps, feedtest.Step{Event: e, Received: at})
	apply(t, st, 1, steps)
	return newServer(t, feedhttp.New(st)), steps
}

func TestFixPageHasItsContent(t *testing.T) {
	srv, _ := fixPageServer(t)
	get := func(t *testing.T, path string) (*http.Response, string) {
		t.Helper()
		res, err := http.Get(srv + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	t.Run("the page shows the message, the CVEs, the same change elsewhere and a truncated diff", func(t *testing.T) {
		res, page := get(t, "/fixes/sn-fix-0001")
		if res.StatusCode != 200 {
			t.Fatalf("status %d", res.StatusCode)
		}
		for _, want := range []string{
			"The values were &lt;b&gt;unchecked&lt;/b&gt;.", "Signed-off-by: Dev SN",
			`href="https://www.cve.org/CVERecord?id=CVE-2025-11111"`, "CVE-2024-22222",
			`<a href="/fixes/ma-fix-0042">ma-fix-0042</a>`,
			"<span class=\"df\">diff --git a/big.go b/big.go\n</span>", "<span class=\"dd\">-var x = 1\n</span>",
			"<span class=\"da\">+var x0 = 0 // &lt;script&gt;alert(1)&lt;/script&gt;\n</span>",
			`id="diff-truncated"`, `href="/fixes/sn-fix-0001/patch"`, "3000 added",
		} {
			if !strings.Contains(page, want) {
				t.Errorf("the page lacks %q", want)
			}
		}
		if n := strings.Count(page, `<span class="da">`); n != feedhttp.DiffMaxLines-7 {
			t.Errorf("%d added lines shown, want the first %d lines of the diff", n, feedhttp.DiffMaxLines)
		}
		if strings.Contains(page, "<script>alert") {
			t.Error("the diff's text reaches the page as markup")
		}
	})
	t.Run("the raw patch is the whole of it, as git format-patch writes it", func(t *testing.T) {
		res, patch := get(t, "/fixes/sn-fix-0001/patch")
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Fatalf("%d %s", res.StatusCode, res.Header.Get("Content-Type"))
		}
		if !strings.HasPrefix(patch, "From "+strings.Repeat("a", 40)+" Mon Sep 17 00:00:00 2001\nFrom: Dev SN <dev@ospo.gov.sn>\n") ||
			!strings.Contains(patch, "Subject: [PATCH] Check every big value\n\nThe values were <b>unchecked</b>.") ||
			!strings.HasSuffix(patch, "---\n"+bigDiff(3000)) {
			t.Fatalf("patch:\n%.600s", patch)
		}
		if res, _ := get(t, "/fixes/nope/patch"); res.StatusCode != 404 {
			t.Fatalf("unknown fix: %d", res.StatusCode)
		}
	})
	t.Run("only the fix's own API carries its body; lists do not", func(t *testing.T) {
		_, one := get(t, "/api/v1/fixes/sn-fix-0001")
		if !strings.Contains(one, `"message":"Check every big value`) || !strings.Contains(one, `"diff":"diff --git`) || !strings.Contains(one, `"same_patch":[{"id":"ma-fix-0042"`) {
			t.Fatalf("the fix's API lacks its content: %.300s", one)
		}
		for _, list := range []string{"/api/v1/fixes", "/api/v1/matrix", "/matrix", "/countries/ke/lacking", "/api/v1/countries/ke/lacking"} {
			if _, b := get(t, list); strings.Contains(b, "diff --git") || strings.Contains(b, "unchecked") {
				t.Errorf("%s inlines a body", list)
			}
		}
	})
}

func TestBrowserFixPageHighlightsTheDiff(t *testing.T) {
	srv, _ := fixPageServer(t)
	ctx := feedtest.Browser(t)
	do(t, ctx, chromedp.Navigate(srv+"/fixes/sn-fix-0001"), chromedp.WaitVisible(chromedp.CSS("#diff")))
	colour := func(sel string) string {
		return feedtest.JS[string](t, ctx, `getComputedStyle(document.querySelector(`+fmt.Sprintf("%q", sel)+`)).backgroundColor`)
	}
	add, del, hunk := colour("#diff .da"), colour("#diff .dd"), colour("#diff .dh")
	if add == del || add == hunk || del == hunk {
		t.Fatalf("added %s, deleted %s and hunk %s lines look alike", add, del, hunk)
	}
	// The lines keep their +, - and @@: they read without the colours.
	if first := feedtest.JS[string](t, ctx, `document.querySelector("#diff .da").textContent`); !strings.HasPrefix(first, "+") {
		t.Fatalf("an added line reads %q", first)
	}
	do(t, ctx, chromedp.Evaluate[chromedp.Void](`window.__before = true`), chromedp.Click(chromedp.CSS("#diff-truncated a")))
	feedtest.WaitJS(t, ctx, "the raw patch loads", `!window.__before && document.readyState === "complete"`)
	if got := feedtest.JS[string](t, ctx, `document.body.innerText.slice(-80)`); !strings.HasSuffix(strings.TrimSpace(got), "+var x2999 = 2999 // <script>alert(1)</script>") {
		t.Fatalf("the raw patch ends %q", got)
	}
}
