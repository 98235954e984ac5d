package feedhttp

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/problem"
	"github.com/dpihub/dpihub/services/feed"
)

// Bounds of the live stream. Each is a trade between memory and how
// often a client must come back with Last-Event-ID.
const (
	// DefaultMaxStreams is how many streams a handler serves at once
	// (WithMaxStreams); one more is a 503 with Retry-After.
	DefaultMaxStreams = 256
	// DefaultStreamBuffer is how many events a live stream may be behind
	// the fan-out (WithStreamBuffer) before it is dropped. The fan-out
	// hands a stream a whole applied batch at once, so it holds at least
	// the live projector's largest (feedbus.DefaultBatchSize); it holds
	// pointers to frames every stream shares, 8 bytes an event a stream.
	DefaultStreamBuffer = 1024
	// catchUpPage is the page size of a resume: a stream holds at most
	// two pages of the store while it catches up (the newest, which a
	// cursor cannot find again, and the one it is sending).
	catchUpPage = 200
	// maxBatch is the most events one fan-out read takes. A fan-out
	// further behind than that (a stalled read, a burst) drops every
	// stream rather than hold the burst: each resumes from the store.
	maxBatch = 4096
	// writeTimeout bounds one write to a stream: a client that reads
	// nothing for that long is gone.
	writeTimeout = 30 * time.Second
	// flushEvery is how often a live stream flushes at most: under a
	// burst, a stream writes many events per system call instead of one
	// (200 streams flushing every event cost more than the ingest).
	flushEvery = 50 * time.Millisecond
	// streamWriteBuffer is how much a stream gathers before it writes.
	streamWriteBuffer = 32 << 10
	// streamSendBuffer is the kernel's send buffer of a live stream's
	// connection (SO_SNDBUF), where the server knows it (ConnContext).
	// Left to autotuning, a loopback or LAN socket takes megabytes, so a
	// client that never reads absorbs thousands of events, each written
	// for nothing, before the fan-out sees it fall behind: with 200 such
	// clients, the ingest slowed by half.
	streamSendBuffer = 64 << 10
	// retryAfter is what a 503 tells a client to wait, in seconds.
	retryAfter = "5"
)

// TypeUnavailable is the problem type of a 503: the stream is full.
const TypeUnavailable = "urn:dpihub:problem:unavailable"

// prefilter is the part of a query that can be checked on an event in
// memory; full-text q is left to the store.
func prefilter(q feed.Query) func(feed.Event) bool {
	return func(e feed.Event) bool {
		switch {
		case q.Country != "" && e.Country != q.Country,
			q.Project != "" && e.Project != q.Project,
			q.Type != "" && e.Type != q.Type,
			!q.Since.IsZero() && e.Time.Before(q.Since),
			!q.Until.IsZero() && !e.Time.Before(q.Until):
			return false
		}
		return true
	}
}

// streamEvent is what the stream sends as the data of each event: the
// feed.Event plus the UI link, so a page can render it without asking
// again.
type streamEvent struct {
	feed.Event
	ShortType   string `json:"short_type"`
	Kind        string `json:"kind"`
	CountryName string `json:"country_name"`
	Link        string `json:"link"`
}

// frame is one event as the stream writes it, encoded once for every
// stream that sends it.
type frame struct {
	seq  uint64
	data []byte
}

func encodeFrame(e feed.Event) (*frame, error) {
	b, err := json.Marshal(streamEvent{
		Event: e, ShortType: events.ShortType(e.Type), Kind: kind(e.Type), CountryName: countryName(e.Country), Link: eventLink(e),
	})
	if err != nil {
		return nil, err
	}
	return &frame{seq: e.Seq, data: fmt.Appendf(nil, "id: %d\ndata: %s\n\n", e.Seq, b)}, nil
}

// client is one live stream as the fan-out sees it.
type client struct {
	q     feed.Query
	key   string // the query's full-text search, as a key; "" without q
	match func(feed.Event) bool
	ch    chan *frame   // bounded: full means the stream fell behind
	gone  chan struct{} // closed when the fan-out dropped the stream

	mu     sync.Mutex
	killed bool
	rc     *http.ResponseController
}

// deadline lets the next write block for at most writeTimeout, unless the
// stream was dropped: then it fails at once.
func (c *client) deadline() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.killed {
		return errDropped
	}
	_ = c.rc.SetWriteDeadline(time.Now().Add(writeTimeout)) // not every writer has deadlines
	return nil
}

