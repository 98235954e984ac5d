package sqlite

import (
	"context"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/services/feed"
	"github.com/dpihub/dpihub/services/feed/feedbus"
	"github.com/dpihub/dpihub/services/feed/feedbus/feedgen"
)

// liveWorld is an embedded nats-server with the dpihub streams and a
// signing key per country.
type liveWorld struct {
	js   jetstream.JetStream
	bus  *bus.Bus
	pubs map[string]*bus.Publisher
	v    *sign.Verifier
}

func newLiveWorld(b *testing.B) *liveWorld {
	srv := bustest.Server(b, "")
	_, js := bustest.Connect(b, srv)
	bs := bustest.Open(b, js)
	cs, tl := bustest.Countries(b, append([]string{events.HubCountry}, feedgen.Countries...)...)
	v, err := newVerifier(tl)
	if err != nil {
		b.Fatal(err)
	}
	w := &liveWorld{js: js, bus: bs, pubs: map[string]*bus.Publisher{}, v: v}
	for cc, c := range cs {
		w.pubs[cc] = bs.Publisher(c.Signer)
	}
	return w
}

// benchLive times the live projector (feedbus.Project, its defaults: 1,000
// events or 20ms a transaction) reading n signed events that are in the
// stream already, into a store made by Open, as the feed service runs it:
// the live ingest rate, to set beside the bare insert of the same rows and
// the fabric's end-to-end rate. The projector's goroutines carry the
// profiler label part=live (`go tool pprof -tagfocus part=live`); the
// embedded server's do not.
func benchLive(b *testing.B, n int, bare, fabric time.Duration) {
	ctx := context.Background()
	b.StopTimer()
	w := newLiveWorld(b)
	b.Logf("publishing %d signed events", n)
	if err := eachBatch(n, func(rs []feed.Record) error { return publish(ctx, w.pubs, rs) }); err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	for range b.N {
		st, err := Open(ctx, filepath.Join(b.TempDir(), "feed.db"))
		if err != nil {
			b.Fatal(err)
		}
		var (
			mu   sync.Mutex
			last uint64
			all  = make(chan struct{})
		)
		b.StartTimer()
		start, cpu := time.Now(), cpuTime()
		var p *feedbus.Projector
		pprof.Do(ctx, pprof.Labels("part", "live"), func(ctx context.Context) {
			p, err = feedbus.Project(ctx, w.bus, st, feedbus.Config{Name: "bench-live", Verifier: w.v,
				Applied: func(rs []feed.Record) {
					mu.Lock()
					defer mu.Unlock()
					last = rs[len(rs)-1].Seq
					if last == uint64(n) {
						close(all)
					}
				}})
		})
		if err != nil {
			b.Fatal(err)
		}
		<-all
		d, dcpu := time.Since(start), cpuTime()-cpu
		b.StopTimer()
		p.Stop()
		if err := w.js.DeleteConsumer(ctx, bus.Stream, "bench-live"); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(n)/d.Seconds(), "rows/s")
		b.ReportMetric(dcpu.Seconds(), "cpu-s")
		if bare > 0 {
			b.ReportMetric(bare.Seconds()/d.Seconds(), "x-bare-rate")
		}
		if fabric > 0 {
			b.ReportMetric(fabric.Seconds()/d.Seconds(), "x-fabric-rate")
		}
		st.Close()
	}
}

