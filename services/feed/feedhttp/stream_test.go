package feedhttp_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/events/problem"
	"github.com/dpihub/dpihub/services/feed"
	"github.com/dpihub/dpihub/services/feed/feedbus/feedgen"
	"github.com/dpihub/dpihub/services/feed/feedhttp"
)

// generated applies n generated events to st from sequence first on.
func generated(t testing.TB, st feed.Store, first uint64, evs []event.Event) {
	t.Helper()
	for i, e := range evs {
		if err := st.Apply(context.Background(), e, first+uint64(i), feedgen.Start.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
	}
}

// openStream opens /api/v1/stream?query with lastID ("" for none) and
// returns the response, ended with the test.
func openStream(t testing.TB, base, query, lastID string, c *http.Client) *http.Response {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/stream?"+query, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	if c == nil {
		c = http.DefaultClient
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

// smallBuffers serves h where every accepted connection has a small send
// buffer, so that a client that does not read stalls the server's writes
// after a few kilobytes rather than after the kernel's megabytes.
func smallBuffers(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = smallListener{srv.Listener}
	srv.Start()
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv.URL
}

type smallListener struct{ net.Listener }

func (l smallListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(2048)
	}
	return c, err
}

// sluggish is a client whose connections have a small receive buffer.
func sluggish() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(2048)
		}
		return c, err
	}}}
}

func TestStreamDropsAClientThatNeverReadsWhileOthersKeepReceiving(t *testing.T) {
	st := openStore(t)
	bc := feedhttp.NewBroadcaster()
	reg := prometheus.NewRegistry()
	m, err := feedhttp.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	srv := smallBuffers(t, feedhttp.New(st, feedhttp.WithBroadcaster(bc), feedhttp.WithStreamBuffer(8), feedhttp.WithMetrics(m)))

	slow := openStream(t, srv, "", "", sluggish()) // never read until it is dropped
	readers := make([]<-chan sse, 3)
	for i := range readers {
		readers[i], _ = readSSE(openStream(t, srv, "", "", nil).Body)
	}
	bustest.Eventually(t, 10*time.Second, "four live streams", func() bool { return bc.Subscribers() == 4 })

	// One event at a time, each read by the readers before the next: the
	// readers are never behind, the slow client always more.
	evs := feedgen.Events(400, 7)
	live := bc.Wrap(st)
	dropped := -1
	for i, e := range evs {
		generated(t, live, uint64(i+1), []event.Event{e})
		for _, r := range readers {
			if got := next(t, r, 10*time.Second); got.ID != strconv.Itoa(i+1) {
				t.Fatalf("a reader got id %s, want %d", got.ID, i+1)
			}
		}
		if dropped < 0 && bc.Subscribers() == 3 {
			dropped = i + 1
		}
	}
	if dropped < 0 {
		t.Fatal("the client that never reads was not dropped")
	}
	if n := testutil.ToFloat64(m.DroppedCounter()); n != 1 {
		t.Fatalf("dropped streams: %v, want 1", n)
	}
	// Its connection was closed: what it has ends, and it resumes from its
	// last id without a gap.
	var lastID string
	slowEvs, _ := readSSE(slow.Body)
	for e := range slowEvs {
		lastID = e.ID
	}
	if lastID == "" {
		t.Fatal("the slow client got nothing before it was dropped")
	}
	from, _ := strconv.Atoi(lastID)
	resumed, _ := readSSE(openStream(t, srv, "", lastID, nil).Body)
	for seq := from + 1; seq <= len(evs); seq++ {
		if e := next(t, resumed, 10*time.Second); e.ID != strconv.Itoa(seq) {
			t.Fatalf("resumed: id %s, want %d", e.ID, seq)
		}
	}
	t.Logf("dropped after event %d, had read up to %s", dropped, lastID)
}

// With ConnContext the server bounds a stream's send buffer itself, so a
// client that never reads is dropped after hundreds of events, not after
// the megabytes the kernel would otherwise buffer for it.
func TestStreamBoundsTheSendBufferOfAClientThatNeverReads(t *testing.T) {
	st := openStore(t)
	bc := feedhttp.NewBroadcaster()
	// The buffer of 256 events is the fan-out's part; the rest is the
	// connection's.
	srv := httptest.NewUnstartedServer(feedhttp.New(st, feedhttp.WithBroadcaster(bc), feedhttp.WithStreamBuffer(256)))
	srv.Config.ConnContext = feedhttp.ConnContext
	srv.Start()
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	openStream(t, srv.URL, "", "", sluggish()) // never read
	reader, _ := readSSE(openStream(t, srv.URL, "", "", nil).Body)
	bustest.Eventually(t, 10*time.Second, "two live streams", func() bool { return bc.Subscribers() == 2 })

	const n = 2000 // about 2 MB of frames
	evs := feedgen.Events(n, 11)
	live := bc.Wrap(st)
	dropped := -1
	// 20 events at a time, each group read by the reader before the next:
	// the fan-out never holds more than 20 for the client that does not
	// read, so only its connection can make it fall behind.
	for i := 0; i < n && dropped < 0; i += 20 {
		generated(t, live, uint64(i+1), evs[i:i+20])
		for seq := i + 1; seq <= i+20; seq++ {
			if got := next(t, reader, 10*time.Second); got.ID != strconv.Itoa(seq) {
				t.Fatalf("the reader got id %s, want %d", got.ID, seq)
			}
		}
		if bc.Subscribers() == 1 {
			dropped = i + 20
		}
	}
	if dropped < 0 {
		t.Fatalf("the client that never reads was still live after %d events", n)
	}
	t.Logf("dropped after event %d", dropped)
}