// kill makes a write that is blocked on a client that does not read fail
// now, and every later one too.
func (c *client) kill() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.killed = true
	_ = c.rc.SetWriteDeadline(time.Now())
}

var errDropped = fmt.Errorf("stream dropped: it fell behind")

// fanout reads what was applied once per notification and hands it to
// every live stream of a handler: the cost of an applied event is one
// read of the store, however many streams are open. It runs while a
// stream is live, and stops with the last.
type fanout struct {
	st  feed.Store
	bc  *Broadcaster
	log *zap.Logger
	m   *Metrics

	mu      sync.Mutex // held through a read: a stream joins between reads, never during one
	clients map[*client]struct{}
	last    uint64 // every event up to last was handed out
	stop    func() // nil while not running
}

func newFanout(st feed.Store, bc *Broadcaster, log *zap.Logger, m *Metrics) *fanout {
	return &fanout{st: st, bc: bc, log: log, m: m, clients: map[*client]struct{}{}}
}

// join makes c live if it has every matching event up to pos and pos is
// not behind the fan-out; otherwise it reports false and c must catch up
// from the store further first. After a successful join c receives every
// matching event above the fan-out's position, which is at most pos.
func (f *fanout) join(ctx context.Context, c *client, pos uint64) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stop == nil {
		// Listen before reading where the store is: an event applied in
		// between is then both below last and announced.
		wake, unlisten := f.bc.listen()
		last, err := f.st.LastSeq(ctx)
		if err != nil {
			unlisten()
			return false, err
		}
		f.last = last
		lctx, cancel := context.WithCancel(context.Background())
		f.stop = func() { cancel(); unlisten() }
		go f.loop(lctx, wake)
	}
	if pos < f.last {
		return false, nil
	}
	f.clients[c] = struct{}{}
	f.bc.streams.Add(1)
	return true, nil
}

// leave ends c's part in the fan-out, which stops when no stream is left.
func (f *fanout) leave(c *client) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.clients[c]; ok {
		delete(f.clients, c)
		f.bc.streams.Add(-1)
	}
	if len(f.clients) == 0 && f.stop != nil {
		f.stop()
		f.stop = nil
	}
}

// dropLocked ends a stream that fell behind: its handler closes the
// connection and the client comes back with Last-Event-ID.
func (f *fanout) dropLocked(c *client) {
	delete(f.clients, c)
	f.bc.streams.Add(-1)
	close(c.gone)
	c.kill()
	f.m.dropped.Inc()
}

func (f *fanout) loop(ctx context.Context, wake <-chan struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
			f.deliver(ctx)
		}
	}
}

// deliver reads the events applied since the last read, once, and hands
// each to the streams it matches, without ever waiting for one.
func (f *fanout) deliver(ctx context.Context) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ctx.Err() != nil {
		return // stopped: a later fan-out may own the state
	}
	f.m.fanoutReads.Inc()
	evs, top, overflow, err := newer(ctx, f.st, feed.Query{}, f.last, maxBatch)
	if err != nil {
		if ctx.Err() == nil {
			f.log.Warn("stream fan-out: read the store", zap.Error(err))
		}
		return // the next notification tries again from the same place
	}
	if overflow {
		for c := range f.clients {
			f.dropLocked(c)
		}
		f.last = top
		return
	}
	if len(evs) == 0 {
		return
	}
	// A full-text search is the store's to answer: one read per distinct
	// search among the live streams, over this batch's sequences only.
	hits := map[string]map[uint64]bool{}
	for c := range f.clients {
		key := c.key
		if key == "" {
			continue
		}
		if _, ok := hits[key]; ok {
			continue
		}
		found, _, _, err := newer(ctx, f.st, c.q, f.last, maxBatch)
		if err != nil {
			f.log.Warn("stream fan-out: search", zap.Error(err))
		}
		hits[key] = map[uint64]bool{}
		for _, e := range found {
			hits[key][e.Seq] = true
		}
	}
	for _, e := range evs {
		var fr *frame
		for c := range f.clients {
			if !c.match(e) || c.key != "" && !hits[c.key][e.Seq] {
				continue
			}
			if fr == nil {
				if fr, err = encodeFrame(e); err != nil {
					f.log.Warn("stream fan-out: encode", zap.Uint64("seq", e.Seq), zap.Error(err))
					break
				}
			}
			select {
			case c.ch <- fr:
			default:
				f.dropLocked(c)
			}
		}
	}
	f.last = top
}

