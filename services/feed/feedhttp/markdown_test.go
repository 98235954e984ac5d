package feedhttp_test

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/dpihub/dpihub/services/feed/feedhttp"
)

func TestMarkdownBodiesRender(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string // tag: text, in document order
	}{
		{"headings move below the card's h3", "# Title\n\n## Need\n\n### Detail\n\n#### Deeper", []string{"h4: Title", "h5: Need", "h6: Detail", "h6: Deeper"}},
		{"lists", "- one\n- two\n\n1. first", []string{"ul: one two", "li: one", "li: two", "ol: first", "li: first"}},
		{"emphasis, code and strikethrough", "**strong** _em_ `code` ~~gone~~", []string{"p: strong em code gone", "strong: strong", "em: em", "code: code", "del: gone"}},
		{"a table", "| a | b |\n|:--|--:|\n| 1 | 2 |", []string{"table: a b 1 2", "thead: a b", "tr: a b", "th: a", "th: b", "tbody: 1 2", "tr: 1 2", "td: 1", "td: 2"}},
		{"links, bare URLs and autolinks", "[docs](https://docs.mosip.io) https://example.org <https://a.example/x> [board](/proposals)",
			[]string{"p: docs https://example.org https://a.example/x board", "a: docs", "a: https://example.org", "a: https://a.example/x", "a: board"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := feedhttp.RenderMarkdown(tc.src)
			var got []string
			for _, e := range elements(t, []byte(out)) {
				if !slices.Contains([]string{"html", "head", "body"}, e.tag) {
					got = append(got, e.tag+": "+e.text)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("%q renders\n%s\n got %q\nwant %q", tc.src, out, got, tc.want)
			}
			checkInert(t, out)
		})
	}
	t.Run("every link is nofollow noopener", func(t *testing.T) {
		out := feedhttp.RenderMarkdown("[a](https://a.example) https://b.example <https://c.example> [d](/proposals) <me@example.org>")
		n := 0
		for _, e := range elements(t, []byte(out)) {
			if e.tag == "a" {
				n++
				if e.attrs["rel"] != "nofollow noopener" {
					t.Errorf("link %q has rel %q", e.attrs["href"], e.attrs["rel"])
				}
			}
		}
		if n != 5 {
			t.Fatalf("%d links in %s", n, out)
		}
	})
}

// The bodies of proposals come from any country's node: whatever a body
// holds, what the board shows of it runs nothing.
func TestMarkdownBodiesAreInert(t *testing.T) {
	tests := []struct {
		name, src string
		keep      string // text that still shows, if any
	}{
		{"a script element", "<script>document.title='pwned'</script>", ""},
		{"a script inside a paragraph", "before <script>alert(1)</script> after", "before"},
		{"an image with onerror", `<img src=x onerror="document.title='pwned'">`, ""},
		{"an inline element with an event handler", `hi <b onclick="alert(1)">there</b>`, "hi"},
		{"an svg with onload", `<svg onload="alert(1)"><circle r="4"/></svg>`, ""},
		{"an iframe", `<iframe src="https://evil.example"></iframe>`, ""},
		{"a style element", "<style>body{display:none}</style>", ""},
		{"a style attribute", `<p style="position:fixed;inset:0">cover</p>`, ""},
		{"a form", `<form action="https://evil.example"><input name=x><button>go</button></form>`, ""},
		{"a meta refresh", `<meta http-equiv="refresh" content="0;url=https://evil.example">`, ""},
		{"a raw javascript: link", `<a href="javascript:alert(1)">click</a>`, ""},
		{"a Markdown javascript: link", "[click](javascript:alert(1))", "click"},
		{"a javascript: link in mixed case", "[click](JaVaScRiPt:alert(1))", "click"},
		{"a javascript: link behind an entity", "[click](&#106;avascript:alert(1))", "click"},
		{"a javascript: link behind a tab", "[click](java\tscript:alert(1))", ""},
		{"a javascript: autolink", "<javascript:alert(1)>", ""},
		{"a vbscript: link", "[click](vbscript:msgbox(1))", "click"},
		{"a data: link", "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)", "click"},
		{"a javascript: image", "![x](javascript:alert(1))", ""},
		{"an image title that tries to close its attribute", `![x](/a.png "t\" onerror=\"alert(1)")`, ""},
		{"a link title that tries to close its attribute", `[x](/a "t\" onmouseover=\"alert(1)")`, "x"},
		{"an HTML comment that hides a script", "<!-- --><script>alert(1)</script><!-- -->", ""},
		{"a raw HTML block", "<div onmouseover=\"alert(1)\">\n\n**bold**\n\n</div>", "bold"},
		{"an object", `<object data="https://evil.example/x.swf"></object>`, ""},
		{"a base element", `<base href="https://evil.example/">`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := feedhttp.RenderMarkdown(tc.src)
			checkInert(t, out)
			if tc.keep != "" && !strings.Contains(out, tc.keep) {
				t.Errorf("%q lost its text %q: %s", tc.src, tc.keep, out)
			}
		})
	}
}

// checkInert fails the test unless out is HTML that can run nothing: no
// element but harmless ones, no event handler or style attribute, no URL
// but http, https, mailto and relative ones.
func checkInert(t *testing.T, out string) {
	t.Helper()
	banned := []string{"script", "style", "iframe", "frame", "object", "embed", "svg", "math", "form", "input", "button", "meta", "link", "base", "template"}
	for _, e := range elements(t, []byte(out)) {
		if slices.Contains(banned, e.tag) {
			t.Errorf("element <%s> in %s", e.tag, out)
		}
		for k, v := range e.attrs {
			if strings.HasPrefix(k, "on") || k == "style" || k == "srcdoc" || k == "formaction" {
				t.Errorf("attribute %s=%q on <%s> in %s", k, v, e.tag, out)
			}
			if k == "href" || k == "src" || k == "action" || k == "cite" {
				u, err := url.Parse(v)
				if err != nil {
					t.Errorf("%s=%q does not parse: %s", k, v, out)
					continue
				}
				if s := strings.ToLower(u.Scheme); s != "" && s != "http" && s != "https" && s != "mailto" {
					t.Errorf("%s=%q, of scheme %q, in %s", k, v, s, out)
				}
			}
		}
	}
}
