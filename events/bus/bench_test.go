package bus_test

// Benchmarks of the event fabric next to the JetStream and ed25519 it is
// built on, side by side in one run, against a real embedded nats-server
// (file store in the benchmark's temp dir, TCP loopback).
//
// Each benchmark op moves a fixed number of events (-bus.events, default
// 20,000), so that `go test -bench=. -benchtime=1x` already measures
// something; rates are reported with b.ReportMetric in units that say
// what they are:
//
//	events/s, raw_events/s, bus_events/s     throughput of one side
//	ratio_vs_raw, ratio_vs_…                 ours divided by the reference
//	ops/s                                    crypto operations per second
//	cpu_us/event, …_cpu_us/event, cpu_us/op  CPU time of the whole process
//	                                         (server included) per event or op
//	cpu_cores_busy                           CPU time / wall time
//	msg_bytes                                size of one signed message
//
// Rates are wall-clock and drop when other processes share the cores; the
// CPU times do not, so compare those across runs on a busy machine.
// ns/op, B/op and allocs/op cover only the measured parts of an op, not
// the making of its input events. To profile the fabric alone:
//
//	go test -run='^$' -bench=EndToEnd -benchtime=1x -cpuprofile cpu.out ./bus/
//	go tool pprof -tagfocus part=fabric bus.test cpu.out

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"flag"
	"fmt"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/access"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/events/subject"
)

var benchEvents = flag.Int("bus.events", 20_000, "events per benchmark op in the bus benchmarks")

// asyncWindow is the async publish window of both the raw reference and the
// bus (nats.go's default, set explicitly so that the comparison is fair
// whatever the default becomes).
const asyncWindow = 4000

// benchType is the event type the benchmarks move: a typical event, whose
// structured-mode message is about 600 bytes unsigned.
const benchType = events.TypeFixAssessed

// benchEnv is one embedded server with the bus open on it.
type benchEnv struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	bus *bus.Bus
}

func newBenchEnv(b *testing.B) benchEnv {
	b.Helper()
	s := bustest.Server(b, b.TempDir())
	nc, _ := bustest.Connect(b, s)
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(asyncWindow))
	if err != nil {
		b.Fatal(err)
	}
	return benchEnv{nc: nc, js: js, bus: bustest.Open(b, js)}
}

// fabricConsumer is the consumer of the end-to-end benchmark, and the
// service whose identity runs it.
const fabricConsumer = "e2e"

// newFabric starts a server with the bus open and returns two more
// connections' buses, as a country's node and a hub service have them:
// the publisher's, as country:ma, and the consumer's, as service:e2e,
// each with its own credentials and permissions. With auth false the
// server lets anyone in and both connect anonymously: the same fabric
// without authentication, to compare.
func newFabric(b *testing.B, auth bool) (pub, sub *bus.Bus) {
	b.Helper()
	var opts []bustest.Option
	if !auth {
		opts = append(opts, bustest.WithoutAuth())
	}
	s := bustest.Server(b, b.TempDir(), opts...)
	_, admin := bustest.Connect(b, s)
	bustest.Open(b, admin)
	attach := func(id access.Identity) *bus.Bus {
		nc, _ := bustest.ConnectAs(b, s, id)
		js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(asyncWindow))
		if err != nil {
			b.Fatal(err)
		}
		bb, err := bus.Open(context.Background(), js, bus.Config{Attach: true})
		if err != nil {
			b.Fatal(err)
		}
		return bb
	}
	return attach(access.Country("ma")), attach(access.Service(fabricConsumer))
}

// makeEvents makes n distinct, valid, unsigned events of country cc: one
// built by events.New, the others clones with fresh UUIDv7 ids.
func makeEvents(b *testing.B, cc string, n int) []event.Event {
	b.Helper()
	p, _ := events.Sample(benchType)
	// An assessment of another country's fix: the authority table
	// (events.Authorize) refuses a country assessing its own.
	fa := p.(events.FixAssessed)
	fa.FixID = "ph-fix-0042"
	if cc == "ph" {
		fa.FixID = "ma-fix-0042"
	}
	tmpl, err := events.New(events.Source{Country: cc, Service: "node"}, project, fa)
	if err != nil {
		b.Fatal(err)
	}
	out := make([]event.Event, n)
	for i := range out {
		out[i] = tmpl.Clone()
		out[i].SetID(uuid.Must(uuid.NewV7()).String())
	}
	return out
}