func TestStreamFanOutReadsTheStoreOncePerNotification(t *testing.T) {
	st := openStore(t)
	bc := feedhttp.NewBroadcaster()
	reg := prometheus.NewRegistry()
	m, _ := feedhttp.NewMetrics(reg)
	srv := newServer(t, feedhttp.New(st, feedhttp.WithBroadcaster(bc), feedhttp.WithMetrics(m)))
	const streams = 40
	chans := make([]<-chan sse, streams)
	for i := range chans {
		q := ""
		if i%2 == 1 {
			q = "country=" + feedgen.Countries[i%len(feedgen.Countries)]
		}
		chans[i], _ = readSSE(openStream(t, srv, q, "", nil).Body)
	}
	bustest.Eventually(t, 10*time.Second, "every stream is live", func() bool { return bc.Subscribers() == streams })
	evs := feedgen.Events(10, 3)
	live := bc.Wrap(st)
	for i, e := range evs {
		generated(t, live, uint64(i+1), []event.Event{e})
		if got := next(t, chans[0], 10*time.Second); got.ID != strconv.Itoa(i+1) {
			t.Fatalf("id %s, want %d", got.ID, i+1)
		}
	}
	if n := testutil.ToFloat64(m.FanoutReadsCounter()); n != float64(len(evs)) {
		t.Fatalf("%d streams, %d notifications: %v reads of the store, want %d", streams, len(evs), n, len(evs))
	}
}

func TestStreamCapAnswers503WithRetryAfter(t *testing.T) {
	st := openStore(t)
	srv := newServer(t, feedhttp.New(st, feedhttp.WithBroadcaster(feedhttp.NewBroadcaster()), feedhttp.WithMaxStreams(2)))
	first := openStream(t, srv, "", "", nil)
	second := openStream(t, srv, "", "", nil)
	for _, r := range []*http.Response{first, second} {
		if r.StatusCode != 200 {
			t.Fatalf("stream under the cap: %s", r.Status)
		}
	}
	third := openStream(t, srv, "", "", nil)
	b, _ := io.ReadAll(third.Body)
	if third.StatusCode != http.StatusServiceUnavailable || third.Header.Get("Retry-After") == "" ||
		third.Header.Get("Content-Type") != problem.ContentType {
		t.Fatalf("stream over the cap: %s, Retry-After %q, %s: %s", third.Status, third.Header.Get("Retry-After"), third.Header.Get("Content-Type"), b)
	}
	var p problem.Problem
	if err := json.Unmarshal(b, &p); err != nil || p.Type != feedhttp.TypeUnavailable || p.Status != 503 {
		t.Fatalf("problem %+v (%v)", p, err)
	}
	// A stream that ends frees its place.
	first.Body.Close()
	bustest.Eventually(t, 10*time.Second, "a place frees up", func() bool {
		r := openStream(t, srv, "", "", nil)
		defer r.Body.Close()
		return r.StatusCode == 200
	})
}

func TestStreamLastEventIDBeyondTheStoreGetsAReset(t *testing.T) {
	st := openStore(t)
	steps := story(t, storyBase)
	apply(t, st, 1, steps[:len(steps)-1])
	bc := feedhttp.NewBroadcaster()
	srv := newServer(t, feedhttp.New(st, feedhttp.WithBroadcaster(bc)))
	evs, _ := readSSE(openStream(t, srv, "", "99999", nil).Body)
	last := len(steps) - 1
	reset := next(t, evs, 5*time.Second)
	if reset.Event != "reset" || reset.ID != strconv.Itoa(last) || reset.Data != fmt.Sprintf(`{"last_event_id":%d}`, last) {
		t.Fatalf("first event %+v, want a reset to %d", reset, last)
	}
	bustest.Eventually(t, 10*time.Second, "the stream is live", func() bool { return bc.Subscribers() == 1 })
	apply(t, bc.Wrap(st), uint64(len(steps)), steps[len(steps)-1:])
	if e := next(t, evs, 5*time.Second); e.ID != strconv.Itoa(len(steps)) || e.Event != "" {
		t.Fatalf("after the reset: %+v, want id %d", e, len(steps))
	}
}

