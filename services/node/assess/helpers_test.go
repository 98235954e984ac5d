package assess

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// testGit runs the git command line for tests with a fixed identity, fixed
// dates, and a private HOME, so that repositories come out the same on
// every machine.
type testGit struct {
	tb  testing.TB
	env []string
}

func newTestGit(tb testing.TB) *testGit {
	tb.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		tb.Skip("git not installed")
	}
	home := tb.TempDir()
	config := "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n[gc]\n\tauto = 0\n"
	if err := os.WriteFile(filepath.Join(home, ".gitconfig"), []byte(config), 0o600); err != nil {
		tb.Fatal(err)
	}
	return &testGit{tb: tb, env: []string{
		"HOME=" + home,
		"PATH=" + os.Getenv("PATH"),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Amina Author",
		"GIT_AUTHOR_EMAIL=amina@example.org",
		"GIT_COMMITTER_NAME=Carlos Committer",
		"GIT_COMMITTER_EMAIL=carlos@example.org",
		"GIT_AUTHOR_DATE=2024-03-04T05:06:07Z",
		"GIT_COMMITTER_DATE=2024-03-04T05:06:07Z",
		"LC_ALL=C",
	}}
}

// exec runs git in dir and returns its output and exit code; extraEnv is
// added to the environment.
func (g *testGit) exec(dir string, stdin []byte, extraEnv []string, args ...string) (stdout, stderr string, code int) {
	g.tb.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(append([]string{}, g.env...), extraEnv...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		g.tb.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errb.String(), code
}

// run runs git in dir and fails the test if git fails.
func (g *testGit) run(dir string, args ...string) string {
	g.tb.Helper()
	out, errOut, code := g.exec(dir, nil, nil, args...)
	if code != 0 {
		g.tb.Fatalf("git %s in %s: exit %d: %s", strings.Join(args, " "), dir, code, errOut)
	}
	return strings.TrimSpace(out)
}

// write writes files (path -> content) under dir; an empty content with
// the path prefixed by "-" removes the file.
func (g *testGit) write(dir string, files map[string]string) {
	g.tb.Helper()
	for path, content := range files {
		if rest, ok := strings.CutPrefix(path, "-"); ok {
			if err := os.Remove(filepath.Join(dir, rest)); err != nil {
				g.tb.Fatal(err)
			}
			continue
		}
		full := filepath.Join(dir, path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			g.tb.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			g.tb.Fatal(err)
		}
	}
}

// commit writes files, commits everything and returns the commit id.
func (g *testGit) commit(dir, msg string, files map[string]string) string {
	g.tb.Helper()
	g.write(dir, files)
	g.run(dir, "add", "-A")
	g.run(dir, "commit", "-q", "--allow-empty", "-m", msg)
	return g.run(dir, "rev-parse", "HEAD")
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

// lines returns n numbered lines made by f, each ending in a newline.
func lines(n int, f func(i int) string) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		b.WriteString(f(i))
		b.WriteByte('\n')
	}
	return b.String()
}

// edit returns text with line n (1-based) replaced by repl (which may hold
// several lines or none).
func edit(text string, n int, repl ...string) string {
	ls := strings.SplitAfter(text, "\n")
	out := append([]string{}, ls[:n-1]...)
	for _, r := range repl {
		out = append(out, r+"\n")
	}
	out = append(out, ls[n:]...)
	return strings.Join(out, "")
}

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