// rawMsgs signs and encodes evs as the Publisher would, in parallel, and
// returns the messages with their msg-ids: the raw reference publishes
// exactly these bytes.
func rawMsgs(b *testing.B, s *sign.Signer, evs []event.Event) ([]*nats.Msg, []string) {
	b.Helper()
	msgs := make([]*nats.Msg, len(evs))
	ids := make([]string, len(evs))
	parallel(len(evs), runtime.GOMAXPROCS(0), func(i int) {
		e := evs[i].Clone()
		if err := s.Sign(&e); err != nil {
			panic(err)
		}
		sub, err := subject.Of(e)
		if err != nil {
			panic(err)
		}
		if msgs[i], err = bus.Encode(sub.String(), e); err != nil {
			panic(err)
		}
		ids[i] = bus.MsgID(e)
	})
	return msgs, ids
}

// parallel calls f(0..n-1) from g goroutines and returns when all are done.
func parallel(n, g int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range g {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				f(i)
			}
		})
	}
	wg.Wait()
}

func rate(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }

// cpuPerEvent is the CPU time of the whole process (the server's included)
// per event, in microseconds: unlike a rate, it does not move when other
// processes compete for the cores.
func cpuPerEvent(cpu time.Duration, n int) float64 { return float64(cpu.Microseconds()) / float64(n) }

// refPublish is the reference publisher: JetStream async publish with the
// same msg-id and expected-stream options as the bus, every ack checked.
func refPublish(b *testing.B, js jetstream.JetStream, msgs []*nats.Msg, ids []string) time.Duration {
	b.Helper()
	start := time.Now()
	futs := make([]jetstream.PubAckFuture, len(msgs))
	for i, m := range msgs {
		f, err := js.PublishMsgAsync(m, jetstream.WithMsgID(ids[i]), jetstream.WithExpectStream(bus.Stream))
		if err != nil {
			b.Fatalf("raw publish: %v", err)
		}
		futs[i] = f
	}
	for _, f := range futs {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			b.Fatalf("raw publish ack: %v", err)
		}
	}
	return time.Since(start)
}

// busPublish publishes evs with Publisher.PublishBatch.
func busPublish(b *testing.B, p *bus.Publisher, evs []event.Event) time.Duration {
	b.Helper()
	start := time.Now()
	if err := p.PublishBatch(context.Background(), evs); err != nil {
		b.Fatalf("PublishBatch: %v", err)
	}
	return time.Since(start)
}

// refFetch is the reference consumer: a durable pull consumer that fetches
// 500 at a time and acks each message, without looking at it.
func refFetch(b *testing.B, js jetstream.JetStream, durable string, n int) time.Duration {
	b.Helper()
	ctx := context.Background()
	start := time.Now()
	cons, err := js.CreateOrUpdateConsumer(ctx, bus.Stream, jetstream.ConsumerConfig{
		Durable: durable, AckPolicy: jetstream.AckExplicitPolicy, DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		b.Fatal(err)
	}
	for got := 0; got < n; {
		batch, err := cons.Fetch(min(500, n-got), jetstream.FetchMaxWait(10*time.Second))
		if err != nil {
			b.Fatalf("fetch: %v", err)
		}
		for m := range batch.Messages() {
			if err := m.Ack(); err != nil {
				b.Fatalf("ack: %v", err)
			}
			got++
		}
		if err := batch.Error(); err != nil {
			b.Fatalf("fetch after %d of %d: %v", got, n, err)
		}
	}
	return time.Since(start)
}

// busConsumer starts bus.Consume with a fresh Verifier (so every signature
// is checked by ed25519, as in a process that sees the events first) and a
// handler that does nothing. The returned wait gives the time the n-th
// event was handled, and stops the consumer.
func busConsumer(b *testing.B, on *bus.Bus, tl *sign.TrustList, name string, n int) (wait func() time.Time) {
	b.Helper()
	v, err := sign.NewVerifier(tl)
	if err != nil {
		b.Fatal(err)
	}
	var handled atomic.Int64
	done := make(chan time.Time, 1)
	c, err := on.Consume(context.Background(), bus.ConsumerConfig{Name: name, Verifier: v},
		func(context.Context, event.Event) error {
			if handled.Add(1) == int64(n) {
				done <- time.Now()
			}
			return nil
		})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Stop)
	return func() time.Time {
		defer c.Stop()
		select {
		case end := <-done:
			return end
		case <-time.After(3 * time.Minute):
			b.Fatalf("consumer %s handled %d of %d events in 3 minutes", name, handled.Load(), n)
			return time.Time{}
		}
	}
}