func TestStreamResumeFromFarBackIsServedInPagesThenGoesLive(t *testing.T) {
	st := openStore(t)
	evs := feedgen.Events(700, 11) // several catch-up pages
	generated(t, st, 1, evs[:650])
	bc := feedhttp.NewBroadcaster()
	srv := newServer(t, feedhttp.New(st, feedhttp.WithBroadcaster(bc)))
	tests := []struct {
		name, query, lastID string
		want                func(e feed.Event) bool
	}{
		{"everything from the start", "", "0", func(feed.Event) bool { return true }},
		{"one country from the start", "country=ke", "0", func(e feed.Event) bool { return e.Country == "ke" }},
		{"everything after a middle id", "", "123", func(e feed.Event) bool { return e.Seq > 123 }},
	}
	streams := make([]<-chan sse, len(tests))
	for i, tc := range tests {
		streams[i], _ = readSSE(openStream(t, srv, tc.query, tc.lastID, nil).Body)
	}
	bustest.Eventually(t, 10*time.Second, "every stream caught up and is live", func() bool { return bc.Subscribers() == len(tests) })
	generated(t, bc.Wrap(st), 651, evs[650:])
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			for seq := uint64(1); seq <= uint64(len(evs)); seq++ {
				e := feedhttp.EventOf(evs[seq-1], seq)
				if !tc.want(e) {
					continue
				}
				got := next(t, streams[i], 10*time.Second)
				if got.ID != strconv.FormatUint(seq, 10) {
					t.Fatalf("id %s, want %d", got.ID, seq)
				}
				n++
			}
			if n < 20 {
				t.Fatalf("only %d events: the test needs more", n)
			}
		})
	}
}

// BenchmarkIngestWithStreams ingests 5,000 events through the live
// projector's path (Broadcaster.Wrap) with no stream, with 200 streams
// whose clients never read, and with 200 that read everything.
//
//	go test -run '^$' -bench=IngestWithStreams -benchtime=1x ./feedhttp
func BenchmarkIngestWithStreams(b *testing.B) {
	const n = 5000
	evs := feedgen.Events(n, 42)
	var none time.Duration // ingest with no stream
	for _, bc := range []struct {
		name    string
		streams int
		read    bool
	}{{"streams=0", 0, false}, {"streams=200/never-read", 200, false}, {"streams=200/read", 200, true}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				st := openStore(b)
				br := feedhttp.NewBroadcaster()
				m, _ := feedhttp.NewMetrics(nil)
				srv := httptest.NewUnstartedServer(feedhttp.New(st, feedhttp.WithBroadcaster(br), feedhttp.WithMetrics(m)))
				srv.Config.ConnContext = feedhttp.ConnContext // as the feed and the hub serve it
				srv.Start()
				addr := strings.TrimPrefix(srv.URL, "http://")
				var conns []net.Conn
				done := make(chan int, bc.streams)
				var resumes atomic.Int64
				for range bc.streams {
					c, err := net.Dial("tcp", addr)
					if err != nil {
						b.Fatal(err)
					}
					conns = append(conns, c)
					fmt.Fprintf(c, "GET /api/v1/stream HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
					if bc.read {
						// Read every event, as EventSource would: a
						// dropped stream resumes with Last-Event-ID.
						go func() {
							last := 0
							for {
								sc := bufio.NewScanner(c)
								for sc.Scan() {
									if id, ok := strings.CutPrefix(sc.Text(), "id: "); ok {
										last, _ = strconv.Atoi(id)
										if last == n {
											done <- last
											return
										}
									}
								}
								c.Close()
								resumes.Add(1)
								if c, err = net.Dial("tcp", addr); err != nil {
									done <- last
									return
								}
								fmt.Fprintf(c, "GET /api/v1/stream HTTP/1.1\r\nHost: %s\r\nLast-Event-ID: %d\r\n\r\n", addr, last)
							}
						}()
					}
				}
				bustest.Eventually(b, 30*time.Second, "every stream is live", func() bool { return br.Subscribers() == bc.streams })
				live := br.Wrap(st)
				b.StartTimer()
				start := time.Now()
				generated(b, live, 1, evs)
				ingest := time.Since(start)
				b.StopTimer()
				if bc.read {
					for range bc.streams {
						if got := <-done; got != n {
							b.Fatalf("a reading client got %d events, want %d", got, n)
						}
					}
				}
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				b.ReportMetric(ingest.Seconds(), "ingest-s")
				if bc.streams == 0 {
					none = ingest
				} else if none > 0 {
					b.ReportMetric(ingest.Seconds()/none.Seconds(), "x-no-streams")
				}
				b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MB")
				b.ReportMetric(rssMB("VmRSS"), "rss-MB")
				b.ReportMetric(rssMB("VmHWM"), "peak-rss-MB")
				b.ReportMetric(testutil.ToFloat64(m.DroppedCounter()), "dropped")
				b.ReportMetric(float64(resumes.Load()), "resumes")
				for _, c := range conns {
					c.Close()
				}
				srv.CloseClientConnections()
				srv.Close()
				b.StartTimer()
			}
		})
	}
}

// rssMB is a field of /proc/self/status in MB (0 where there is none).
func rssMB(field string) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}
