package cli_test

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/dpihub/dpihub/events/access"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/services/hub"
	"github.com/dpihub/dpihub/services/hub/cli"
)

// serving runs `dpihub serve args...` with env until the returned stop,
// which is also a cleanup and wants exit 0. The log is shown when the
// test fails.
func serving(t *testing.T, env map[string]string, args ...string) (logs *syncBuffer, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs = &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(ctx, cli.Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: logs, Getenv: func(k string) string { return env[k] }},
			append([]string{"serve"}, args...))
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case code := <-done:
				if code != 0 {
					t.Errorf("serve exited %d", code)
				}
			case <-time.After(20 * time.Second):
				t.Error("serve did not stop within 20s of cancel")
			}
			if t.Failed() {
				t.Log(logs.String())
			}
		})
	}
	t.Cleanup(stop)
	return logs, stop
}

// serveUntil runs dpihub serve on data with env until the returned stop
// is called, and returns the hub's NATS URL and its log.
func serveUntil(t *testing.T, data string, env map[string]string) (natsURL string, logs *syncBuffer, stop func()) {
	t.Helper()
	logs, stop = serving(t, env, "--data", data, "--nats-port", "-1", "--http", "127.0.0.1:0")
	urlRE := regexp.MustCompile(`"nats":"([^"]+)"`)
	bustest.Eventually(t, 20*time.Second, "hub started", func() bool { return urlRE.MatchString(logs.String()) })
	return urlRE.FindStringSubmatch(logs.String())[1], logs, stop
}

// connects reports whether a client with the credentials in creds gets
// into the hub at url.
func connects(url, creds string) error {
	nc, err := nats.Connect(url, nats.UserCredentials(creds), nats.MaxReconnects(0))
	if err == nil {
		nc.Close()
	}
	return err
}