// BenchmarkPublish compares raw JetStream async publish of pre-signed,
// pre-encoded messages with Publisher.PublishBatch of the same kind of
// events, which validates, signs and encodes them itself. Each side gets a
// fresh server.
func BenchmarkPublish(b *testing.B) {
	n := *benchEvents
	cs, _ := bustest.Countries(b, "ma")
	signer := cs["ma"].Signer
	var rawT, busT, rawCPU, busCPU time.Duration
	var size int
	for b.Loop() {
		b.StopTimer()
		rawEnv, busEnv := newBenchEnv(b), newBenchEnv(b)
		msgs, ids := rawMsgs(b, signer, makeEvents(b, "ma", n))
		size = len(msgs[0].Data)
		evs := makeEvents(b, "ma", n)
		b.StartTimer()
		cpu0 := cpuTime()
		rawT += refPublish(b, rawEnv.js, msgs, ids)
		cpu1 := cpuTime()
		busT += busPublish(b, busEnv.bus.Publisher(signer), evs)
		rawCPU, busCPU = rawCPU+cpu1-cpu0, busCPU+cpuTime()-cpu1
	}
	raw, ours := rate(b.N*n, rawT), rate(b.N*n, busT)
	b.ReportMetric(raw, "raw_events/s")
	b.ReportMetric(ours, "bus_events/s")
	b.ReportMetric(ours/raw, "ratio_vs_raw")
	b.ReportMetric(cpuPerEvent(rawCPU, b.N*n), "raw_cpu_us/event")
	b.ReportMetric(cpuPerEvent(busCPU, b.N*n), "bus_cpu_us/event")
	b.ReportMetric(float64(size), "msg_bytes")
}

// BenchmarkConsume compares a raw durable pull consumer (Fetch(500) + Ack)
// with bus.Consume (decode, verify, validate, dedupe, a handler that does
// nothing, ack) over the same n stored signed events.
func BenchmarkConsume(b *testing.B) {
	n := *benchEvents
	cs, tl := bustest.Countries(b, "ma")
	var rawT, busT, rawCPU, busCPU time.Duration
	for b.Loop() {
		b.StopTimer()
		env := newBenchEnv(b)
		if err := env.bus.Publisher(cs["ma"].Signer).PublishBatch(context.Background(), makeEvents(b, "ma", n)); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		cpu0 := cpuTime()
		rawT += refFetch(b, env.js, "raw", n)
		cpu1 := cpuTime()
		start := time.Now()
		busT += busConsumer(b, env.bus, tl, "bus", n)().Sub(start)
		rawCPU, busCPU = rawCPU+cpu1-cpu0, busCPU+cpuTime()-cpu1
	}
	raw, ours := rate(b.N*n, rawT), rate(b.N*n, busT)
	b.ReportMetric(raw, "raw_events/s")
	b.ReportMetric(ours, "bus_events/s")
	b.ReportMetric(ours/raw, "ratio_vs_raw")
	b.ReportMetric(cpuPerEvent(rawCPU, b.N*n), "raw_cpu_us/event")
	b.ReportMetric(cpuPerEvent(busCPU, b.N*n), "bus_cpu_us/event")
}

// paeMsgs returns n DSSE pre-authentication encodings of verification
// material of the form dpihub signs ({"core","ext","signedextattrs"}):
// the exact messages ed25519 signs for dpihub events.
func paeMsgs(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		var seed [8]byte
		binary.LittleEndian.PutUint64(seed[:], uint64(i))
		d := sha256.Sum256(seed[:])
		e := sha256.Sum256(d[:])
		m := `{"core":"` + base64.StdEncoding.EncodeToString(d[:]) + `","ext":"` + base64.StdEncoding.EncodeToString(e[:]) + `","signedextattrs":["country"]}`
		out[i] = dsse.PAE(sign.PayloadType, []byte(m))
	}
	return out
}

