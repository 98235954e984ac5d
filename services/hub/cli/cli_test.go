package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/access"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/services/hub"
	"github.com/dpihub/dpihub/services/hub/cli"
)

type run struct {
	code           int
	stdout, stderr string
}

func dpihub(t *testing.T, env map[string]string, stdin string, args ...string) run {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), cli.Env{
		Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] },
	}, args)
	return run{code, out.String(), errb.String()}
}

// genKeys makes a key for each country with dpihub keys gen, in one new
// directory with their trust.json, and returns the directory and each
// country's private key file.
func genKeys(t *testing.T, countries ...string) (dir string, key map[string]string) {
	t.Helper()
	dir, key = t.TempDir(), map[string]string{}
	for _, cc := range countries {
		if r := dpihub(t, nil, "", "keys", "gen", "--country", cc, "--dir", dir); r.code != 0 {
			t.Fatal(r)
		}
		found, _ := filepath.Glob(filepath.Join(dir, cc+"-*.key"))
		key[cc] = found[0]
	}
	return dir, key
}

func startHub(t *testing.T) *hub.Hub {
	t.Helper()
	h, err := hub.Start(context.Background(), hub.Config{DataDir: t.TempDir(), NATSPort: -1, HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		h.Close(ctx)
	})
	return h
}

func TestKeysPublishAndTailRoundTripThroughAServedHub(t *testing.T) {
	h := startHub(t)
	dir := t.TempDir()
	r := dpihub(t, nil, "", "keys", "gen", "--country", "ma", "--dir", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "key ma:") {
		t.Fatalf("keys gen: %+v", r)
	}
	keyFiles, _ := filepath.Glob(filepath.Join(dir, "ma-*.key"))
	if len(keyFiles) != 1 {
		t.Fatalf("key files %v", keyFiles)
	}
	if fi, _ := os.Stat(keyFiles[0]); fi.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v, want 0600", fi.Mode().Perm())
	}
	payload := `{"proposal_id":"ma-2026-01","title":"Shared OTP throttling","body":"Both ma and lk patched it."}`
	// Morocco's credentials, issued by the hub's operator.
	maCreds, phCreds := filepath.Join(dir, "ma.creds"), filepath.Join(dir, "ph.creds")
	for cc, out := range map[string]string{"ma": maCreds, "ph": phCreds} {
		if r := dpihub(t, nil, "", "creds", "issue", "--data", h.DataDir(), "--country", cc, "--out", out); r.code != 0 {
			t.Fatalf("creds issue: %+v", r)
		}
	}
	// Another country's credentials cannot carry Morocco's events.
	wrong := map[string]string{"DPIHUB_SERVER": h.NATSURL(), "DPIHUB_CREDS": phCreds}
	r = dpihub(t, wrong, payload, "publish", "--key", keyFiles[0], "--type", events.TypeProposalSubmitted, "--project", "mosip-id-repository", "-")
	if r.code != 1 || !strings.Contains(r.stderr, "country:ph") {
		t.Fatalf("publish with ph's credentials: %+v", r)
	}
	// The server URL and the credentials come from the environment, as an
	// operator would set them.
	env := map[string]string{"DPIHUB_SERVER": h.NATSURL(), "DPIHUB_CREDS": maCreds}
	r = dpihub(t, env, payload, "publish", "--key", keyFiles[0], "--type", events.TypeProposalSubmitted, "--project", "mosip-id-repository", "-")
	if r.code != 0 || !strings.Contains(r.stdout, "published org.dpihub.proposal.submitted.v1") {
		t.Fatalf("publish: %+v", r)
	}
	// The observer reads what was published.
	env["DPIHUB_CREDS"] = h.CredsFile(access.Observer)
	r = dpihub(t, env, "", "tail", "--all", "-n", "1", "--json", "--trust", filepath.Join(dir, "trust.json"))
	if r.code != 0 {
		t.Fatalf("tail: %+v", r)
	}
	var line struct {
		Subject  string          `json:"subject"`
		Verified bool            `json:"verified"`
		Event    json.RawMessage `json:"event"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &line); err != nil {
		t.Fatalf("tail --json printed %q: %v", r.stdout, err)
	}
	if line.Subject != "dpi.ma.proposal.submitted.mosip-id-repository" || !line.Verified || !bytes.Contains(line.Event, []byte("Shared OTP throttling")) {
		t.Fatalf("tail line %s", r.stdout)
	}
	r = dpihub(t, env, "", "tail", "--all", "-n", "1")
	if !strings.Contains(r.stdout, `proposal ma-2026-01 "Shared OTP throttling"`) {
		t.Fatalf("human tail: %+v", r)
	}
}

func TestBadInputGivesOneLineAndANonZeroExit(t *testing.T) {
	h := startHub(t)
	dir := t.TempDir()
	if r := dpihub(t, nil, "", "keys", "gen", "--country", "ma", "--dir", dir); r.code != 0 {
		t.Fatal(r)
	}
	key, _ := filepath.Glob(filepath.Join(dir, "ma-*.key"))
	srv := "--server=" + h.NATSURL()
	tests := []struct {
		name  string
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"an unknown command is a usage error", "", []string{"frobnicate"}, 2, "unknown command"},
		{"a country code that is not ISO is refused", "", []string{"keys", "gen", "--country", "Morocco", "--dir", dir}, 1, "alpha-2"},
		{"an unknown event type is refused", "{}", []string{"publish", srv, "--key", key[0], "--type", "org.dpihub.nope.v1", "-"}, 1, "unknown event type"},
		{"a payload with an unknown field is refused", `{"proposal_id":"x","title":"t","body":"b","colour":"red"}`,
			[]string{"publish", srv, "--key", key[0], "--type", events.TypeProposalSubmitted, "--project", "p", "-"}, 1, "unknown field"},
		{"a payload that breaks its schema is refused", `{"proposal_id":"x","title":"","body":"b"}`,
			[]string{"publish", srv, "--key", key[0], "--type", events.TypeProposalSubmitted, "--project", "p", "-"}, 1, "invalid event: data"},
		{"a missing payload file is named", "", []string{"publish", srv, "--key", key[0], "--type", events.TypeProposalSubmitted, "--project", "p", "nope.json"}, 1, "nope.json: no such file"},
		{"a missing key file is named", "{}", []string{"publish", srv, "--key", filepath.Join(dir, "none.key"), "--type", events.TypeProposalSubmitted, "-"}, 1, "none.key"},
		{"a bad patch is refused by fix assess", "not a patch", []string{"fix", "assess", "--repo", dir, "--patch", "-"}, 1, "fix"},
		{"a bad environment value is named", "", []string{"tail"}, 1, "DPIHUB_N"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			if tc.want == "DPIHUB_N" {
				env["DPIHUB_N"] = "many"
			}
			r := dpihub(t, env, tc.stdin, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", r.code, r.stderr, tc.code, tc.want)
			}
			if tc.code == 1 && strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Fatalf("error is not one line: %q", r.stderr)
			}
		})
	}
	// Nothing reached the stream.
	s, _ := h.JS.Stream(context.Background(), "DPI")
	if info, _ := s.Info(context.Background()); info.State.Msgs != 0 {
		t.Fatalf("%d messages stored after bad input", info.State.Msgs)
	}
}

func TestHealthzAndMetricsAndTheNATSPortAreServed(t *testing.T) {
	h := startHub(t)
	// A NATS client, such as the nats CLI, connects over TCP with
	// credentials; without, it is refused.
	if nc, err := nats.Connect(h.NATSURL(), nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Fatal("an anonymous client connected")
	}
	nc, err := nats.Connect(h.NATSURL(), nats.UserCredentials(h.CredsFile(access.Observer)))
	if err != nil {
		t.Fatalf("TCP client with the observer's credentials cannot connect: %v", err)
	}
	nc.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + h.HTTPAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || !strings.Contains(body, `"status":"ok"`) {
		t.Fatalf("/healthz %d %s", code, body)
	}
	resp, err := http.Get("http://" + h.HTTPAddr + "/no/such/page")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("unknown path: %d %s, want a 404 problem", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	h.Metrics.Published.WithLabelValues("x").Inc()
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "dpihub_events_published_total") || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("/metrics %d %.300s", code, body)
	}
}

// The real binary stops cleanly on SIGTERM: consumers stopped, connection
// drained, server shut down, exit 0.
func TestServeStopsGracefullyOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "dpihub")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/dpihub").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	data := t.TempDir()
	cmd := exec.Command(bin, "serve", "--nats-port", "-1", "--http", "127.0.0.1:0")
	// The first start writes nats CLI contexts: not into the user's own.
	cmd.Env = append(os.Environ(), "DPIHUB_DATA="+data, "XDG_CONFIG_HOME="+t.TempDir())
	var logs syncBuffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	bustest.Eventually(t, 20*time.Second, "hub started", func() bool { return strings.Contains(logs.String(), "hub started") })
	if _, err := os.Stat(filepath.Join(data, "jetstream")); err != nil {
		t.Fatalf("DPIHUB_DATA not used: %v", err)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("still running 20s after SIGTERM\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "hub stopped") {
		t.Fatalf("no orderly stop in the log:\n%s", logs.String())
	}
}
