package feedbus_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/services/feed"
	"github.com/dpihub/dpihub/services/feed/feedbus"
	"github.com/dpihub/dpihub/services/feed/feedbus/feedgen"
	"github.com/dpihub/dpihub/services/feed/sqlite"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain())
	}
	os.Exit(m.Run())
}

// world is a NATS server with the dpihub streams and a key per country.
type world struct {
	srv  *server.Server
	js   jetstream.JetStream
	bus  *bus.Bus
	pubs map[string]*bus.Publisher
	tl   *sign.TrustList
	v    *sign.Verifier
}

func newWorld(t testing.TB) *world {
	t.Helper()
	cs, tl := bustest.Countries(t, append([]string{events.HubCountry}, feedgen.Countries...)...)
	return worldOn(t, bustest.Server(t, ""), cs, tl)
}

// worldOn is the world of countries cs (trusted by tl) on srv.
func worldOn(t testing.TB, srv *server.Server, cs map[string]bustest.Country, tl *sign.TrustList) *world {
	t.Helper()
	_, js := bustest.Connect(t, srv)
	b := bustest.Open(t, js)
	v, err := sign.NewVerifier(tl)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{srv: srv, js: js, bus: b, pubs: map[string]*bus.Publisher{}, tl: tl, v: v}
	for cc, c := range cs {
		w.pubs[cc] = b.Publisher(c.Signer)
	}
	return w
}

// publish signs and publishes evs, each by its country, in chunks that
// keep the order roughly.
func (w *world) publish(t testing.TB, evs []event.Event) {
	t.Helper()
	ctx := context.Background()
	const chunk = 2000
	for lo := 0; lo < len(evs); lo += chunk {
		by := map[string][]event.Event{}
		var order []string
		for _, e := range evs[lo:min(lo+chunk, len(evs))] {
			cc, _ := e.Extensions()[events.ExtCountry].(string)
			if by[cc] == nil {
				order = append(order, cc)
			}
			by[cc] = append(by[cc], e)
		}
		for _, cc := range order {
			if err := w.pubs[cc].PublishBatch(ctx, by[cc]); err != nil {
				t.Fatalf("publish %d events of %s: %v", len(by[cc]), cc, err)
			}
		}
	}
}

// publishUnsigned puts an event that no country signed on its subject:
// every consumer must refuse it.
func (w *world) publishUnsigned(t testing.TB, e event.Event) {
	t.Helper()
	bustest.PublishRaw(t, w.js, bustest.Encode(t, e))
}

