package assess

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dpihub/dpihub/events"
)

// benchFork builds, with `git fast-import`, a repository holding an upstream
// base of 200 files, an upstream fix on branch "upstream" (two hunks in one
// file), and a fork branch "fork" of 10,000 commits on the base, each
// appending a line to one file. The fix applies to the fork and is not in
// it: the slowest case, since the whole fork history must be searched. It
// returns the work tree (checked out at fork) and the fix as
// `format-patch --base` writes it, and without a base.
func benchFork(b *testing.B, g *testGit, commits int) (dir string, patch, patchNoBase []byte) {
	b.Helper()
	dir = filepath.Join(b.TempDir(), "fork")
	g.run(filepath.Dir(dir), "init", "-q", dir)

	const nfiles = 200
	files := make([]string, nfiles)
	for i := range files {
		files[i] = lines(60, func(l int) string { return fmt.Sprintf("module %03d line %02d: value = %d", i, l, i*l) })
	}
	var s bytes.Buffer
	when := 1700000000
	commit := func(ref, mark, from, msg string, changed map[string]string) {
		when++
		fmt.Fprintf(&s, "commit %s\nmark %s\ncommitter Bench <bench@example.org> %d +0000\ndata %d\n%s\n", ref, mark, when, len(msg), msg)
		if from != "" {
			fmt.Fprintf(&s, "from %s\n", from)
		}
		for path, content := range changed {
			fmt.Fprintf(&s, "M 100644 inline %s\ndata %d\n%s\n", path, len(content), content)
		}
	}
	all := make(map[string]string, nfiles)
	for i, f := range files {
		all[fmt.Sprintf("pkg/m%03d.txt", i)] = f
	}
	commit("refs/heads/base", ":1", "", "Initial import", all)
	fixed := edit(edit(files[7], 20, "module 007 line 20: value = guard(140)"), 40, "module 007 line 40: value = guard(280)")
	commit("refs/heads/upstream", ":2", ":1", "Guard module 7", map[string]string{"pkg/m007.txt": fixed})
	for k := 0; k < commits; k++ {
		i := (k * 7919) % nfiles
		files[i] += fmt.Sprintf("fork change %d\n", k)
		from := ""
		if k == 0 {
			from = ":1"
		}
		commit("refs/heads/fork", fmt.Sprintf(":%d", k+3), from, fmt.Sprintf("Fork change %d", k), map[string]string{fmt.Sprintf("pkg/m%03d.txt", i): files[i]})
	}
	if _, errOut, code := g.exec(dir, s.Bytes(), nil, "fast-import", "--quiet"); code != 0 {
		b.Fatalf("git fast-import: %s", errOut)
	}
	g.run(dir, "checkout", "-q", "-f", "fork")
	base := g.run(dir, "rev-parse", "base")
	patch = []byte(g.run(dir, "format-patch", "-1", "--stdout", "--base="+base, "upstream") + "\n")
	patchNoBase = []byte(g.run(dir, "format-patch", "-1", "--stdout", "upstream") + "\n")
	return dir, patch, patchNoBase
}

// BenchmarkAssess compares assessing one fix against a fork of 10,000
// commits with what the git command line needs for the same answer:
// `git cherry` (is an equivalent commit in the fork?) and
// `git apply --check` (does it apply?).
func BenchmarkAssess(b *testing.B) {
	g := newTestGit(b)
	dir, patch, patchNoBase := benchFork(b, g, 10000)
	patchFile := filepath.Join(b.TempDir(), "fix.patch")
	if err := os.WriteFile(patchFile, patch, 0o644); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()

	ours := func(patch []byte) func(b *testing.B) {
		return func(b *testing.B) {
			for b.Loop() {
				res, err := Assess(ctx, dir, "fork", patch)
				if err != nil {
					b.Fatal(err)
				}
				if res.Verdict != events.VerdictApplies {
					b.Fatalf("verdict %q, want applies", res.Verdict)
				}
			}
		}
	}
	b.Run("ours", ours(patch))
	b.Run("ours-without-base", ours(patchNoBase))
	b.Run("git", func(b *testing.B) {
		for b.Loop() {
			if out := g.run(dir, "cherry", "fork", "upstream", "upstream^"); !strings.HasPrefix(out, "+ ") {
				b.Fatalf("git cherry: %q, want the fix not in the fork", out)
			}
			g.run(dir, "apply", "--check", patchFile)
		}
	})
}
