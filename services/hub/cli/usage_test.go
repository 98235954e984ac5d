package cli_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"

	"github.com/dpihub/dpihub/events"
)

// Every command refuses what it does not take, before doing anything:
// a stray argument, or a flag after an argument, is a usage error (exit
// 2) in one line on stderr, never silently dropped.
func TestEveryCommandRefusesAStrayArgument(t *testing.T) {
	tests := [][]string{
		{"serve", "extra"},
		{"demo", "extra"},
		{"publish", "a.json", "b.json"},
		{"publish", "a.json", "--nope"},
		{"tail", "extra"},
		{"keys", "gen", "--country", "ma", "extra"},
		{"patch-id", "extra"},
		{"feed", "rebuild", "extra"},
		{"fix", "assess", "--patch", "fix.patch", "extra"},
		{"fix", "assess", "--patch", "fix.patch", "extra", "--repo", "x"},
		{"fix", "assess", "--patch", "fix.patch", "--nope"},
		{"fix", "publish", "HEAD", "HEAD~1"},
		{"fix", "publish", "HEAD", "--nope"},
		{"fix", "export", "ma-1", "ma-2"},
		{"fix", "export", "ma-1", "--nope"},
		{"creds", "issue", "extra"},
		{"creds", "context", "extra"},
		{"proposal", "submit", "extra"},
		{"proposal", "endorse", "p-1", "p-2"},
		{"proposal", "object", "p-1", "p-2"},
		{"proposal", "comment", "p-1", "p-2"},
		{"proposal", "withdraw", "p-1", "p-2"},
		{"proposal", "list", "extra"},
		{"proposal", "show", "p-1", "p-2"},
		{"proposal", "implemented", "p-1", "p-2"},
		{"proposal", "show", "p-1", "--nope"},
		{"subscribe", "webhook", "extra"},
		{"subscribe", "list", "extra"},
		{"subscribe", "rm", "s-1", "s-2"},
		{"dedup", "scan", "--repo", ".", "--upstream", "main", "a", "b", "--nope"},
		{"dedup", "report", "extra"},
		{"version", "extra"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := dpihub(t, nil, "", args...)
			if r.code != 2 || strings.Count(r.stderr, "\n") != 1 || r.stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2 and one line on stderr", r.code, r.stdout, r.stderr)
			}
		})
	}
}

func TestHelpGoesToStdoutAndNoCommandIsAUsageError(t *testing.T) {
	for _, arg := range []string{"help", "-h", "--help"} {
		r := dpihub(t, nil, "", arg)
		if r.code != 0 || !strings.Contains(r.stdout, "usage: dpihub") || r.stderr != "" {
			t.Errorf("dpihub %s: %+v, want the usage on stdout, exit 0", arg, r)
		}
	}
	r := dpihub(t, nil, "")
	if r.code != 2 || !strings.Contains(r.stderr, "usage: dpihub") || r.stdout != "" {
		t.Errorf("dpihub alone: %+v, want the usage on stderr, exit 2", r)
	}
}

// dpihub version says what the build recorded: a test binary records no
// VCS state, so its pieces are "(devel)" or what ReadBuildInfo has.
func TestVersionPrintsTheBuildInformation(t *testing.T) {
	want := map[string]string{"vcs.revision": "(devel)", "vcs.time": "(devel)"}
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if _, ok := want[s.Key]; ok && s.Value != "" {
				want[s.Key] = s.Value
			}
		}
	}
	r := dpihub(t, nil, "", "version")
	if line := fmt.Sprintf("dpihub %s %s %s\n", v, want["vcs.revision"], want["vcs.time"]); r.code != 0 || r.stdout != line {
		t.Fatalf("%+v, want %q", r, line)
	}
}

func TestKeysGenChecksEverythingBeforeWritingAKey(t *testing.T) {
	for _, cc := range []string{"ma", "ph", "lk", "ke", "hub"} {
		dir := t.TempDir()
		if r := dpihub(t, nil, "", "keys", "gen", "--country", cc, "--dir", dir); r.code != 0 {
			t.Errorf("--country %s: %+v", cc, r)
		}
	}
	broken := filepath.Join(t.TempDir(), "trust.json")
	if err := os.WriteFile(broken, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"an unassigned code is refused", []string{"--country", "xx"}, "alpha-2"},
		{"the unknown region is refused", []string{"--country", "zz"}, "alpha-2"},
		{"a grouping is refused", []string{"--country", "eu"}, "alpha-2"},
		{"a replaced code is refused", []string{"--country", "uk"}, "alpha-2"},
		{"upper case is refused", []string{"--country", "MA"}, "alpha-2"},
		{"a negative validity is refused", []string{"--country", "ma", "--valid-for", "-5h"}, "--valid-for -5h0m0s is negative"},
		{"a broken trust list is refused", []string{"--country", "ma", "--trust", broken}, "trust"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "keys")
			r := dpihub(t, nil, "", append([]string{"keys", "gen", "--dir", dir}, tc.args...)...)
			if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit 1 and %q", r.code, r.stderr, tc.want)
			}
			if keys, _ := filepath.Glob(filepath.Join(dir, "*.key")); len(keys) != 0 {
				t.Fatalf("a failed keys gen left %v", keys)
			}
		})
	}
}

