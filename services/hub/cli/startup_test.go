package cli_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dpihub/dpihub/services/hub"
)

// quickly runs dpihub serve with args and fails the test unless it has
// ended within a second.
func quickly(t *testing.T, env map[string]string, args ...string) run {
	t.Helper()
	done := make(chan run, 1)
	go func() { done <- dpihub(t, env, "", append([]string{"serve"}, args...)...) }()
	select {
	case r := <-done:
		return r
	case <-time.After(time.Second):
		t.Fatalf("serve %q still starting after 1s", args)
		return run{}
	}
}

// A start-up that cannot succeed ends at once, with its cause as the one
// line on stderr and exit 1, not after a wait.
func TestServeFailsAtOnceWithTheCauseOfAFailedStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	file := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"XDG_CONFIG_HOME": t.TempDir()}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"a NATS port already taken is named", []string{"--data", t.TempDir(), "--nats-port", port, "--http", "127.0.0.1:0"},
			"dpihub serve: listen on 127.0.0.1:" + port + ": address already in use\n"},
		{"a --data that is a file is named", []string{"--data", file, "--nats-port", "-1", "--http", "127.0.0.1:0"},
			"dpihub serve: --data " + file + " is a file, not a directory\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := quickly(t, env, tc.args...)
			if r.code != 1 || !strings.HasSuffix(r.stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit 1 ending %q", r.code, r.stderr, tc.want)
			}
		})
	}
}

// Two hubs on one data directory would corrupt its store: the second
// stops at once and names the first; the lock goes with the first, and a
// LOCK file nobody holds does not stop a start.
func TestASecondServeOnOneDataDirectoryIsRefused(t *testing.T) {
	data := t.TempDir()
	env := map[string]string{"XDG_CONFIG_HOME": t.TempDir()}
	_, _, stop := serveUntil(t, data, env)
	r := quickly(t, env, "--data", data, "--nats-port", "-1", "--http", "127.0.0.1:0")
	holder := fmt.Sprintf("held by pid %d, started ", os.Getpid())
	if r.code != 1 || !strings.Contains(r.stderr, "data directory in use") || !strings.Contains(r.stderr, holder) ||
		strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("second serve: exit %d, stderr %q; want exit 1 naming %q", r.code, r.stderr, holder)
	}
	stop()
	// A stale LOCK, as a process killed with SIGKILL leaves it.
	if err := os.WriteFile(filepath.Join(data, hub.LockFile), []byte("pid 999999999, started 2001-01-01T00:00:00Z\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, stop = serveUntil(t, data, env)
	stop()
}
