package gitfork

import (
	"bytes"
	"context"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/bluekeyes/go-gitdiff/gitdiff"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/services/node"
	"github.com/dpihub/dpihub/services/node/patchid"
)

// Fix reads commit rev of the repository dir and returns it as a fix
// payload: title, message, author, the commit id, the upstream base (the
// merge-base of the commit and upstreamRef), the diff exactly as
// `git format-patch -1 --stdout --no-signature` writes it (so that it feeds
// `git am` and package assess as it is), its stable patch-id, the files it
// touches and the references its message names. FixID is left empty for
// the caller to set. The diff is always set inline; the caller moves a
// large one to the object store.
//
// Errors wrap node.ErrInvalid for a revision that names no commit, a merge
// commit or a commit without changes.
func Fix(ctx context.Context, dir, upstreamRef, rev string) (events.FixPublished, error) {
	fp, err := fix(ctx, dir, upstreamRef, rev)
	if err != nil {
		return events.FixPublished{}, fmt.Errorf("read fix %s: %w", rev, err)
	}
	return fp, nil
}

func fix(ctx context.Context, dir, upstreamRef, rev string) (events.FixPublished, error) {
	if err := checkRepo(ctx, dir); err != nil {
		return events.FixPublished{}, err
	}
	commit, err := resolve(ctx, dir, rev)
	if err != nil {
		return events.FixPublished{}, err
	}
	parents, err := git(ctx, dir, "rev-list", "--parents", "-n", "1", commit)
	if err != nil {
		return events.FixPublished{}, err
	}
	if n := len(strings.Fields(string(parents))) - 1; n > 1 {
		return events.FixPublished{}, node.Invalid("%s is a merge commit; publish the commits it merges", commit)
	}
	meta, err := git(ctx, dir, "show", "-s", "--format=%an%x00%ae%x00%s%x00%B", commit)
	if err != nil {
		return events.FixPublished{}, err
	}
	parts := strings.SplitN(string(meta), "\x00", 4)
	if len(parts) != 4 {
		return events.FixPublished{}, fmt.Errorf("git show printed %d fields, want 4", len(parts))
	}
	diff, err := git(ctx, dir, "format-patch", "-1", "--stdout", "--no-signature", "--no-color",
		"--no-ext-diff", "--binary", "--full-index", "--src-prefix=a/", "--dst-prefix=b/", "--no-base", commit)
	if err != nil {
		return events.FixPublished{}, err
	}
	id, ok, err := patchid.Of(diff)
	if err != nil {
		return events.FixPublished{}, err
	}
	if !ok {
		return events.FixPublished{}, node.Invalid("commit %s changes nothing", commit)
	}
	files, err := Files(diff)
	if err != nil {
		return events.FixPublished{}, err
	}
	base := ""
	if up, err := resolve(ctx, dir, upstreamRef); err == nil {
		if base, err = MergeBase(ctx, dir, up, commit); err != nil {
			return events.FixPublished{}, err
		}
	} else {
		return events.FixPublished{}, fmt.Errorf("upstream ref: %w", err)
	}
	fp := events.FixPublished{
		Title:        sanitizeLine(parts[2], 256),
		Message:      body(parts[3]),
		Author:       events.Person{Name: sanitizeLine(parts[0], 256)},
		Commit:       commit,
		UpstreamBase: base,
		PatchID:      id,
		Files:        files,
		Diff:         string(diff),
		References:   ParseReferences(parts[3]),
	}
	if fp.Title == "" {
		fp.Title = "(no title)"
	}
	if fp.Author.Name == "" {
		fp.Author.Name = "(unknown)"
	}
	if a, err := mail.ParseAddress(parts[1]); err == nil && a.Address == parts[1] && len(parts[1]) <= 320 {
		fp.Author.Email = parts[1]
	}
	return fp, nil
}

// body returns the commit message without its first paragraph (the
// title), or "" when nothing remains.
func body(msg string) string {
	_, rest, ok := strings.Cut(strings.ReplaceAll(msg, "\r\n", "\n"), "\n\n")
	if !ok {
		return ""
	}
	rest = strings.TrimSpace(rest)
	if len(rest) > 65536 {
		rest = truncateUTF8(rest, 65536)
	}
	return rest
}

// sanitizeLine makes s one line of at most n bytes.
func sanitizeLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	return truncateUTF8(s, n)
}

func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// Files returns the paths a diff touches, old and new names, each once, in
// patch order. Errors wrap node.ErrInvalid.
func Files(diff []byte) (files []string, err error) {
	defer func() {
		if p := recover(); p != nil {
			files, err = nil, node.Invalid("diff parser failed: %v", p)
		}
	}()
	parsed, _, perr := gitdiff.Parse(bytes.NewReader(diff))
	if perr != nil {
		return nil, node.Invalid("diff: %v", perr)
	}
	seen := map[string]bool{}
	for _, f := range parsed {
		for _, p := range []string{f.OldName, f.NewName} {
			if p != "" && !seen[p] {
				seen[p] = true
				files = append(files, p)
			}
		}
	}
	if len(files) == 0 {
		return nil, node.Invalid("diff changes no file")
	}
	return files, nil
}

// fromLine is the first line `git format-patch` writes for a commit.
var fromLine = regexp.MustCompile(`^From [0-9a-f]{40,64} Mon Sep 17 00:00:00 2001\n`)

// Mbox returns fix as a `git am`-ready mbox. A diff that is already
// `git format-patch` output (as nodes publish them) is returned as it is;
// a bare diff gets mail headers made from the payload.
func Mbox(fix events.FixPublished, diff []byte) []byte {
	if fromLine.Match(diff) {
		if !bytes.HasSuffix(diff, []byte("\n")) {
			diff = append(append([]byte{}, diff...), '\n')
		}
		return diff
	}
	var b bytes.Buffer
	commit := fix.Commit
	if commit == "" {
		commit = strings.Repeat("0", 40)
	}
	fmt.Fprintf(&b, "From %s Mon Sep 17 00:00:00 2001\n", commit)
	from := mail.Address{Name: fix.Author.Name, Address: fix.Author.Email}
	if fix.Author.Email == "" {
		from.Address = "unknown@invalid"
	}
	fmt.Fprintf(&b, "From: %s\n", from.String())
	fmt.Fprintf(&b, "Subject: [PATCH] %s\n", sanitizeLine(fix.Title, 1000))
	b.WriteString("MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n\n")
	if fix.Message != "" {
		b.WriteString(strings.TrimRight(fix.Message, "\n"))
		b.WriteString("\n")
	}
	b.WriteString("---\n")
	b.Write(diff)
	if !bytes.HasSuffix(diff, []byte("\n")) {
		b.WriteByte('\n')
	}
	return b.Bytes()
}