// A payload file is one JSON object: a second is refused, not dropped.
func TestPublishRefusesDataAfterThePayload(t *testing.T) {
	dir := t.TempDir()
	if r := dpihub(t, nil, "", "keys", "gen", "--country", "ma", "--dir", dir); r.code != 0 {
		t.Fatal(r)
	}
	key, _ := filepath.Glob(filepath.Join(dir, "ma-*.key"))
	one := `{"proposal_id":"ma-1","title":"t","body":"b"}`
	r := dpihub(t, nil, one+"\n"+`{"proposal_id":"ma-2"}`, "publish", "--server", "nats://127.0.0.1:1", "--key", key[0],
		"--type", events.TypeProposalSubmitted, "--project", "p", "-")
	if r.code != 1 || !strings.Contains(r.stderr, "data after its JSON object") || !strings.Contains(r.stderr, "ma-2") {
		t.Fatalf("%+v", r)
	}
	var v map[string]any
	if json.Unmarshal([]byte(one), &v) != nil {
		t.Fatal("test payload is not JSON")
	}
}

// fix publish finds upstream where a fork set up by hand has it
// (origin/main without origin/HEAD), and otherwise says what it tried.
func TestFixPublishFindsOrNamesTheUpstreamRef(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is required")
	}
	keys := t.TempDir()
	if r := dpihub(t, nil, "", "keys", "gen", "--country", "ma", "--dir", keys); r.code != 0 {
		t.Fatal(r)
	}
	key, _ := filepath.Glob(filepath.Join(keys, "ma-*.key"))
	repo := t.TempDir()
	git(t, repo, "", "init", "-q", "-b", "main")
	if err := os.WriteFile(filepath.Join(repo, "a.txt"), []byte("one\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, repo, "", "add", ".")
	git(t, repo, "", "commit", "-qm", "base")
	args := []string{"fix", "publish", "--server", "nats://127.0.0.1:1", "--key", key[0], "--project", "p", "--repo", repo, "HEAD"}
	r := dpihub(t, nil, "", args...)
	if r.code != 1 || !strings.Contains(r.stderr, "name the upstream with --upstream-ref (tried: origin/HEAD, origin/main, origin/master, upstream/main") {
		t.Fatalf("no upstream: %+v", r)
	}
	r = dpihub(t, nil, "", append(args, "--upstream-ref", "nope/main")...)
	if r.code != 1 || !strings.Contains(r.stderr, "--upstream-ref nope/main is not a commit") {
		t.Fatalf("a named ref that is missing: %+v", r)
	}
	// With origin/main, the search goes on to connecting (nothing listens).
	git(t, repo, "", "update-ref", "refs/remotes/origin/main", "HEAD")
	r = dpihub(t, nil, "", args...)
	if r.code != 1 || strings.Contains(r.stderr, "upstream") {
		t.Fatalf("with origin/main: %+v, want it taken (and a connection error)", r)
	}
}

// fix export takes the fix id as the feed's fix page shows it
// (ma-0123456789ab) as well as the node's <country>:<fix-id>.
func TestFixExportTakesTheIDTheFeedShows(t *testing.T) {
	var paths []string
	var mu sync.Mutex
	node := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.EscapedPath())
		mu.Unlock()
		fmt.Fprint(w, "From mbox\n")
	}))
	defer node.Close()
	for _, id := range []string{"ma-0123456789ab", "ma:ma-0123456789ab"} {
		if r := dpihub(t, nil, "", "fix", "export", "--node", node.URL, id); r.code != 0 || r.stdout != "From mbox\n" {
			t.Fatalf("fix export %s: %+v", id, r)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	want := "/api/v1/fixes/ma:ma-0123456789ab/mbox"
	if len(paths) != 2 || paths[0] != want || paths[1] != want {
		t.Fatalf("the node was asked for %q, want %q twice", paths, want)
	}
}
