package service_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/services/feed/feedbus"
	"github.com/dpihub/dpihub/services/feed/service"
	"github.com/dpihub/dpihub/services/feed/sqlite"
)

// startFeed runs another feed on db, on w's hub, until the test ends or
// stop is called.
func (w *world) startFeed(t *testing.T, db string) (svc *service.Service, stop func()) {
	t.Helper()
	svc, err := service.Start(context.Background(), service.Config{Bus: w.bus, Verifier: w.verifier, DBPath: db})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := svc.Close(ctx); err != nil {
			t.Errorf("close the feed on %s: %v", filepath.Base(db), err)
		}
	}
	t.Cleanup(stop)
	return svc, stop
}

// waitAll waits until svc holds exactly the first n events of the stream.
func waitAll(t *testing.T, svc *service.Service, n int) {
	t.Helper()
	bustest.Eventually(t, 15*time.Second, "the feed holds every event", func() bool {
		seq, err := svc.Store().LastSeq(context.Background())
		return err == nil && seq == uint64(n) && eventCount(t, svc) == n
	})
}

func eventCount(t *testing.T, svc *service.Service) int {
	t.Helper()
	cs, err := svc.Store().Countries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range cs {
		n += c.Events
	}
	return n
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

// restoreCatchesUp puts db.backup back in db's place (the feed on db
// stopped) and checks that a feed started on it gets every event.
func (w *world) restoreCatchesUp(t *testing.T, db string) {
	t.Helper()
	for _, suffix := range []string{"-wal", "-shm"} {
		os.Remove(db + suffix)
	}
	copyFile(t, db+".backup", db)
	svc, _ := w.startFeed(t, db)
	waitAll(t, svc, len(w.steps))
}

// TestEachDatabaseGetsEveryEvent: a feed on a new database, started when
// the hub has history, gets all of it, and so does a second feed on
// another database at the same time: each file has its own consumer.
func TestEachDatabaseGetsEveryEvent(t *testing.T) {
	w := newWorld(t)
	half := len(w.steps) / 2
	w.publish(t, w.steps[:half])
	w.waitApplied(t, uint64(half)) // the world's own feed has consumed them

	dir := t.TempDir()
	a, _ := w.startFeed(t, filepath.Join(dir, "a.db"))
	b, _ := w.startFeed(t, filepath.Join(dir, "b.db"))
	w.publish(t, w.steps[half:])
	for _, svc := range []*service.Service{w.svc, a, b} {
		waitAll(t, svc, len(w.steps))
	}
}

// TestAnOlderCopyOfTheDatabaseCatchesUp: a database replaced by an older
// copy of itself (a restored backup) gets the events its consumer had
// already acknowledged for the newer one.
func TestAnOlderCopyOfTheDatabaseCatchesUp(t *testing.T) {
	w := newWorld(t)
	db := filepath.Join(t.TempDir(), "feed.db")
	half := len(w.steps) / 2
	w.publish(t, w.steps[:half])
	svc, stop := w.startFeed(t, db)
	waitAll(t, svc, half)
	stop()
	copyFile(t, db, db+".backup") // a stopped store keeps nothing in -wal

	svc, stop = w.startFeed(t, db)
	w.publish(t, w.steps[half:])
	waitAll(t, svc, len(w.steps))
	stop()

	w.restoreCatchesUp(t, db)
}

// TestARebuiltDatabaseContinuesAfterItsLastEvent: a feed started on a
// database rebuilt up to seq n starts its (new) consumer at n+1 rather
// than reading the whole stream again.
func TestARebuiltDatabaseContinuesAfterItsLastEvent(t *testing.T) {
	w := newWorld(t)
	w.publish(t, w.steps)
	n := len(w.steps)
	db := filepath.Join(t.TempDir(), "feed.db")
	ctx := context.Background()
	st, err := sqlite.Create(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if err := feedbus.Rebuild(ctx, w.bus.JetStream(), st, w.verifier, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	svc, _ := w.startFeed(t, db)
	id, err := svc.Store().(*sqlite.Store).ID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, err := w.bus.JetStream().Consumer(ctx, bus.Stream, "feed-"+id)
	if err != nil {
		t.Fatal(err)
	}
	cfg := c.CachedInfo().Config
	if cfg.DeliverPolicy != jetstream.DeliverByStartSequencePolicy || cfg.OptStartSeq != uint64(n+1) {
		t.Fatalf("the rebuilt feed's consumer starts with %v at %d, want by start sequence at %d", cfg.DeliverPolicy, cfg.OptStartSeq, n+1)
	}
	waitAll(t, svc, n)
}

// TestAnOlderCopyOfARebuiltDatabaseCatchesUp: the consumer of a rebuilt
// database starts after its last event; an older copy of that database
// (same id, fewer events) must not start there too.
func TestAnOlderCopyOfARebuiltDatabaseCatchesUp(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "feed.db")
	half := len(w.steps) / 2
	w.publish(t, w.steps[:half])
	st, err := sqlite.Create(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if err := feedbus.Rebuild(ctx, w.bus.JetStream(), st, w.verifier, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	copyFile(t, db, db+".backup") // half the events

	// The rest, added by a rebuild into the same file (no consumer yet).
	w.publish(t, w.steps[half:])
	if st, err = sqlite.Open(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := feedbus.Rebuild(ctx, w.bus.JetStream(), st, w.verifier, nil); err != nil {
		t.Fatal(err)
	}
	st.Close()
	svc, stop := w.startFeed(t, db) // its consumer starts after the last event
	waitAll(t, svc, len(w.steps))
	stop()

	w.restoreCatchesUp(t, db)
}
