package sqlite

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/services/feed"
	"github.com/dpihub/dpihub/services/feed/feedbus"
	"github.com/dpihub/dpihub/services/feed/feedbus/feedgen"
)

// benchEvents is the size of BenchmarkFeed: $DPIHUB_FEED_BENCH_EVENTS,
// default 100,000.
func benchEvents(b *testing.B) int {
	n := 100_000
	if s := os.Getenv("DPIHUB_FEED_BENCH_EVENTS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1000 {
			b.Fatalf("DPIHUB_FEED_BENCH_EVENTS=%q: want a number >= 1000", s)
		}
		n = v
	}
	return n
}

// batchSize is the transaction size of the bare insert, the same as
// feedbus.Rebuild uses with ApplyBatch.
const batchSize = feedbus.RebuildBatch

// BenchmarkFeed measures, side by side on the same generated events:
//
//	bare-insert      the rows (precomputed) into a plain table + a plain FTS5 table,
//	                 with the live store's settings (WAL, synchronous=NORMAL)
//	bare-insert-bulk the same with Create's settings (journal in memory, no sync)
//	apply            the events through Store.ApplyBatch (decode, describe, index, derive)
//	apply-one-by-one Store.Apply, one transaction per event, as the live consumer does
//	search           newest-first searches of rare, uncommon and the most common words
//	rebuild          feedbus.Rebuild from a JetStream stream of the same events, signed,
//	                 into a store made by Create, as dpihub feed rebuild does
//	live             feedbus.Project (the live projector, group commit) from a JetStream
//	                 stream of the same events into a store made by Open, as the feed runs
//	latency-1000/s   publish-to-visible latency through nats-server and the live
//	latency-full     projector, at 1,000 events/s and as fast as one publisher goes
//
// Each sub-benchmark does its whole sized work in one op. The events are
// generated again, batch by batch and untimed, for each sub-benchmark
// rather than kept in memory: a million events held by the benchmark
// would make every garbage collection in the timed code mark gigabytes,
// which the feed service never does.
func BenchmarkFeed(b *testing.B) {
	n := benchEvents(b)
	ctx := context.Background()
	parent := b
	var (
		bare, bareCPU time.Duration // time of the bare insert
		bareBulk      time.Duration // of the bare insert with Create's settings
		applied       *Store
		rare          []string // words of one event each, found while applying
	)
	bareRun := func(b *testing.B, durability []string) (wall, cpu time.Duration) {
		for range b.N {
			b.StopTimer()
			db := openBare(b, durability)
			ins, err := prepareBare(ctx, db)
			if err != nil {
				b.Fatal(err)
			}
			var tokens tokenCache
			wall, cpu = 0, 0
			rows := make([]row, 0, batchSize)
			err = eachBatch(n, func(rs []feed.Record) error {
				rows = rows[:0]
				for _, r := range rs {
					rows = append(rows, project(r, &tokens))
				}
				b.StartTimer()
				start, c := time.Now(), cpuTime()
				err := ins.insert(ctx, rows)
				wall, cpu = wall+time.Since(start), cpu+cpuTime()-c
				b.StopTimer()
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
			ins.close()
			db.Close()
		}
		b.ReportMetric(float64(n)/wall.Seconds(), "rows/s")
		b.ReportMetric(cpu.Seconds(), "cpu-s")
		return wall, cpu
	}
	b.Run("bare-insert", func(b *testing.B) {
		bare, bareCPU = bareRun(b, liveDurability)
	})
	b.Run("bare-insert-bulk", func(b *testing.B) {
		bareBulk, _ = bareRun(b, bulkDurability)
	})
	b.Run("apply", func(b *testing.B) {
		for range b.N {
			b.StopTimer()
			st := openBench(parent) // kept for search
			var d, dcpu time.Duration
			rare = rare[:0]
			step := max(1, n/200)
			err := eachBatch(n, func(rs []feed.Record) error {
				for _, r := range rs {
					if i := int(r.Seq - 1); i/step >= len(rare) && r.Event.Type() == events.TypeFixPublished {
						rare = append(rare, feedgen.RareWord(i))
					}
				}
				b.StartTimer()
				start, cpu := time.Now(), cpuTime()
				err := st.ApplyBatch(ctx, rs)
				d, dcpu = d+time.Since(start), dcpu+cpuTime()-cpu
				b.StopTimer()
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(n)/d.Seconds(), "rows/s")
			b.ReportMetric(dcpu.Seconds(), "cpu-s")
			if bare > 0 {
				b.ReportMetric(bare.Seconds()/d.Seconds(), "x-bare-rate")
				b.ReportMetric(bareCPU.Seconds()/dcpu.Seconds(), "x-bare-cpu-rate")
			}
			applied = st
		}
	})
	b.Run("apply-one-by-one", func(b *testing.B) {
		m := min(n, 20_000)
		for range b.N {
			b.StopTimer()
			st := openBench(b)
			var d time.Duration
			err := eachBatch(m, func(rs []feed.Record) error {
				b.StartTimer()
				start := time.Now()
				defer func() { d += time.Since(start); b.StopTimer() }()
				for _, r := range rs {
					if err := st.Apply(ctx, r.Event, r.Seq, r.Received); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(m)/d.Seconds(), "rows/s")
		}
	})
	b.Run("search", func(b *testing.B) {
		b.StopTimer()
		st := applied
		if st == nil {
			b.Skip("needs the store of apply: run BenchmarkFeed/(apply|search)")
		}
		// Rare: words that only one event has (the titles of fixes
		// spread over the stream); uncommon: the far end of the
		// vocabulary, a few events per 100,000; common: the three most
		// frequent words.
		uncommon := feedgen.UncommonWords(200)
		var common []string
		for range 70 {
			common = append(common, feedgen.CommonWords()...)
		}
		b.StartTimer()
		for range b.N {
			for _, set := range []struct {
				name  string
				words []string
				q     feed.Query // the filters
			}{
				{"rare", rare, feed.Query{}},
				{"uncommon", uncommon, feed.Query{}},
				{"common", common, feed.Query{}},
				{"common+country", common, feed.Query{Country: "ph"}},
				{"common+type", common, feed.Query{Type: events.TypeProposalObjected}},
			} {
				lat := make([]time.Duration, 0, len(set.words))
				found := 0
				for _, w := range set.words {
					q := set.q
					q.Q, q.Limit = w, events.DefaultPageLimit
					start := time.Now()
					page, err := st.Events(ctx, q)
					lat = append(lat, time.Since(start))
					if err != nil {
						b.Fatal(err)
					}
					found += len(page.Events)
				}
				slices.Sort(lat)
				pct := func(p float64) float64 {
					return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
				}
				b.ReportMetric(pct(0.50), set.name+"-p50-ms")
				b.ReportMetric(pct(0.95), set.name+"-p95-ms")
				b.ReportMetric(pct(0.99), set.name+"-p99-ms")
				b.ReportMetric(float64(found)/float64(len(set.words)), set.name+"-hits/query")
			}
		}
	})
	b.Run("rebuild", func(b *testing.B) {
		b.StopTimer()
		srv := bustest.Server(b, "")
		_, js := bustest.Connect(b, srv)
		bs := bustest.Open(b, js)
		cs, tl := bustest.Countries(b, append([]string{events.HubCountry}, feedgen.Countries...)...)
		v, err := newVerifier(tl)
		if err != nil {
			b.Fatal(err)
		}
		pubs := map[string]*bus.Publisher{}
		for cc, c := range cs {
			pubs[cc] = bs.Publisher(c.Signer)
		}
		b.Logf("publishing %d signed events", n)
		if err := eachBatch(n, func(rs []feed.Record) error { return publish(ctx, pubs, rs) }); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		for range b.N {
			// As dpihub feed rebuild does: into a new file, finished and
			// moved into place inside the timed part.
			path := filepath.Join(b.TempDir(), "feed.db")
			st, err := Create(ctx, path)
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			start, cpu := time.Now(), cpuTime()
			if err := feedbus.Rebuild(ctx, js, st, v, nil); err != nil {
				b.Fatal(err)
			}
			if err := st.Finish(ctx); err != nil {
				b.Fatal(err)
			}
			d, dcpu := time.Since(start), cpuTime()-cpu
			b.StopTimer()
			if st, err = Open(ctx, path); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(dcpu.Seconds(), "cpu-s")
			if seq, _ := st.LastSeq(ctx); seq != uint64(n) {
				b.Fatalf("rebuilt up to seq %d of %d", seq, n)
			}
			b.ReportMetric(float64(n)/d.Seconds(), "rows/s")
			b.ReportMetric(d.Seconds(), "s")
			if bare > 0 {
				b.ReportMetric(d.Seconds()/bare.Seconds(), "x-bare-time")
			}
			if bareBulk > 0 {
				b.ReportMetric(d.Seconds()/bareBulk.Seconds(), "x-bare-bulk-time")
			}
			if l, err := loadAverage(); err == nil {
				b.ReportMetric(l, "loadavg")
			}
			// The floor: ed25519 verification alone, n times on every core. No
			// rebuild that checks each event's signature can beat it here.
			floor := ed25519Floor(n)
			b.ReportMetric(floor.Seconds(), "ed25519-floor-s")
			if bare > 0 {
				b.ReportMetric(floor.Seconds()/bare.Seconds(), "ed25519-floor-x-bare-time")
			}
			st.Close()
		}
	})
	var fabric time.Duration
	b.Run("fabric", func(b *testing.B) { fabric = benchFabric(b, n) })
	b.Run("live", func(b *testing.B) { benchLive(b, n, bare, fabric) })
	b.Run("latency-1000/s", func(b *testing.B) { benchLatency(b, 1000, 10*time.Second) })
	b.Run("latency-full", func(b *testing.B) { benchLatency(b, 0, 0) })
}

// eachBatch generates the first n events of the benchmark's stream (seed
// 42, sequence i+1, received 40ms after the event's time) and hands them
// to fn batchSize at a time.
func eachBatch(n int, fn func(rs []feed.Record) error) error {
	g := feedgen.New(42)
	rs := make([]feed.Record, 0, batchSize)
	for i := 0; i < n; i += batchSize {
		rs = rs[:0]
		for j := i; j < min(i+batchSize, n); j++ {
			_, e := g.Next()
			rs = append(rs, feed.Record{Event: e, Seq: uint64(j + 1), Received: e.Time().Add(40 * time.Millisecond)})
		}
		if err := fn(rs); err != nil {
			return err
		}
	}
	return nil
}

// cpuTime is the CPU time (user and system) of this process so far: it
// includes the embedded NATS server's, and it does not count time lost to
// other processes on a shared machine, unlike the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadAverage is the one-minute load average of the machine.
func loadAverage() (float64, error) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, err
	}
	f, _, _ := strings.Cut(string(b), " ")
	return strconv.ParseFloat(f, 64)
}

func openBench(b testing.TB) *Store {
	b.Helper()
	st, err := Open(context.Background(), filepath.Join(b.TempDir(), "feed.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// openBare opens a plain SQLite file with the writer's cache, the given
// journal and sync settings, and one plain table and one plain FTS5 table.
func openBare(b *testing.B, durability []string) *sql.DB {
	b.Helper()
	q := url.Values{}
	for _, p := range append([]string{"cache_size(-65536)", "busy_timeout(10000)"}, durability...) {
		q.Add("_pragma", p)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(b.TempDir(), "bare.db")+"?"+q.Encode())
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	for _, s := range []string{
		`CREATE TABLE events (seq INTEGER PRIMARY KEY, id TEXT, type TEXT, source TEXT, country TEXT, project TEXT,
			time INTEGER, received INTEGER, summary TEXT, data BLOB)`,
		`CREATE VIRTUAL TABLE events_fts USING fts5 (summary, body, files, patchids, cves, meta)`,
	} {
		if _, err := db.Exec(s); err != nil {
			b.Fatal(err)
		}
	}
	return db
}

// bareStmts insert rows into the bare tables.
type bareStmts struct {
	db       *sql.DB
	ins, fts *sql.Stmt
}

func prepareBare(ctx context.Context, db *sql.DB) (*bareStmts, error) {
	ins, err := db.PrepareContext(ctx, `INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return nil, err
	}
	fts, err := db.PrepareContext(ctx, `INSERT INTO events_fts (rowid, summary, body, files, patchids, cves, meta) VALUES (?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		ins.Close()
		return nil, err
	}
	return &bareStmts{db: db, ins: ins, fts: fts}, nil
}

func (b *bareStmts) close() { b.ins.Close(); b.fts.Close() }

// insert writes rows in one transaction, the statements bound to it once.
func (b *bareStmts) insert(ctx context.Context, rows []row) error {
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	ti, tf := tx.StmtContext(ctx, b.ins), tx.StmtContext(ctx, b.fts)
	for _, w := range rows {
		if _, err := ti.ExecContext(ctx, w.seq, w.id, w.typ, w.source, w.country, w.project, w.time, w.received, w.summary, w.data); err != nil {
			tx.Rollback()
			return err
		}
		if _, err := tf.ExecContext(ctx, w.seq, w.summary, w.body, w.files, w.patchIDs, w.cves, w.meta); err != nil {
			tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

// publish publishes a batch of events, each signed by its country.
func publish(ctx context.Context, pubs map[string]*bus.Publisher, rs []feed.Record) error {
	by := map[string][]event.Event{}
	var order []string
	for _, r := range rs {
		cc, _ := r.Event.Extensions()[events.ExtCountry].(string)
		if by[cc] == nil {
			order = append(order, cc)
		}
		by[cc] = append(by[cc], r.Event)
	}
	for _, cc := range order {
		if err := pubs[cc].PublishBatch(ctx, by[cc]); err != nil {
			return fmt.Errorf("publish: %w", err)
		}
	}
	return nil
}

// ed25519Floor is the time n ed25519 verifications of a DSSE-sized
// message take, spread over GOMAXPROCS goroutines, done as sign.Verifier
// does them: with the key expanded once (curve25519-voi, the rules of
// crypto/ed25519).
func ed25519Floor(n int) time.Duration {
	pub, priv, _ := ed25519.GenerateKey(nil)
	msg := make([]byte, 120)
	sig := ed25519.Sign(priv, msg)
	key, err := voi.NewExpandedPublicKey(voi.PublicKey(pub))
	if err != nil {
		panic(err)
	}
	opts := &voi.Options{Verify: voi.VerifyOptionsStdLib}
	workers := runtime.GOMAXPROCS(0)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				if !voi.VerifyExpandedWithOptions(key, msg, sig, opts) {
					panic("ed25519: a good signature does not verify")
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}
