package feedbus_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/access"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/services/feed"
	"github.com/dpihub/dpihub/services/feed/feedbus"
	"github.com/dpihub/dpihub/services/feed/feedbus/feedgen"
	"github.com/dpihub/dpihub/services/feed/sqlite"
)

// healthLog records a projector's health changes.
type healthLog struct {
	mu      sync.Mutex
	changes []string // "ok" or the reason
}

func (h *healthLog) record(ok bool, reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ok {
		reason = "ok"
	}
	h.changes = append(h.changes, reason)
}

func (h *healthLog) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.changes, " | ")
}

// storedEvents counts the events st holds, by their countries.
func storedEvents(t testing.TB, st feed.Store) int {
	t.Helper()
	cs, err := st.Countries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range cs {
		n += c.Events
	}
	return n
}

func startStale(t *testing.T, w *world) (*sqlite.Store, *feedbus.Projector, *healthLog, *prometheus.CounterVec) {
	t.Helper()
	reg := prometheus.NewRegistry()
	st := openStore(t, "")
	h := &healthLog{}
	p, err := feedbus.Project(context.Background(), w.bus, st, feedbus.Config{
		Verifier: w.v, Registerer: reg, CheckEvery: 50 * time.Millisecond, OnHealth: h.record,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	m, err := feedbus.NewMetrics(reg) // the projector's, shared
	if err != nil {
		t.Fatal(err)
	}
	return st, p, h, m.Resets
}

func TestAFeedWhoseConsumerIsDeletedMakesItAgainAndHoldsEveryEvent(t *testing.T) {
	w := newWorld(t)
	evs := feedgen.Events(600, 11)
	w.publish(t, evs[:300])
	st, p, h, resets := startStale(t, w)
	bustest.Eventually(t, 15*time.Second, "the feed holds the first events", func() bool { return storedEvents(t, st) == 300 })

	if err := w.js.DeleteConsumer(context.Background(), bus.Stream, feedbus.DefaultName); err != nil {
		t.Fatal(err)
	}
	w.publish(t, evs[300:])
	bustest.Eventually(t, 15*time.Second, "the feed holds every event and is healthy", func() bool {
		ok, _ := p.Health()
		return storedEvents(t, st) == 600 && ok
	})
	t.Logf("health: %s", h)
	if got := testutil.ToFloat64(resets.WithLabelValues(feedbus.ResetConsumerDeleted)); got < 1 {
		t.Errorf("resets{consumer-deleted} = %v, want at least 1; health: %s", got, h)
	}
	// Degraded with the reason, then ok. Making the consumer again may
	// fail for a moment (the server still removing the old one's store,
	// under load): that is said too, with the same reason first.
	changes := strings.Split(h.String(), " | ")
	if len(changes) < 2 || changes[0] != feedbus.ResetConsumerDeleted+": re-reading from the store's position" || changes[len(changes)-1] != "ok" {
		t.Errorf("health went %q, want degraded (%s) then ok", h, feedbus.ResetConsumerDeleted)
	}
	for _, c := range changes[:len(changes)-1] {
		if !strings.HasPrefix(c, feedbus.ResetConsumerDeleted+": ") {
			t.Errorf("health went %q: %q is not about the deleted consumer", h, c)
		}
	}
}

func TestAFeedWhoseStreamIsMadeAgainHoldsEveryEventOfBoth(t *testing.T) {
	w := newWorld(t)
	evs := feedgen.Events(600, 12)
	w.publish(t, evs[:300])
	st, p, h, resets := startStale(t, w)
	bustest.Eventually(t, 15*time.Second, "the feed holds the first events", func() bool { return storedEvents(t, st) == 300 })
	before := lastApplied(t, st)

	if err := w.js.DeleteStream(context.Background(), bus.Stream); err != nil {
		t.Fatal(err)
	}
	bustest.Eventually(t, 15*time.Second, "the feed says it is degraded", func() bool { ok, _ := p.Health(); return !ok })
	bustest.Open(t, w.js) // makes DPI again, empty; the publishers use it as they did the old one
	w.publish(t, evs[300:])
	bustest.Eventually(t, 15*time.Second, "the feed holds the events of both streams and is healthy", func() bool {
		ok, _ := p.Health()
		return storedEvents(t, st) == 600 && ok
	})
	if got := lastApplied(t, st); got != before+300 {
		t.Errorf("the new stream's events are stored up to seq %d, want %d (after the old stream's %d)", got, before+300, before)
	}
	t.Logf("health: %s", h)
	if got := testutil.ToFloat64(resets.WithLabelValues(feedbus.ResetStreamRecreated)); got != 1 {
		t.Errorf("resets{stream-recreated} = %v, want 1; health: %s", got, h)
	}
	if !strings.HasSuffix(h.String(), feedbus.ResetStreamRecreated+": reading the new stream | ok") {
		t.Errorf("health went %q, want degraded (%s) then ok", h, feedbus.ResetStreamRecreated)
	}
}

// A feed that was down while the stream's limits removed events it had
// not read says so (a gap: degraded, counted, logged), holds every event
// still in the stream, and is healthy once it caught up. Its lag gauge
// goes from the distance at start to 0.
func TestAFeedThatWasDownWhileTheStreamDroppedEventsReportsTheGap(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	evs := feedgen.Events(600, 13)
	w.publish(t, evs[:300])
	st, p, _, _ := startStale(t, w)
	bustest.Eventually(t, 15*time.Second, "the feed holds the first events", func() bool { return storedEvents(t, st) == 300 })
	p.Stop()

	w.publish(t, evs[300:])
	stream, err := w.js.Stream(ctx, bus.Stream)
	if err != nil {
		t.Fatal(err)
	}
	// As MaxAge would, or an operator's purge: 301..500 go unread.
	if err := stream.Purge(ctx, jetstream.WithPurgeSequence(501)); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	h := &healthLog{}
	p, err = feedbus.Project(ctx, w.bus, st, feedbus.Config{Verifier: w.v, Registerer: reg, CheckEvery: time.Hour, OnHealth: h.record})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	m, err := feedbus.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.Resets.WithLabelValues(feedbus.ResetGap)); got != 1 {
		t.Errorf("resets{gap} = %v, want 1", got)
	}
	bustest.Eventually(t, 15*time.Second, "the feed holds what the stream kept and is healthy", func() bool {
		ok, _ := p.Health()
		return storedEvents(t, st) == 400 && ok
	})
	if want := feedbus.ResetGap + ": 200 events were removed from the stream before the feed read them | ok"; h.String() != want {
		t.Errorf("health went %q, want %q", h, want)
	}
	if got := testutil.ToFloat64(m.Lag); got != 0 {
		t.Errorf("lag = %v after catching up, want 0", got)
	}
}

// A stream restored from an older copy keeps its creation time and holds
// fewer events than the feed read from it; the events published to it
// after the restore get sequences the store already has. The feed says so
// (beyond-stream: degraded, counted), reads the restored stream again
// (what it has is skipped by source and id) and holds every event, those
// published after the restore too.
func TestAFeedWhoseStreamIsRestoredFromAnOlderCopyHoldsEveryEvent(t *testing.T) {
	ctx := context.Background()
	cs, tl := bustest.Countries(t, append([]string{events.HubCountry}, feedgen.Countries...)...)
	evs := feedgen.Events(600, 14)
	st := openStore(t, "")
	// follow runs a projector on w until st holds n events, then stops it
	// and the server.
	follow := func(w *world, n int) {
		t.Helper()
		p, err := feedbus.Project(ctx, w.bus, st, feedbus.Config{Verifier: w.v, Registerer: prometheus.NewRegistry()})
		if err != nil {
			t.Fatal(err)
		}
		bustest.Eventually(t, 15*time.Second, fmt.Sprintf("the feed holds %d events", n), func() bool { return storedEvents(t, st) == n })
		p.Stop()
		w.srv.Shutdown()
		w.srv.WaitForShutdown()
	}

	dir := t.TempDir()
	w := worldOn(t, bustest.Server(t, dir), cs, tl)
	w.publish(t, evs[:300])
	info, err := w.js.Stream(ctx, bus.Stream)
	if err != nil {
		t.Fatal(err)
	}
	created := info.CachedInfo().Created
	follow(w, 300)
	backup := t.TempDir()
	if err := os.CopyFS(backup, os.DirFS(dir)); err != nil { // the server is down: a consistent copy
		t.Fatal(err)
	}

	w = worldOn(t, bustest.Server(t, dir), cs, tl)
	w.publish(t, evs[300:450])
	follow(w, 450)

	// The older copy, restored onto a new server.
	restored := t.TempDir()
	if err := os.CopyFS(restored, os.DirFS(backup)); err != nil {
		t.Fatal(err)
	}
	w = worldOn(t, bustest.Server(t, restored), cs, tl)
	s, err := w.js.Stream(ctx, bus.Stream)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo(); !got.Created.Equal(created) || got.State.LastSeq != 300 {
		t.Fatalf("restored stream: created %v, last seq %d; want the original's %v and 300", got.Created, got.State.LastSeq, created)
	}
	w.publish(t, evs[450:]) // sequences 301..450, which the store has (of other events)

	// As the feed service, with only its own permissions (reading a
	// message of DPI by sequence among them).
	_, js := bustest.ConnectAs(t, w.srv, access.Service(feedbus.DefaultName))
	b, err := bus.Open(ctx, js, bus.Config{Attach: true})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	h := &healthLog{}
	p, err := feedbus.Project(ctx, b, st, feedbus.Config{Verifier: w.v, Registerer: reg, CheckEvery: 50 * time.Millisecond, OnHealth: h.record})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	bustest.Eventually(t, 15*time.Second, "the feed holds every event and is healthy", func() bool {
		ok, _ := p.Health()
		return storedEvents(t, st) == 600 && ok
	})
	m, err := feedbus.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.Resets.WithLabelValues(feedbus.ResetBeyondStream)); got != 1 {
		t.Errorf("resets{beyond-stream} = %v, want 1; health: %s", got, h)
	}
	if !strings.HasPrefix(h.String(), feedbus.ResetBeyondStream+": ") || !strings.HasSuffix(h.String(), " | ok") {
		t.Errorf("health went %q, want degraded (%s) then ok", h, feedbus.ResetBeyondStream)
	}
}