// newer returns the stored events matching q with a sequence above seq,
// oldest first, and the highest sequence it saw (seq when none). Past
// limit events it stops and reports overflow, without them.
//
// The store pages newest first, so this pages until it reaches seq: a
// small page first (a live read is a few events behind), larger ones
// while the gap lasts.
func newer(ctx context.Context, st feed.Store, q feed.Query, seq uint64, limit int) (evs []feed.Event, top uint64, overflow bool, err error) {
	q.Cursor, q.Limit, top = "", 16, seq
	for {
		p, err := st.Events(ctx, q)
		if err != nil {
			return nil, seq, false, err
		}
		done := p.Next == ""
		for _, e := range p.Events {
			if e.Seq <= seq {
				done = true
				break
			}
			top = max(top, e.Seq)
			evs = append(evs, e)
		}
		if len(evs) > limit {
			return nil, top, true, nil
		}
		if done {
			break
		}
		q.Cursor = p.Next
		q.Limit = min(2*q.Limit, events.MaxPageLimit)
	}
	slices.Reverse(evs)
	return evs, top, false, nil
}

// catchUp sends the stored events matching q above from, oldest first,
// in pages of the store. first is the newest page, already read. The
// store pages newest first, so catchUp walks down to from keeping only
// the cursors, then reads the pages again oldest first: a resume from
// far back costs two reads of each page but holds at most two pages.
func (s *server) catchUp(ctx context.Context, q feed.Query, from uint64, first feed.Page, emit func([]feed.Event) error) error {
	q.Limit = catchUpPage
	reaches := func(p feed.Page) bool {
		return p.Next == "" || len(p.Events) == 0 || p.Events[len(p.Events)-1].Seq <= from
	}
	var cursors []string // of the pages after first, newest first
	p := first
	for !reaches(p) {
		q.Cursor = p.Next
		var err error
		if p, err = s.st.Events(ctx, q); err != nil {
			return err
		}
		cursors = append(cursors, q.Cursor)
	}
	ascending := func(evs []feed.Event) []feed.Event {
		out := make([]feed.Event, 0, len(evs))
		for _, e := range slices.Backward(evs) {
			if e.Seq > from {
				out = append(out, e)
			}
		}
		return out
	}
	if len(cursors) > 0 {
		if err := emit(ascending(p.Events)); err != nil {
			return err
		}
		for i := len(cursors) - 2; i >= 0; i-- {
			q.Cursor = cursors[i]
			var err error
			if p, err = s.st.Events(ctx, q); err != nil {
				return err
			}
			if err := emit(ascending(p.Events)); err != nil {
				return err
			}
		}
	}
	return emit(ascending(first.Events))
}

type connKey struct{}

// ConnContext is for http.Server.ConnContext: it keeps each connection in
// its requests' context, so that a live stream can bound the connection's
// send buffer (streamSendBuffer) and notice a client that does not read
// after some 64 KiB rather than megabytes. Servers without it work the
// same, with the kernel's buffers.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// boundSendBuffer sets the send buffer of the connection r came on, when
// ConnContext put it in the context.
func boundSendBuffer(r *http.Request) {
	c, _ := r.Context().Value(connKey{}).(net.Conn)
	if tc, ok := c.(interface{ NetConn() net.Conn }); ok { // TLS
		c = tc.NetConn()
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(streamSendBuffer)
	}
}

