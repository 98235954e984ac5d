package feedhttp

import (
	"bytes"
	"html/template"
	"regexp"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// markdown turns a proposal's body, which its country writes in Markdown
// and anyone with a country's key can fill with anything, into HTML that
// is safe in a page. Three layers, so that no single bug lets a script
// run:
//
//   - goldmark renders GitHub-flavoured Markdown (tables, strikethrough,
//     bare URLs as links) in its safe mode: raw HTML is left out, and a
//     link to a javascript:, vbscript:, file: or data: URL (but images)
//     keeps no destination;
//   - bluemonday's policy for user content then keeps only harmless
//     elements and attributes (no script, style, iframe, form, no on*
//     attribute, no style attribute) and only http, https, mailto and
//     relative URLs;
//   - the page's Content-Security-Policy runs no inline script anyway.
//
// A body's headings move three levels down (# becomes <h4>), below the
// board's column (h2) and card (h3) headings, so that the page's outline
// stays the board's. Every link gets rel="nofollow noopener": the feed
// vouches for no link a country wrote.
type markdown struct {
	md     goldmark.Markdown
	policy *bluemonday.Policy
}

// headingShift is how many levels a body's headings move down.
const headingShift = 3

// linkRel is the rel of every link in a body.
const linkRel = "nofollow noopener"

func newMarkdown() *markdown {
	md := goldmark.New(
		goldmark.WithExtensions(
			// Alignment as an attribute: the page's CSP refuses style
			// attributes.
			extension.NewTable(extension.WithTableCellAlignMethod(extension.TableCellAlignAttribute)),
			extension.Strikethrough,
			extension.Linkify,
		),
		goldmark.WithParserOptions(parser.WithASTTransformers(util.Prioritized(bodyTransformer{}, 1000))),
	)
	p := bluemonday.UGCPolicy()
	p.AllowAttrs("rel").Matching(regexp.MustCompile(`^` + linkRel + `$`)).OnElements("a")
	p.RequireNoFollowOnLinks(true) // also on a link that lost its rel
	return &markdown{md: md, policy: p}
}

// render returns src as sanitised HTML. A body goldmark cannot render
// (it renders anything; this is for its writer's errors) shows as
// escaped text.
func (m *markdown) render(src string) template.HTML {
	var buf bytes.Buffer
	if err := m.md.Convert([]byte(src), &buf); err != nil {
		return template.HTML("<p>" + template.HTMLEscapeString(src) + "</p>")
	}
	return template.HTML(m.policy.SanitizeBytes(buf.Bytes()))
}

// bodyTransformer moves headings down and marks links, on the parsed
// tree: simpler and surer than rewriting HTML afterwards.
type bodyTransformer struct{}

func (bodyTransformer) Transform(doc *ast.Document, _ text.Reader, _ parser.Context) {
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Heading:
			n.Level = min(n.Level+headingShift, 6)
		case *ast.Link, *ast.AutoLink:
			n.SetAttributeString("rel", []byte(linkRel))
		}
		return ast.WalkContinue, nil
	})
}
