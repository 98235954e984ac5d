package cli_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dpihub/dpihub/events/access"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/services/hub"
	"github.com/dpihub/dpihub/services/hub/cli"
)

// dpihub serve --services feed,node runs the feed and a country's node in
// the hub's process: the node announces its fork, and the feed serves it.
func TestServeRunsTheFeedAndANode(t *testing.T) {
	keys, key, forks := nodeSetup(t)

	data := t.TempDir()
	logs, _ := serving(t, nil, "--data", data, "--nats-port", "-1", "--http", "127.0.0.1:0", "--node-http", "",
		"--services", "feed,node", "--trust", filepath.Join(keys, "trust.json"), "--key", key, "--forks", forks)
	addrRE := regexp.MustCompile(`"http":"([0-9.:]+)"`)
	bustest.Eventually(t, 20*time.Second, "hub started", func() bool { return addrRE.MatchString(logs.String()) })
	base := "http://" + addrRE.FindStringSubmatch(logs.String())[1]
	bustest.Eventually(t, 20*time.Second, "the feed shows the node's fork", func() bool {
		resp, err := http.Get(base + "/api/v1/events?type=fork.registered")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var page struct {
			Events []struct{ Country, Type string }
		}
		if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&page) != nil {
			return false
		}
		return len(page.Events) == 1 && page.Events[0].Country == "lk"
	})
	// Rebuilding the feed from the stream twice gives the same state.
	natsURL := regexp.MustCompile(`"nats":"([^"]+)"`).FindStringSubmatch(logs.String())[1]
	// A rebuild makes a consumer of its own: the admin's credentials.
	admin := map[string]string{"DPIHUB_SERVER": natsURL, "DPIHUB_CREDS": hub.CredsFile(data, access.Admin)}
	var digests []string
	for i := range 2 {
		db := filepath.Join(t.TempDir(), "feed.db")
		r := dpihub(t, admin, "", "feed", "rebuild", "--trust", filepath.Join(keys, "trust.json"), "--db", db)
		if r.code != 0 || !strings.Contains(r.stdout, "digest ") || !strings.Contains(r.stderr, "100.0%") {
			t.Fatalf("rebuild %d: %+v", i, r)
		}
		digests = append(digests, r.stdout[strings.Index(r.stdout, "digest "):])
		if _, err := os.Stat(db); err != nil {
			t.Fatalf("rebuild %d left no store: %v", i, err)
		}
		if _, err := os.Stat(db + ".partial"); !os.IsNotExist(err) {
			t.Fatalf("rebuild %d left its partial file (%v)", i, err)
		}
		if r := dpihub(t, admin, "", "feed", "rebuild", "--trust", filepath.Join(keys, "trust.json"), "--db", db); r.code != 1 || !strings.Contains(r.stderr, "exists") {
			t.Fatalf("rebuild into an existing file: %+v", r)
		}
	}
	if digests[0] != digests[1] {
		t.Fatalf("two rebuilds differ: %q vs %q", digests[0], digests[1])
	}
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s, want the feed's page", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	// The trust list, for verifiers outside the hub.
	resp, err = http.Get(base + "/trust.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	served, err := sign.ParseTrustList(body)
	file, _ := sign.LoadTrustList(filepath.Join(keys, "trust.json"))
	if err != nil || resp.StatusCode != 200 || len(served.Keys) != len(file.Keys) || served.Keys[0].KeyID != file.Keys[0].KeyID {
		t.Fatalf("GET /trust.json = %d (%v): %+v, want the --trust file's keys %+v", resp.StatusCode, err, served, file)
	}
}

func TestServeRefusesServicesWithoutATrustList(t *testing.T) {
	r := dpihub(t, nil, "", "serve", "--services", "feed", "--nats-port", "-1", "--http", "127.0.0.1:0")
	if r.code != 1 || !strings.Contains(r.stderr, "--trust is required") {
		t.Fatalf("%+v", r)
	}
	r = dpihub(t, nil, "", "serve", "--services", "search")
	if r.code != 1 || !strings.Contains(r.stderr, `unknown service "search"`) {
		t.Fatalf("%+v", r)
	}
}

// nodeSetup makes what serve --services node needs: an upstream and a
// fork of it in git, a country's key and trust list in keys, and the
// forks file.
func nodeSetup(t *testing.T) (keys, key, forks string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is required")
	}
	up := t.TempDir()
	git(t, up, "", "init", "-q", "-b", "main")
	if err := os.WriteFile(filepath.Join(up, "a.txt"), []byte("one\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, up, "", "add", ".")
	git(t, up, "", "commit", "-qm", "base")
	fork := filepath.Join(t.TempDir(), "fork")
	git(t, up, "", "clone", "-q", up, fork)
	keys = t.TempDir()
	if r := dpihub(t, nil, "", "keys", "gen", "--country", "lk", "--dir", keys); r.code != 0 {
		t.Fatal(r)
	}
	found, _ := filepath.Glob(filepath.Join(keys, "lk-*.key"))
	forks = filepath.Join(keys, "forks.json")
	b, _ := json.Marshal([]map[string]string{{"project": "sample", "upstream": "file://" + up, "dir": fork, "branch": "main"}})
	if err := os.WriteFile(forks, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return keys, found[0], forks
}

// An operator who presses Ctrl-C while serve starts its services gets a
// clean stop: exit 0 and no error line, whatever step was under way.
func TestServeInterruptedDuringStartUpStopsCleanly(t *testing.T) {
	keys, key, forks := nodeSetup(t)
	for _, delay := range []time.Duration{0, time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond} {
		ctx, cancel := context.WithCancel(context.Background())
		stderr := &syncBuffer{}
		done := make(chan int, 1)
		go func() {
			done <- cli.Main(ctx, cli.Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: stderr, Getenv: func(string) string { return "" }},
				[]string{"serve", "--data", t.TempDir(), "--nats-port", "-1", "--http", "127.0.0.1:0", "--node-http", "127.0.0.1:0",
					"--services", "feed,node", "--trust", filepath.Join(keys, "trust.json"), "--key", key, "--forks", forks})
		}()
		time.AfterFunc(delay, cancel)
		select {
		case code := <-done:
			if code != 0 || strings.Contains(stderr.String(), "dpihub serve:") {
				t.Fatalf("cancelled after %v: exit %d\n%s", delay, code, stderr.String())
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("cancelled after %v: serve did not stop within 30s", delay)
		}
		cancel()
	}
}