// stream serves new events as server-sent events. Each event's id is its
// stream sequence; a client that reconnects with Last-Event-ID (or
// ?last_event_id=) first gets the stored events after that sequence, in
// pages, then live ones. Without it, the stream starts with the next new
// event. A Last-Event-ID beyond the store's last sequence (a database
// rebuilt or replaced) gets an "event: reset" with the store's last
// sequence as its id, then live events.
func (s *server) stream(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r.URL.Query())
	if err != nil {
		problem.Error(w, r, s.log, err)
		return
	}
	ctx := r.Context()
	lastID := strings.TrimSpace(r.Header.Get("Last-Event-ID"))
	if lastID == "" {
		lastID = strings.TrimSpace(r.URL.Query().Get("last_event_id"))
	}
	var from uint64
	resume := lastID != ""
	if resume {
		if from, err = strconv.ParseUint(lastID, 10, 64); err != nil {
			problem.Error(w, r, s.log, events.Errorf(events.ErrBadInput, "Last-Event-ID %q is not a stream sequence", lastID))
			return
		}
	}
	if n := s.openStreams.Add(1); n > int64(s.maxStreams) {
		s.openStreams.Add(-1)
		w.Header().Set("Retry-After", retryAfter)
		problem.Write(w, r, problem.New(http.StatusServiceUnavailable, TypeUnavailable,
			fmt.Sprintf("the feed serves %d streams at once; try again later", s.maxStreams)))
		return
	}
	defer s.openStreams.Add(-1)

	// top is read before the first page: every matching event up to top
	// is then in the catch-up.
	top, err := s.st.LastSeq(ctx)
	if err != nil {
		problem.Error(w, r, s.log, err)
		return
	}
	reset := resume && from > top
	if !resume || reset {
		from = top
	}
	// The first page also checks the query (full-text syntax) before the
	// 200.
	q.Cursor, q.Limit = "", 1
	if resume && !reset {
		q.Limit = catchUpPage
	}
	first, err := s.st.Events(ctx, q)
	if err != nil {
		problem.Error(w, r, s.log, err)
		return
	}

	boundSendBuffer(r)
	rc := http.NewResponseController(w)
	c := &client{q: q, match: prefilter(q), ch: make(chan *frame, s.streamBuffer), gone: make(chan struct{}), rc: rc}
	if q.Q != "" {
		c.key = encodeQuery(q, false).Encode()
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	s.metrics.streams.Inc()
	defer s.metrics.streams.Dec()
	bw := bufio.NewWriterSize(w, streamWriteBuffer)
	write := func(b []byte) error {
		if err := c.deadline(); err != nil {
			return err
		}
		_, err := bw.Write(b)
		return err
	}
	var flushed time.Time
	flush := func() error {
		if err := c.deadline(); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		flushed = time.Now()
		return rc.Flush()
	}
	// The retry hint and a first comment tell the client the stream is up.
	if err := write(fmt.Appendf(nil, "retry: 3000\n: dpihub feed stream, from seq %d\n\n", from)); err != nil {
		return
	}
	if reset {
		if err := write(fmt.Appendf(nil, "event: reset\nid: %d\ndata: {\"last_event_id\":%d}\n\n", top, top)); err != nil {
			return
		}
	}
	// sent is the stream's position: it has every matching event up to
	// sent.
	sent := from
	emit := func(evs []feed.Event) error {
		for _, e := range evs {
			if e.Seq <= sent {
				continue
			}
			fr, err := encodeFrame(e)
			if err != nil {
				return err
			}
			if err := write(fr.data); err != nil {
				return err
			}
			sent = e.Seq
		}
		return flush()
	}
	if s.fan != nil {
		defer s.fan.leave(c)
	}
	for scanTop := top; ; {
		if err := s.catchUp(ctx, q, sent, first, emit); err != nil {
			if ctx.Err() == nil && err != errDropped {
				s.log.Warn("stream catch-up", zap.Error(err))
			}
			return
		}
		sent = max(sent, scanTop)
		if s.fan == nil {
			break
		}
		ok, err := s.fan.join(ctx, c, sent)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("stream join", zap.Error(err))
			}
			return
		}
		if ok {
			break
		}
		// The fan-out moved on while this stream caught up: catch up
		// again, to where the store is now.
		if scanTop, err = s.st.LastSeq(ctx); err != nil {
			return
		}
		q.Cursor, q.Limit = "", catchUpPage
		if first, err = s.st.Events(ctx, q); err != nil {
			return
		}
	}
	if err := flush(); err != nil {
		return
	}

	tick := time.NewTicker(s.heartbeat)
	defer tick.Stop()
	// A flush put off (flushEvery) is due when later fires.
	later := time.NewTimer(0)
	<-later.C
	pending := false
	for {
		select {
		case <-later.C:
			pending = false
			if err := flush(); err != nil {
				return
			}
		case <-ctx.Done():
			return
		case <-c.gone:
			return // fell behind: the connection closes, the client resumes
		case <-tick.C:
			if err := write(fmt.Appendf(nil, ": heartbeat %s\n\n", s.now().UTC().Format(time.RFC3339))); err != nil {
				return
			}
			if err := flush(); err != nil {
				return
			}
		case fr := <-c.ch:
			// Write what is waiting, then flush once.
			for more := true; more; {
				if fr.seq > sent {
					if err := write(fr.data); err != nil {
						return
					}
					sent = fr.seq
				}
				select {
				case fr = <-c.ch:
				default:
					more = false
				}
			}
			if wait := flushEvery - time.Since(flushed); wait > 0 {
				if !pending {
					pending = true
					later.Reset(wait)
				}
				continue
			}
			if err := flush(); err != nil {
				return
			}
		}
	}
}