func TestServeMakesItsAuthorityOnceAndCredentialsOutliveARestart(t *testing.T) {
	data, config := t.TempDir(), t.TempDir()
	env := map[string]string{"XDG_CONFIG_HOME": config}
	url, logs, stop := serveUntil(t, data, env)

	// The first start made the authority and wrote the credentials of the
	// admin, the observer and the hub services, all 0600.
	for _, f := range []string{"auth/operator.nk", "auth/system.nk", "auth/dpi.nk",
		"auth/creds/admin.creds", "auth/creds/observer.creds", "auth/creds/service-feed.creds"} {
		fi, err := os.Stat(filepath.Join(data, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
	for _, seed := range []string{"operator.nk", "system.nk", "dpi.nk"} {
		b, _ := os.ReadFile(filepath.Join(data, "auth", seed))
		if strings.Contains(logs.String(), strings.TrimSpace(string(b))) {
			t.Fatalf("the log shows the seed of %s", seed)
		}
	}
	// ... and the nats CLI's contexts, which it logs.
	bustest.Eventually(t, 10*time.Second, "the contexts are written", func() bool {
		return strings.Contains(logs.String(), "nats CLI contexts written")
	})
	var ctxFile struct{ URL, Creds, Inbox_prefix string }
	b, err := os.ReadFile(filepath.Join(config, "nats", "context", "dpihub-observer.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ctxFile); err != nil || ctxFile.URL != url || ctxFile.Creds != filepath.Join(data, "auth", "creds", "observer.creds") ||
		ctxFile.Inbox_prefix != "_INBOX_observer" {
		t.Fatalf("context dpihub-observer: %s (%v)", b, err)
	}

	// Credentials issued while it runs work at once.
	country := filepath.Join(t.TempDir(), "ma.creds")
	if r := dpihub(t, nil, "", "creds", "issue", "--data", data, "--country", "ma", "--out", country); r.code != 0 || !strings.Contains(r.stdout, "country:ma") {
		t.Fatalf("creds issue: %+v", r)
	}
	if fi, _ := os.Stat(country); fi.Mode().Perm() != 0o600 {
		t.Errorf("issued credentials: mode %v, want 0600", fi.Mode().Perm())
	}
	for _, creds := range []string{country, hub.CredsFile(data, access.Observer)} {
		if err := connects(url, creds); err != nil {
			t.Fatalf("%s: %v", creds, err)
		}
	}
	stop()

	// The second start keeps the authority: what it issued still works.
	url, logs, stop = serveUntil(t, data, env)
	defer stop()
	for _, creds := range []string{country, hub.CredsFile(data, access.Observer), hub.CredsFile(data, access.Admin)} {
		if err := connects(url, creds); err != nil {
			t.Fatalf("after a restart, %s: %v", creds, err)
		}
	}
	if strings.Contains(logs.String(), "NATS authority made") {
		t.Fatal("the second start made a new authority")
	}
}

func TestCredsRefusesWhatItDoesNotUnderstand(t *testing.T) {
	h := startHub(t)
	data := h.DataDir()
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no identity", []string{"creds", "issue", "--data", data}, 1, "exactly one"},
		{"two identities", []string{"creds", "issue", "--data", data, "--admin", "--observer"}, 1, "exactly one"},
		{"a country that is no code", []string{"creds", "issue", "--data", data, "--country", "Morocco"}, 1, "alpha-2"},
		{"a service that would own a node's consumer", []string{"creds", "issue", "--data", data, "--service", "node-ma"}, 1, "node-"},
		{"an unknown flag", []string{"creds", "issue", "--data", data, "--admin", "--root"}, 2, "-root"},
		{"an argument it does not take", []string{"creds", "issue", "--data", data, "--admin", "extra"}, 2, "unexpected arguments"},
		{"a directory without an authority", []string{"creds", "issue", "--data", t.TempDir(), "--admin"}, 1, "no NATS authority"},
		{"an unknown subcommand", []string{"creds", "revoke"}, 2, "unknown subcommand"},
		{"a context it does not write", []string{"creds", "context", "--data", data, "--name", "root"}, 1, "dpihub-admin or dpihub-observer"},
		{"a negative lifetime", []string{"creds", "issue", "--data", data, "--admin", "--expires", "-1h"}, 1, "positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := dpihub(t, nil, "", tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", r.code, r.stderr, tc.code, tc.want)
			}
		})
	}
	for _, args := range [][]string{{"creds", "--help"}, {"creds", "issue", "-h"}, {"creds", "context", "-h"}} {
		if r := dpihub(t, nil, "", args...); r.code != 0 || !strings.Contains(r.stdout, "-data") || r.stderr != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want help on stdout", args, r.code, r.stdout, r.stderr)
		}
	}
}

func TestCredsContextWritesWhatTheNatsCLIReads(t *testing.T) {
	h := startHub(t)
	config := t.TempDir()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, []byte("not checked here"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := dpihub(t, map[string]string{"XDG_CONFIG_HOME": config}, "", "creds", "context", "--data", h.DataDir(), "--server", h.NATSURL(), "--nats-tls-ca", ca)
	if r.code != 0 || !strings.Contains(r.stdout, "nats --context dpihub-observer stream ls") {
		t.Fatalf("creds context: %+v", r)
	}
	for name, id := range map[string]access.Identity{"dpihub-admin": access.Admin, "dpihub-observer": access.Observer} {
		b, err := os.ReadFile(filepath.Join(config, "nats", "context", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var c map[string]string
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatal(err)
		}
		if c["url"] != h.NATSURL() || c["ca"] != ca || !filepath.IsAbs(c["creds"]) || c["inbox_prefix"] != id.InboxPrefix() {
			t.Errorf("%s: %s", name, b)
		}
		if err := connects(h.NATSURL(), c["creds"]); err != nil {
			t.Errorf("%s: its credentials: %v", name, err)
		}
	}
	// Without HOME or XDG_CONFIG_HOME there is nowhere to write.
	if r := dpihub(t, nil, "", "creds", "context", "--data", h.DataDir()); r.code != 1 || !strings.Contains(r.stderr, "HOME") {
		t.Fatalf("creds context without a home: %+v", r)
	}
}