// cryptoOps runs ops operations f(i) from g goroutines and returns the
// elapsed time.
func cryptoOps(ops, g int, f func(i int)) time.Duration {
	start := time.Now()
	parallel(ops, g, f)
	return time.Since(start)
}

// BenchmarkCrypto measures the bare cost of the signatures: ed25519.Sign
// and ed25519.Verify of the messages dpihub signs (Verify also as
// sign.Verifier does it, with the key expanded once), and the full per-event
// sign.Signer.Sign and sign.Verifier.Verify (digests, DSSE envelope,
// base64, JSON, checks; a fresh Verifier, so no cache hits), in one
// goroutine and in GOMAXPROCS goroutines.
func BenchmarkCrypto(b *testing.B) {
	const ops = 4000
	k, err := sign.GenerateKey("ma")
	if err != nil {
		b.Fatal(err)
	}
	signer, _ := sign.NewSigner(k)
	tl := &sign.TrustList{}
	tl.Add(sign.Trusted(k, time.Time{}, time.Time{}))
	msgs := paeMsgs(ops)
	sigs := make([][]byte, ops)
	for i, m := range msgs {
		sigs[i] = ed25519.Sign(k.Key, m)
	}
	pub := k.Public()
	for _, g := range []int{1, runtime.GOMAXPROCS(0)} {
		run := func(name string, setup func() func(i int)) {
			b.Run(fmt.Sprintf("%s/goroutines=%d", name, g), func(b *testing.B) {
				var d, cpu time.Duration
				for b.Loop() {
					b.StopTimer()
					f := setup()
					b.StartTimer()
					cpu0 := cpuTime()
					d += cryptoOps(ops, g, f)
					cpu += cpuTime() - cpu0
				}
				b.ReportMetric(rate(b.N*ops, d), "ops/s")
				b.ReportMetric(cpuPerEvent(cpu, b.N*ops), "cpu_us/op")
			})
		}
		run("ed25519.Sign", func() func(int) {
			return func(i int) { ed25519.Sign(k.Key, msgs[i]) }
		})
		run("ed25519.Verify", func() func(int) {
			return func(i int) {
				if !ed25519.Verify(pub, msgs[i], sigs[i]) {
					panic("signature does not verify")
				}
			}
		})
		run("ed25519.Verify-expanded-key", func() func(int) {
			verify := expandedVerify(b, pub)
			return func(i int) {
				if !verify(msgs[i], sigs[i]) {
					panic("signature does not verify")
				}
			}
		})
		run("Signer.Sign", func() func(int) {
			evs := makeEvents(b, "ma", ops)
			return func(i int) {
				if err := signer.Sign(&evs[i]); err != nil {
					panic(err)
				}
			}
		})
		run("Verifier.Verify", func() func(int) {
			evs := makeEvents(b, "ma", ops)
			parallel(ops, runtime.GOMAXPROCS(0), func(i int) { _ = signer.Sign(&evs[i]) })
			v, err := sign.NewVerifier(tl)
			if err != nil {
				panic(err)
			}
			return func(i int) {
				if _, err := v.Verify(evs[i]); err != nil {
					panic(err)
				}
			}
		})
	}
}