func (w *world) lastSeq(t testing.TB) uint64 {
	t.Helper()
	s, err := w.js.Stream(context.Background(), bus.Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.LastSeq
}

func openStore(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "feed.db")
	}
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func digest(t testing.TB, st feed.Store) string {
	t.Helper()
	d, err := st.Digest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func lastApplied(t testing.TB, st feed.Store) uint64 {
	t.Helper()
	seq, err := st.LastSeq(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

// rebuild replays the stream into a fresh store and returns it with the
// number of refused messages.
func rebuild(t testing.TB, w *world) (*sqlite.Store, int) {
	t.Helper()
	st := openStore(t, "")
	var refused int
	var done, total uint64
	err := feedbus.Rebuild(context.Background(), w.js, st, w.v, func(d, tot uint64) { done, total = d, tot },
		feedbus.OnRefused(func(uint64, error) { refused++ }))
	if err != nil {
		t.Fatal(err)
	}
	if done != total || total == 0 {
		t.Errorf("progress ended at %d of %d", done, total)
	}
	return st, refused
}

// unsignedEvent is a heartbeat of ma that ma did not sign.
func unsignedEvent(t testing.TB) event.Event {
	t.Helper()
	e, err := events.New(events.Source{Country: "ma", Service: "node"}, "", events.NodeHeartbeat{Version: "forged", StartedAt: feedgen.Start},
		events.WithID("forged-1"), events.WithTime(feedgen.Start))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestRebuildTwiceBuildsTheSameState(t *testing.T) {
	w := newWorld(t)
	evs := feedgen.Events(3000, 1)
	w.publish(t, evs[:1500])
	w.publishUnsigned(t, unsignedEvent(t))
	w.publish(t, evs[1500:])

	a, refusedA := rebuild(t, w)
	b, refusedB := rebuild(t, w)
	if refusedA != 1 || refusedB != 1 {
		t.Errorf("refused %d and %d messages, want the unsigned one", refusedA, refusedB)
	}
	if da, db := digest(t, a), digest(t, b); da != db {
		t.Errorf("two rebuilds differ: %s, %s", da, db)
	}
	if got, want := lastApplied(t, a), w.lastSeq(t); got != want {
		t.Errorf("last applied %d, stream ends at %d", got, want)
	}
	page, err := a.Events(context.Background(), feed.Query{Q: "forged"})
	if err != nil || len(page.Events) != 0 {
		t.Errorf("the unsigned event is in the store: %v, %v", page.Events, err)
	}

	t.Run("a rebuild into a store that has it all changes nothing", func(t *testing.T) {
		before := digest(t, a)
		if err := feedbus.Rebuild(context.Background(), w.js, a, w.v, nil); err != nil {
			t.Fatal(err)
		}
		if after := digest(t, a); after != before {
			t.Error("digest changed")
		}
	})
	t.Run("the live projection builds the same state", func(t *testing.T) {
		st := openStore(t, "")
		c, err := feedbus.Project(context.Background(), w.bus, st, feedbus.Config{Verifier: w.v})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Stop()
		last := w.lastSeq(t)
		bustest.Progressing(t, time.Minute, "the projection catches up", func() uint64 { return lastApplied(t, st) }, func() bool { return lastApplied(t, st) == last })
		if got, want := digest(t, st), digest(t, a); got != want {
			t.Errorf("live projection %s, rebuild %s", got, want)
		}
		if dls := bustest.DeadLetters(t, w.js); len(dls) != 1 || dls[0].Reason != string(sign.ReasonUnsigned) {
			t.Errorf("dead letters: %+v, want the unsigned event", dls)
		}
	})
}

func TestRebuildOfAnEmptyStreamDoesNothing(t *testing.T) {
	w := newWorld(t)
	st := openStore(t, "")
	calls := 0
	if err := feedbus.Rebuild(context.Background(), w.js, st, w.v, func(done, total uint64) {
		calls++
		if done != 0 || total != 0 {
			t.Errorf("progress %d/%d", done, total)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if calls == 0 {
		t.Error("progress was never called")
	}
}

func TestRebuildStopsWhenCancelled(t *testing.T) {
	w := newWorld(t)
	w.publish(t, feedgen.Events(3000, 2))
	ctx, cancel := context.WithCancel(context.Background())
	st := openStore(t, "")
	err := feedbus.Rebuild(ctx, w.js, st, w.v, func(done, total uint64) {
		if done >= feedbus.RebuildBatch {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestProjectRecordsTimeToPropagate(t *testing.T) {
	w := newWorld(t)
	t0 := feedgen.Start
	mk := func(cc string, p events.Payload, at time.Duration, id string) event.Event {
		e, err := events.New(events.Source{Country: cc, Service: "node"}, "mosip-id-repository", p,
			events.WithTime(t0.Add(at)), events.WithID(id))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	pub, _ := events.Sample(events.TypeFixPublished)
	fp := pub.(events.FixPublished)
	assess := func(cc string) events.FixAssessed {
		return events.FixAssessed{FixID: fp.FixID, PatchID: fp.PatchID, Verdict: events.VerdictApplies, Branch: cc, Head: fp.Commit}
	}
	adopt := events.FixAdopted{FixID: fp.FixID, PatchID: fp.PatchID, Commit: fp.Commit, Branch: "main"}
	evs := []event.Event{
		mk("lk", assess("lk"), 30*time.Minute, "a-lk"), // before the fix: counted when it comes
		mk("ma", fp, 0, "fix"),
		mk("ph", assess("ph"), time.Hour, "a-ph-1"),
		mk("ph", assess("ph"), 2*time.Hour, "a-ph-2"), // not the first: not counted
		mk("ph", adopt, 5*time.Hour, "ad-ph"),
	}
	for _, e := range evs {
		cc, _ := e.Extensions()[events.ExtCountry].(string)
		if _, err := w.pubs[cc].Publish(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewRegistry()
	st := openStore(t, "")
	// The histograms are observed once a batch committed, before Applied
	// hears of it.
	var settled atomic.Uint64
	c, err := feedbus.Project(context.Background(), w.bus, st, feedbus.Config{Verifier: w.v, Registerer: reg,
		Applied: func(rs []feed.Record) { settled.Store(rs[len(rs)-1].Seq) }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	last := w.lastSeq(t)
	bustest.Eventually(t, 10*time.Second, "the projection catches up", func() bool { return settled.Load() == last })

	got := map[string]string{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetType() != dto.MetricType_HISTOGRAM {
			continue // the lag and resets
		}
		for _, m := range mf.GetMetric() {
			h := m.GetHistogram()
			got[mf.GetName()+"{"+m.GetLabel()[0].GetValue()+"}"] = fmt.Sprintf("%d %.0f", h.GetSampleCount(), h.GetSampleSum())
		}
	}
	want := map[string]string{
		"dpihub_fix_time_to_assess_seconds{lk}": "1 1800",
		"dpihub_fix_time_to_assess_seconds{ph}": "1 3600",
		"dpihub_fix_time_to_adopt_seconds{ph}":  "1 18000",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("histograms:\n got %v\nwant %v", got, want)
	}

	t.Run("a second projector shares the registry", func(t *testing.T) {
		c2, err := feedbus.Project(context.Background(), w.bus, openStore(t, ""), feedbus.Config{Name: "feed-2", Verifier: w.v, Registerer: reg})
		if err != nil {
			t.Fatal(err)
		}
		c2.Stop()
	})
	t.Run("a verifier is required", func(t *testing.T) {
		if _, err := feedbus.Project(context.Background(), w.bus, st, feedbus.Config{}); err == nil {
			t.Error("no error")
		}
	})
}
