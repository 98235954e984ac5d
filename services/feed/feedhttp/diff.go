package feedhttp

import (
	"fmt"
	"html"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/dpihub/dpihub/events/problem"
	"github.com/dpihub/dpihub/services/feed"
)

// A fix's page shows its diff up to these limits; past them it shows
// the first lines and links to the raw patch.
const (
	DiffMaxLines = 600
	DiffMaxBytes = 64 << 10
)

// renderedDiff is a unified diff as HTML: one span per line, classed by
// what the line is, so that additions, deletions, hunk headers and file
// headers read apart (and, for those who do not see the colours, keep
// their leading +, - and @@).
type renderedDiff struct {
	HTML      template.HTML
	Lines     int // lines shown
	Total     int // lines in the diff
	Truncated bool
	Files     int
	Added     int
	Deleted   int
}

// renderDiff renders diff, at most DiffMaxLines lines and DiffMaxBytes
// bytes of it; the counts are over the whole diff.
func renderDiff(diff string) renderedDiff {
	var (
		d      renderedDiff
		b      strings.Builder
		inHunk bool
	)
	lines := strings.Split(strings.TrimSuffix(diff, "\n"), "\n")
	d.Total = len(lines)
	for _, l := range lines {
		cls := ""
		switch {
		case strings.HasPrefix(l, "diff --git "):
			cls, inHunk = "df", false
			d.Files++
		case strings.HasPrefix(l, "@@"):
			cls, inHunk = "dh", true
		case !inHunk:
			cls = "dm" // index, ---, +++, mode lines
		case strings.HasPrefix(l, "+"):
			cls = "da"
			d.Added++
		case strings.HasPrefix(l, "-"):
			cls = "dd"
			d.Deleted++
		case strings.HasPrefix(l, `\`):
			cls = "dm"
		}
		if d.Truncated || d.Lines >= DiffMaxLines || b.Len()+len(l) > DiffMaxBytes {
			d.Truncated = true
			continue
		}
		if cls == "" {
			b.WriteString("<span>")
		} else {
			b.WriteString(`<span class="` + cls + `">`)
		}
		b.WriteString(html.EscapeString(l))
		// The line break inside the span: a block's last break makes no
		// empty line, and the text still breaks without the style sheet.
		b.WriteString("\n</span>")
		d.Lines++
	}
	d.HTML = template.HTML(b.String())
	return d
}

// patchText is the fix as git format-patch writes a commit, so that
// `git am` applies it: its headers, message and diff.
func patchText(f feed.Fix, c feed.FixContent) string {
	var b strings.Builder
	commit := c.Commit
	if commit == "" {
		commit = strings.Repeat("0", 40)
	}
	fmt.Fprintf(&b, "From %s Mon Sep 17 00:00:00 2001\n", commit)
	if c.Author.Email != "" {
		fmt.Fprintf(&b, "From: %s <%s>\n", c.Author.Name, c.Author.Email)
	} else {
		fmt.Fprintf(&b, "From: %s\n", c.Author.Name)
	}
	fmt.Fprintf(&b, "Date: %s\n", f.Published.UTC().Format(time.RFC1123Z))
	_, body, _ := strings.Cut(c.Message, "\n")
	fmt.Fprintf(&b, "Subject: [PATCH] %s\n\n", f.Title)
	if body = strings.TrimSpace(body); body != "" {
		b.WriteString(body + "\n")
	}
	b.WriteString("---\n")
	b.WriteString(c.Diff)
	if !strings.HasSuffix(c.Diff, "\n") {
		b.WriteString("\n")
	}
	return b.String()
}

func (s *server) rawPatch(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	f, err := s.st.Fix(r.Context(), id)
	var c feed.FixContent
	if err == nil {
		c, err = s.st.FixContent(r.Context(), id)
	}
	if err != nil {
		s.apiFixFail(w, r, err)
		return
	}
	if c.Diff == "" {
		detail := fmt.Sprintf("fix %q carries no diff", id)
		if c.DiffRef != nil {
			detail = fmt.Sprintf("the diff of fix %q is in the hub's object store: bucket %s, object %s", id, c.DiffRef.Bucket, c.DiffRef.Object)
		}
		problem.Write(w, r, problem.New(http.StatusNotFound, problem.TypeNotFound, detail))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`inline; filename="%s.patch"`, strings.ReplaceAll(id, `"`, "")))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write([]byte(patchText(f, c)))
}