// BenchmarkEndToEnd publishes n events with PublishBatch while a bus
// consumer consumes them, and measures from the first publish to the last
// handled event: as in production, the publisher connects with a
// country's credentials and the consumer with a hub service's, each
// confined by its permissions (events/s); and the same on a server
// without authentication (noauth_events/s; ratio_vs_noauth is what
// authentication leaves of the rate). In the same op it measures its
// references: raw async
// publish and raw fetch+ack of n pre-signed messages on another fresh
// server, and the crypto limit 1/(1/sign + 1/verify) from ed25519.Sign and
// ed25519 verification with an expanded key (as sign.Verifier does it) in
// GOMAXPROCS goroutines: no fabric that signs on one side and verifies on
// the other can beat it on the same cores.
func BenchmarkEndToEnd(b *testing.B) {
	n := *benchEvents
	g := runtime.GOMAXPROCS(0)
	cs, tl := bustest.Countries(b, "ma")
	signer := cs["ma"].Signer
	k := cs["ma"].Key
	const cops = 4000
	pae := paeMsgs(cops)
	sigs := make([][]byte, cops)
	var e2eT, cpuT, noAuthT, noAuthCPU, pubT, fetchT, signT, verifyT time.Duration
	for b.Loop() {
		b.StopTimer()
		refEvs, evs := makeEvents(b, "ma", n), makeEvents(b, "ma", n)
		// Goroutines inherit profiler labels, the servers' too, so that
		// `go tool pprof -tagfocus part=fabric` shows the fabric alone.
		pprof.Do(context.Background(), pprof.Labels("part", "reference"), func(context.Context) {
			ref := newBenchEnv(b)
			msgs, ids := rawMsgs(b, signer, refEvs)
			pubT += refPublish(b, ref.js, msgs, ids)
			fetchT += refFetch(b, ref.js, "raw", n)
			signT += cryptoOps(cops, g, func(i int) { sigs[i] = ed25519.Sign(k.Key, pae[i]) })
			verify := expandedVerify(b, k.Public())
			verifyT += cryptoOps(cops, g, func(i int) { verify(pae[i], sigs[i]) })
		})
		// With and without authentication, twice each in mirrored order
		// (on, off, off, on), so that neither always runs first on a
		// machine the other warmed up, also when -benchtime=1x gives one
		// op per run.
		for _, auth := range []bool{true, false, false, true} {
			pprof.Do(context.Background(), pprof.Labels("part", "fabric"), func(context.Context) {
				pub, sub := newFabric(b, auth)
				wait := busConsumer(b, sub, tl, fabricConsumer, n)
				b.StartTimer()
				start, cpu0 := time.Now(), cpuTime()
				pubErr := make(chan error, 1)
				go func() { pubErr <- pub.Publisher(signer).PublishBatch(context.Background(), evs) }()
				end := wait()
				if err := <-pubErr; err != nil {
					b.Fatalf("PublishBatch: %v", err)
				}
				b.StopTimer()
				if auth {
					e2eT += end.Sub(start)
					cpuT += cpuTime() - cpu0
				} else {
					noAuthT += end.Sub(start)
					noAuthCPU += cpuTime() - cpu0
				}
			})
		}
		b.StartTimer() // b.Loop wants it running
	}
	// Each op ran the fabric twice with authentication and twice without.
	fabricEvents := 2 * b.N * n
	ours := rate(fabricEvents, e2eT)
	limit := 1 / (1/rate(b.N*cops, signT) + 1/rate(b.N*cops, verifyT))
	b.ReportMetric(ours, "events/s")
	b.ReportMetric(rate(fabricEvents, noAuthT), "noauth_events/s")
	b.ReportMetric(ours/rate(fabricEvents, noAuthT), "ratio_vs_noauth")
	b.ReportMetric(cpuPerEvent(noAuthCPU, fabricEvents), "noauth_cpu_us/event")
	b.ReportMetric(ours/rate(b.N*n, pubT), "ratio_vs_raw_publish")
	b.ReportMetric(ours/rate(b.N*n, fetchT), "ratio_vs_raw_fetch")
	b.ReportMetric(ours/limit, "ratio_vs_crypto_limit")
	b.ReportMetric(limit, "crypto_limit_events/s")
	b.ReportMetric(cpuPerEvent(cpuT, fabricEvents), "cpu_us/event")
	b.ReportMetric(cpuT.Seconds()/e2eT.Seconds(), "cpu_cores_busy")
}

// expandedVerify verifies ed25519 signatures of pub as sign.Verifier does:
// the key expanded once (curve25519-voi), the rules of crypto/ed25519.
func expandedVerify(b *testing.B, pub ed25519.PublicKey) func(msg, sig []byte) bool {
	x, err := voi.NewExpandedPublicKey(voi.PublicKey(pub))
	if err != nil {
		b.Fatal(err)
	}
	opts := &voi.Options{Verify: voi.VerifyOptionsStdLib}
	return func(msg, sig []byte) bool { return voi.VerifyExpandedWithOptions(x, msg, sig, opts) }
}