// benchLatency publishes events (one at a time, each signed by its
// country) at rate a second (0: as fast as the publisher goes) for d (0:
// 20,000 events) while the live projector runs, and reports the time
// from just before each publish to the commit that makes it visible to
// queries (feedbus.Config.Applied), p50 and p99, and the rates.
func benchLatency(b *testing.B, rate int, d time.Duration) {
	ctx := context.Background()
	b.StopTimer()
	n := 20_000
	if rate > 0 {
		n = int(d.Seconds()) * rate
	}
	for range b.N {
		w := newLiveWorld(b)
		st, err := Open(ctx, filepath.Join(b.TempDir(), "feed.db"))
		if err != nil {
			b.Fatal(err)
		}
		g := feedgen.New(7)
		type pending struct{ sent, seen time.Time }
		var (
			mu   sync.Mutex
			byID = make(map[string]*pending, n)
			seen int
			all  = make(chan struct{})
		)
		p, err := feedbus.Project(ctx, w.bus, st, feedbus.Config{Name: "bench-latency", Verifier: w.v,
			Applied: func(rs []feed.Record) {
				now := time.Now()
				mu.Lock()
				defer mu.Unlock()
				for _, r := range rs {
					if x := byID[r.Event.Source()+"#"+r.Event.ID()]; x != nil && x.seen.IsZero() {
						x.seen = now
						if seen++; seen == n {
							close(all)
						}
					}
				}
			}})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		for i := range n {
			cc, e := g.Next()
			if rate > 0 {
				if wait := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))); wait > 0 {
					time.Sleep(wait) // pacing the publisher, not waiting for a condition
				}
			}
			mu.Lock()
			byID[e.Source()+"#"+e.ID()] = &pending{sent: time.Now()}
			mu.Unlock()
			if _, err := w.pubs[cc].Publish(ctx, e); err != nil {
				b.Fatal(err)
			}
		}
		pubRate := float64(n) / time.Since(start).Seconds()
		select {
		case <-all:
		case <-time.After(2 * time.Minute):
			b.Fatalf("only %d of %d events visible after 2 min", seen, n)
		}
		total := time.Since(start)
		b.StopTimer()
		p.Stop()
		lat := make([]float64, 0, n)
		mu.Lock()
		for _, x := range byID {
			lat = append(lat, float64(x.seen.Sub(x.sent))/float64(time.Millisecond))
		}
		mu.Unlock()
		slices.Sort(lat)
		pct := func(q float64) float64 { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
		b.ReportMetric(pct(0.50), "p50-ms")
		b.ReportMetric(pct(0.99), "p99-ms")
		b.ReportMetric(lat[len(lat)-1], "max-ms")
		b.ReportMetric(pubRate, "published/s")
		b.ReportMetric(float64(n)/total.Seconds(), "visible/s")
		st.Close()
	}
}

// benchFabric times the fabric end to end on the same n events, as
// events/bus's BenchmarkEndToEnd does for one country, with every country
// at once: each country's Publisher.PublishBatch of all its events
// (validate, sign, publish, acks), the countries concurrently, while a
// bus.Consume consumer (decode, verify, validate, authorize, dedupe, ack)
// hands them to a handler that does nothing; first publish to last
// handled. The events are generated before the clock starts. It returns
// the time of the last op: the rate the live projector is set beside.
func benchFabric(b *testing.B, n int) (d time.Duration) {
	ctx := context.Background()
	b.StopTimer()
	by := map[string][]event.Event{}
	if err := eachBatch(n, func(rs []feed.Record) error {
		for _, r := range rs {
			cc, _ := r.Event.Extensions()[events.ExtCountry].(string)
			by[cc] = append(by[cc], r.Event)
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	for range b.N {
		w := newLiveWorld(b)
		var handled atomic.Int64
		done := make(chan struct{})
		c, err := w.bus.Consume(ctx, bus.ConsumerConfig{Name: "bench-fabric", Verifier: w.v},
			func(context.Context, event.Event) error {
				if handled.Add(1) == int64(n) {
					close(done)
				}
				return nil
			})
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		b.StartTimer()
		start, cpu := time.Now(), cpuTime()
		var pubs errgroup.Group
		for cc, evs := range by {
			pubs.Go(func() error { return w.pubs[cc].PublishBatch(ctx, evs) })
		}
		published := make(chan error, 1)
		go func() { published <- pubs.Wait() }()
		timeout := time.After(5 * time.Minute)
	wait:
		for {
			select {
			case <-done:
				break wait
			case err := <-published:
				if err != nil {
					b.Fatal(err)
				}
				published = nil // all published: wait for the consumer
			case <-timeout:
				b.Fatalf("handled %d of %d events in 5 minutes", handled.Load(), n)
			}
		}
		d = time.Since(start)
		dcpu := cpuTime() - cpu
		b.StopTimer()
		if published != nil {
			if err := <-published; err != nil {
				b.Fatal(err)
			}
		}
		c.Stop()
		b.ReportMetric(float64(n)/d.Seconds(), "events/s")
		b.ReportMetric(dcpu.Seconds(), "cpu-s")
	}
	return d
}
