// Package gittest makes real git repositories for tests, with a fixed
// identity, fixed dates and a private HOME, so that commit ids come out
// the same on every machine.
package gittest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Git runs the git command line for one test.
type Git struct {
	tb  testing.TB
	env []string
}

// New returns a Git for tb; the test is skipped when git is missing.
func New(tb testing.TB) *Git {
	tb.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		tb.Skip("git not installed")
	}
	home := tb.TempDir()
	config := "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n[gc]\n\tauto = 0\n"
	if err := os.WriteFile(filepath.Join(home, ".gitconfig"), []byte(config), 0o600); err != nil {
		tb.Fatal(err)
	}
	return &Git{tb: tb, env: []string{
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

// Exec runs git in dir with stdin (nil: none) and returns its output and
// exit code.
func (g *Git) Exec(dir string, stdin []byte, args ...string) (stdout, stderr string, code int) {
	g.tb.Helper()
	return g.ExecEnv(dir, stdin, nil, args...)
}

// ExecEnv is Exec with extraEnv added to the environment (e.g.
// GIT_INDEX_FILE for a temporary index).
func (g *Git) ExecEnv(dir string, stdin []byte, extraEnv []string, args ...string) (stdout, stderr string, code int) {
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
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		g.tb.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errb.String(), code
}

// Run runs git in dir, fails the test if git fails, and returns its
// output, trimmed.
func (g *Git) Run(dir string, args ...string) string {
	g.tb.Helper()
	out, errOut, code := g.Exec(dir, nil, args...)
	if code != 0 {
		g.tb.Fatalf("git %s in %s: exit %d: %s", strings.Join(args, " "), dir, code, errOut)
	}
	return strings.TrimSpace(out)
}

// RunStdin is Run with stdin.
func (g *Git) RunStdin(dir string, stdin []byte, args ...string) string {
	g.tb.Helper()
	out, errOut, code := g.Exec(dir, stdin, args...)
	if code != 0 {
		g.tb.Fatalf("git %s in %s: exit %d: %s", strings.Join(args, " "), dir, code, errOut)
	}
	return strings.TrimSpace(out)
}

// Write writes files (path -> content) under dir; a path prefixed by "-"
// removes that file instead.
func (g *Git) Write(dir string, files map[string]string) {
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

// Commit writes files, commits everything with msg and returns the commit
// id.
func (g *Git) Commit(dir, msg string, files map[string]string) string {
	g.tb.Helper()
	g.Write(dir, files)
	g.Run(dir, "add", "-A")
	g.Run(dir, "commit", "-q", "--allow-empty", "-m", msg)
	return g.Run(dir, "rev-parse", "HEAD")
}

// Init makes an empty repository in a new temp dir with branch main.
func (g *Git) Init() string {
	g.tb.Helper()
	dir := g.tb.TempDir()
	g.Run(dir, "init", "-q", "-b", "main")
	return dir
}

// Clone clones src into a new temp dir and checks out a new branch.
func (g *Git) Clone(src, branch string) string {
	g.tb.Helper()
	dir := filepath.Join(g.tb.TempDir(), "fork")
	g.Run(src, "clone", "-q", src, dir)
	if branch != "" && branch != "main" {
		g.Run(dir, "checkout", "-q", "-b", branch)
	}
	return dir
}

// Lines returns n numbered lines made by f, each ending in a newline.
func Lines(n int, f func(i int) string) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		b.WriteString(f(i))
		b.WriteByte('\n')
	}
	return b.String()
}

// Edit returns text with line n (1-based) replaced by repl.
func Edit(text string, n int, repl ...string) string {
	ls := strings.SplitAfter(text, "\n")
	out := append([]string{}, ls[:n-1]...)
	for _, r := range repl {
		out = append(out, r+"\n")
	}
	out = append(out, ls[n:]...)
	return strings.Join(out, "")
}
