package feedbus_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dpihub/dpihub/events/access"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/services/feed/feedbus"
	"github.com/dpihub/dpihub/services/feed/feedbus/feedgen"
	"github.com/dpihub/dpihub/services/feed/sqlite"
)

// The child process: a projector, as the feed service runs it.
const (
	childEnv   = "FEEDBUS_TEST_CHILD"
	childDB    = "FEEDBUS_TEST_DB"
	childNATS  = "FEEDBUS_TEST_NATS"
	childTrust = "FEEDBUS_TEST_TRUST"
	childCreds = "FEEDBUS_TEST_CREDS"
)

// childMain projects the stream at $FEEDBUS_TEST_NATS into the store at
// $FEEDBUS_TEST_DB until SIGTERM, printing "ready" once it consumes.
func childMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "child:", err); return 1 }
	st, err := sqlite.Open(ctx, os.Getenv(childDB))
	if err != nil {
		return fail(err)
	}
	defer st.Close()
	// As the feed service, which owns the consumer "feed" and no other.
	_, opts, err := access.Client(os.Getenv(childCreds))
	if err != nil {
		return fail(err)
	}
	nc, err := nats.Connect(os.Getenv(childNATS), opts...)
	if err != nil {
		return fail(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fail(err)
	}
	b, err := bus.Open(ctx, js, bus.Config{Attach: true})
	if err != nil {
		return fail(err)
	}
	tl, err := sign.LoadTrustList(os.Getenv(childTrust))
	if err != nil {
		return fail(err)
	}
	v, err := sign.NewVerifier(tl)
	if err != nil {
		return fail(err)
	}
	c, err := feedbus.Project(ctx, b, st, feedbus.Config{Verifier: v, AckWait: time.Second})
	if err != nil {
		return fail(err)
	}
	fmt.Println("ready")
	<-ctx.Done()
	c.Stop()
	return 0
}

// startChild runs the test binary as a projector and waits until it is
// consuming.
func startChild(t *testing.T, env []string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(out).ReadString('\n')
		if err == nil && strings.TrimSpace(line) != "ready" {
			err = fmt.Errorf("child said %q", line)
		}
		ready <- err
		io.Copy(io.Discard, out)
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatalf("child: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("child not ready in 30s")
	}
	return cmd
}

func TestKillNineMidIngestThenRestartGivesTheStateOfACleanRebuild(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a projector process")
	}
	w := newWorld(t)
	const n = 6000
	evs := feedgen.Events(n, 3)
	w.publish(t, evs[:n/2])
	w.publishUnsigned(t, unsignedEvent(t))
	w.publish(t, evs[n/2:])
	last := w.lastSeq(t)

	dir := t.TempDir()
	trust := filepath.Join(dir, "trust.json")
	if err := w.tl.WriteFile(trust); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "feed.db")
	env := []string{childEnv + "=1", childDB + "=" + db, childNATS + "=" + w.srv.ClientURL(), childTrust + "=" + trust,
		childCreds + "=" + bustest.Creds(t, w.srv, access.Service(feedbus.DefaultName))}

	child := startChild(t, env)
	st := openStore(t, db) // the child made it; this one only reads
	bustest.Progressing(t, time.Minute, "the child ingests a thousand events", func() uint64 { return lastApplied(t, st) }, func() bool { return lastApplied(t, st) >= 1000 })
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	killedAt := lastApplied(t, st)
	if killedAt >= last {
		t.Fatalf("the child had ingested everything (%d of %d) before the kill; make the stream longer", killedAt, last)
	}
	t.Logf("killed at seq %d of %d", killedAt, last)

	child = startChild(t, env)
	bustest.Progressing(t, time.Minute, "the restarted child catches up", func() uint64 { return lastApplied(t, st) }, func() bool { return lastApplied(t, st) == last })
	if err := child.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := child.Wait(); err != nil {
		t.Errorf("child after SIGTERM: %v", err)
	}

	clean, _ := rebuild(t, w)
	if got, want := digest(t, st), digest(t, clean); got != want {
		t.Errorf("after kill -9 and restart the store is %s, a clean rebuild %s", got, want)
		st.Close()
		exec.Command("sh", "-c", "cp "+db+"* /tmp/").Run()
		cst := openStore(t, "/tmp/clean.db")
		if err := feedbus.Rebuild(context.Background(), w.js, cst, w.v, nil); err != nil {
			t.Fatal(err)
		}
		cst.Close()
	}
}
