package cli_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dpihub/dpihub/events/access"
)

func git(t *testing.T, dir string, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir,
		"GIT_AUTHOR_NAME=A", "GIT_AUTHOR_EMAIL=a@example.org", "GIT_AUTHOR_DATE=2026-01-01T00:00:00Z",
		"GIT_COMMITTER_NAME=A", "GIT_COMMITTER_EMAIL=a@example.org", "GIT_COMMITTER_DATE=2026-01-01T00:00:00Z")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %v: %v", args, err)
	}
	return string(out)
}

// dpihub patch-id is a drop-in for git patch-id: same lines for the same
// git log -p stream, in both modes.
func TestPatchIDPrintsWhatGitPrints(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := t.TempDir()
	git(t, dir, "", "init", "-q", "-b", "main")
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.txt", "one\ntwo\nthree\n")
	write("b.txt", "alpha\n")
	git(t, dir, "", "add", ".")
	git(t, dir, "", "commit", "-qm", "base")
	write("a.txt", "one\n2\nthree\n")
	write("b.txt", "alpha\nbeta\n")
	git(t, dir, "", "commit", "-qam", "two files")
	git(t, dir, "", "mv", "b.txt", "c.txt")
	git(t, dir, "", "commit", "-qm", "rename")
	log := git(t, dir, "", "log", "-p")
	for _, mode := range [][]string{{}, {"--stable"}, {"--verbatim"}} {
		want := git(t, dir, log, append([]string{"patch-id"}, mode...)...)
		r := dpihub(t, nil, log, append([]string{"patch-id"}, mode...)...)
		if r.code != 0 || r.stdout != want || strings.Count(want, "\n") < 2 {
			t.Errorf("patch-id %v: got %q (exit %d, %s), git printed %q", mode, r.stdout, r.code, r.stderr, want)
		}
	}
}

// dpihub fix assess prints one JSON object: here the fix is already on the
// branch, so the verdict is present, found by patch-id.
func TestFixAssessPrintsOneJSONVerdict(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := t.TempDir()
	git(t, dir, "", "init", "-q", "-b", "main")
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("one\ntwo\nthree\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "", "add", ".")
	git(t, dir, "", "commit", "-qm", "base")
	git(t, dir, "", "branch", "fork")
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("one\n2\nthree\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "", "commit", "-qam", "fix")
	patch := git(t, dir, "", "format-patch", "-1", "--stdout")
	r := dpihub(t, nil, patch, "fix", "assess", "--repo", dir, "--ref", "fork", "--patch", "-")
	if r.code != 0 || !strings.Contains(r.stdout, `"verdict":"applies"`) || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("against the fork: %+v", r)
	}
	r = dpihub(t, nil, patch, "fix", "assess", "--repo", dir, "--ref", "main", "--patch", "-")
	if r.code != 0 || !strings.Contains(r.stdout, `"verdict":"present"`) || !strings.Contains(r.stdout, `"how":"patch-id"`) {
		t.Fatalf("against main: %+v", r)
	}
}

func TestFixPublishPublishesACommitAsASignedFix(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	h := startHub(t)
	up := t.TempDir()
	git(t, up, "", "init", "-q", "-b", "main")
	if err := os.WriteFile(filepath.Join(up, "a.txt"), []byte("one\ntwo\nthree\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, up, "", "add", ".")
	git(t, up, "", "commit", "-qm", "base")
	fork := filepath.Join(t.TempDir(), "fork")
	git(t, up, "", "clone", "-q", up, fork)
	if err := os.WriteFile(filepath.Join(fork, "a.txt"), []byte("one\n2\nthree\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, fork, "", "commit", "-qam", "Fix two\n\nFixes: CVE-2026-12345")
	keys := t.TempDir()
	if r := dpihub(t, nil, "", "keys", "gen", "--country", "ph", "--dir", keys); r.code != 0 {
		t.Fatal(r)
	}
	key, _ := filepath.Glob(filepath.Join(keys, "ph-*.key"))
	// As the Philippines, with the credentials the hub's operator issued
	// it: the hub makes its bucket of large diffs when asked.
	creds := filepath.Join(t.TempDir(), "ph.creds")
	if r := dpihub(t, nil, "", "creds", "issue", "--data", h.DataDir(), "--country", "ph", "--out", creds); r.code != 0 {
		t.Fatal(r)
	}
	env := map[string]string{"DPIHUB_SERVER": h.NATSURL(), "DPIHUB_CREDS": creds}
	r := dpihub(t, env, "", "fix", "publish", "--key", key[0], "--project", "sample", "--repo", fork, "HEAD")
	if r.code != 0 || !strings.Contains(r.stdout, `published fix ph-`) || !strings.Contains(r.stdout, `"Fix two"`) {
		t.Fatalf("fix publish: %+v", r)
	}
	observer := map[string]string{"DPIHUB_SERVER": h.NATSURL(), "DPIHUB_CREDS": h.CredsFile(access.Observer)}
	r = dpihub(t, observer, "", "tail", "--all", "--subject", "dpi.ph.fix.published.>", "-n", "1", "--trust", filepath.Join(keys, "trust.json"))
	if r.code != 0 || !strings.Contains(r.stdout, `"Fix two"`) || !strings.Contains(r.stdout, "✓ signed") {
		t.Fatalf("tail after fix publish: %+v", r)
	}
	for _, bad := range [][]string{
		{"fix", "publish", "--key", key[0], "--project", "sample", "--repo", fork, "no-such-rev"},
		{"fix", "export", "--node", "http://127.0.0.1:1", "ma:ma-1"},
	} {
		if r := dpihub(t, env, "", bad...); r.code != 1 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q; want exit 1 and one line", bad, r.code, r.stderr)
		}
	}
}
