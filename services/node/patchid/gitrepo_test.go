package patchid

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// gitEnv is the environment for every git the tests run: fixed identities and
// dates so commit ids are reproducible, and no system or user configuration
// (in particular no patchid.stable) leaking in.
func gitEnv(home string) []string {
	return []string{
		"HOME=" + home,
		"PATH=" + os.Getenv("PATH"),
		"LC_ALL=C",
		"TZ=UTC",
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=" + filepath.Join(home, ".gitconfig"),
		"GIT_AUTHOR_NAME=A U Thor",
		"GIT_AUTHOR_EMAIL=author@example.com",
		"GIT_AUTHOR_DATE=2005-04-07T22:13:13Z",
		"GIT_COMMITTER_NAME=C O Mitter",
		"GIT_COMMITTER_EMAIL=committer@example.com",
		"GIT_COMMITTER_DATE=2005-04-07T22:13:13Z",
	}
}

// requireGit skips the test when no git binary is installed.
func requireGit(tb testing.TB) {
	tb.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		tb.Skip("git not installed")
	}
}

// repo is a throw-away git repository for building test histories.
type repo struct {
	tb   testing.TB
	dir  string
	home string
}

func newRepo(tb testing.TB) *repo {
	tb.Helper()
	requireGit(tb)
	root := tb.TempDir()
	r := &repo{tb: tb, dir: filepath.Join(root, "repo"), home: filepath.Join(root, "home")}
	for _, d := range []string{r.dir, r.home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	r.git("-c", "init.defaultBranch=main", "init", "-q")
	return r
}

// git runs git in the repository and returns its standard output.
func (r *repo) git(args ...string) []byte {
	r.tb.Helper()
	return runGit(r.tb, r.dir, r.home, nil, args...)
}

// write creates or replaces a file, making parent directories.
func (r *repo) write(name, content string) {
	r.tb.Helper()
	p := filepath.Join(r.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.tb.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		r.tb.Fatal(err)
	}
}

// commit stages everything and commits it.
func (r *repo) commit(msg string, extra ...string) {
	r.tb.Helper()
	r.git("add", "-A")
	r.git(append([]string{"commit", "-q", "-m", msg}, extra...)...)
}

// runGit runs git with the fixed environment, feeding stdin if not nil.
func runGit(tb testing.TB, dir, home string, stdin []byte, args ...string) []byte {
	tb.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = gitEnv(home)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("git %q: %v\n%s", args, err, stderr.Bytes())
	}
	return out
}

// gitPatchID runs `git patch-id` with the flag that matches opts.
func gitPatchID(tb testing.TB, home string, input []byte, opts Options) []byte {
	tb.Helper()
	return runGit(tb, home, home, input, "patch-id", modeFlag(opts))
}

func modeFlag(opts Options) string {
	switch {
	case opts.Verbatim:
		return "--verbatim"
	case opts.Stable:
		return "--stable"
	default:
		return "--unstable"
	}
}

// ours runs Write on input.
func ours(tb testing.TB, input []byte, opts Options) []byte {
	tb.Helper()
	var out bytes.Buffer
	if err := Write(&out, bytes.NewReader(input), opts); err != nil {
		tb.Fatalf("Write: %v", err)
	}
	return out.Bytes()
}

// allModes are the three algorithms git patch-id offers.
var allModes = []Options{{}, {Stable: true}, {Verbatim: true}}
