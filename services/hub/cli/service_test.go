package cli_test

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dpihub/dpihub/events/access"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/services/hub"
	"github.com/dpihub/dpihub/services/hub/cli"
)

// runService runs `dpihub service args...` until the test ends, and
// returns its HTTP address from its log.
func runService(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(ctx, cli.Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: logs, Getenv: func(string) string { return "" }},
			append([]string{"service"}, args...))
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("service exited %d", code)
			}
		case <-time.After(20 * time.Second):
			t.Error("service did not stop within 20s of cancel")
		}
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	addrRE := regexp.MustCompile(`"http":"([0-9.:]+)"`)
	bustest.Eventually(t, 20*time.Second, "service started", func() bool {
		select {
		case code := <-done:
			done <- code
			t.Fatalf("service exited %d: %s", code, logs.String())
		default:
		}
		return addrRE.MatchString(logs.String())
	})
	return "http://" + addrRE.FindStringSubmatch(logs.String())[1]
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// dpihub service dedup and dpihub service proposals run against a hub they
// do not embed, as their own NATS identities: dedup finds two countries'
// forks duplicates and its API reports them; proposals answers its API.
// Each refuses another identity's credentials.
func TestServiceRunsDedupAndProposalsAgainstAnExternalHub(t *testing.T) {
	keys, key := genKeys(t, "ma", "ph", "hub")
	trust := filepath.Join(keys, "trust.json")
	data := t.TempDir()
	natsURL, _, _ := serveUntil(t, data, nil)
	for _, s := range []string{"dedup", "proposals"} {
		if r := dpihub(t, nil, "", "creds", "issue", "--data", data, "--service", s); r.code != 0 {
			t.Fatal(r)
		}
	}
	credsOf := func(s string) string { return hub.CredsFile(data, access.Service(s)) }

	if r := dpihub(t, nil, "", "service", "dedup", "--nats", natsURL, "--creds", credsOf("proposals"),
		"--trust", trust, "--hub-key", key["hub"], "--http", "127.0.0.1:0"); r.code == 0 || !strings.Contains(r.stderr, "needs its own") {
		t.Fatalf("dedup with the proposals service's credentials: %+v", r)
	}

	dedupAPI := runService(t, "dedup", "--nats", natsURL, "--creds", credsOf("dedup"), "--trust", trust,
		"--hub-key", key["hub"], "--http", "127.0.0.1:0")
	propAPI := runService(t, "proposals", "--nats", natsURL, "--creds", credsOf("proposals"), "--trust", trust,
		"--hub-key", key["hub"], "--http", "127.0.0.1:0")
	for _, api := range []string{dedupAPI, propAPI} {
		if code, body := get(t, api+"/healthz"); code != http.StatusOK || !strings.Contains(body, `"ok"`) {
			t.Fatalf("%s/healthz: %d %s", api, code, body)
		}
	}
	if code, body := get(t, propAPI+"/api/v1/governance/rules/mosip-id-repository"); code != http.StatusOK {
		t.Fatalf("proposals API: %d %s", code, body)
	}

	publishAlikeSnapshots(t, data, keys, natsURL, key)
	env := map[string]string{"DPIHUB_API": dedupAPI}
	bustest.Eventually(t, 10*time.Second, "the dedup report shows the cluster", func() bool {
		r := dpihub(t, env, "", "dedup", "report", "--project", "mosip-id-repository")
		return r.code == 0 && strings.Contains(r.stdout, "cluster 1: ma/release-ma, ph/release-ph")
	})
}
