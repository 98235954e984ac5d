package assess

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/dpihub/dpihub/services/node/internal/gittest"
)

// testGit is gittest.Git (fixed identity, dates and a private HOME) with
// the short names these tests use.
type testGit struct {
	*gittest.Git
	tb testing.TB
}

func newTestGit(tb testing.TB) *testGit {
	tb.Helper()
	return &testGit{Git: gittest.New(tb), tb: tb}
}

func (g *testGit) exec(dir string, stdin []byte, extraEnv []string, args ...string) (stdout, stderr string, code int) {
	g.tb.Helper()
	return g.ExecEnv(dir, stdin, extraEnv, args...)
}

func (g *testGit) run(dir string, args ...string) string { g.tb.Helper(); return g.Run(dir, args...) }

func (g *testGit) write(dir string, files map[string]string) { g.tb.Helper(); g.Write(dir, files) }

func (g *testGit) commit(dir, msg string, files map[string]string) string {
	g.tb.Helper()
	return g.Commit(dir, msg, files)
}

// withIndex runs git with a temporary index holding the tree at ref, as
// `git apply --cached` needs, and returns its output and exit code.
func (g *testGit) withIndex(dir, ref string, stdin []byte, args ...string) (stdout, stderr string, code int) {
	g.tb.Helper()
	env := []string{"GIT_INDEX_FILE=" + filepath.Join(g.tb.TempDir(), "index")}
	if _, errOut, code := g.exec(dir, nil, env, "read-tree", ref); code != 0 {
		g.tb.Fatalf("git read-tree %s: %s", ref, errOut)
	}
	return g.exec(dir, stdin, env, args...)
}

var (
	lines = gittest.Lines
	edit  = gittest.Edit
)

// insert returns text with extra lines inserted before line n.
func insert(text string, n int, extra ...string) string {
	ls := strings.SplitAfter(text, "\n")
	out := append([]string{}, ls[:n-1]...)
	for _, e := range extra {
		out = append(out, e+"\n")
	}
	out = append(out, ls[n-1:]...)
	return strings.Join(out, "")
}
