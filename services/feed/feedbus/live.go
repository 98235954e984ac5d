package feedbus

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/subject"
	"github.com/dpihub/dpihub/services/feed"
)

// The live projection settles its messages itself instead of through
// bus.Consume, whose handler sees one event at a time and is acknowledged
// when it returns: a batch could never hold more than one event. Here
// workers decode and admit (bus.Decode, bus.Admit, as bus.Consume does),
// the batcher applies up to BatchSize events in one transaction, and only
// then acknowledges them; refused events are dead-lettered with
// Bus.DeadLetter, as bus.Consume would.

// Reasons of a reset: why the projector made its consumer again
// (dpihub_feed_resets_total{reason}, Health).
const (
	// ResetConsumerDeleted: the durable consumer is gone (deleted by
	// hand, or with its stream).
	ResetConsumerDeleted = "consumer-deleted"
	// ResetStreamRecreated: stream DPI is not the one the consumer read
	// (its creation time changed): its sequences start over.
	ResetStreamRecreated = "stream-recreated"
	// ResetStreamMissing: stream DPI does not exist (deleted, not made
	// again yet).
	ResetStreamMissing = "stream-missing"
	// ResetBeyondStream: the consumer delivered, or the store holds,
	// sequences beyond the stream's last, or the stream holds another
	// event where the store's last one was: the stream was restored from
	// an older copy (which keeps its creation time).
	ResetBeyondStream = "beyond-stream"
	// ResetGap: the stream no longer holds events the store never got
	// (removed by its limits, or by hand, before the feed read them).
	ResetGap = "gap"
	// ResetFetch: fetching failed for good (the connection closed).
	ResetFetch = "fetch-failed"
)

// DefaultBatchSize is the most events the projector applies in one
// transaction unless Config.BatchSize says otherwise: as many as a
// rebuild's. It must not exceed the live streams' buffer
// (feedhttp.DefaultStreamBuffer): the fan-out hands each stream a whole
// applied batch at once, so a larger batch would drop every stream that
// reads, at every full batch.
const DefaultBatchSize = 1000

const (
	defaultBatchWait  = 20 * time.Millisecond
	defaultCheckEvery = time.Second
	maxDeliver        = 5
)

var backoff = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute}

// batcher is a Store that applies many records in one transaction, such
// as sqlite.Store: one commit per batch instead of per event is what
// makes ingest fast.
type batcher interface {
	ApplyBatch(ctx context.Context, rs []feed.Record) error
}

// epochStore is a Store that remembers which stream incarnation its
// sequences come from (sqlite.Store). Without it the projector remembers
// in memory only.
type epochStore interface {
	Epoch(ctx context.Context) (feed.Epoch, bool, error)
	SetEpoch(ctx context.Context, ep feed.Epoch) error
}

// Projector is a running live projection. Stop ends it.
type Projector struct {
	b     *bus.Bus
	js    jetstream.JetStream
	st    feed.Store
	proj  projector
	cfg   Config
	log   *zap.Logger
	apply func(ctx context.Context, rs []feed.Record) error

	ctx    context.Context // cancelled by Stop
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once

	mu      sync.Mutex
	reason  string     // "" when healthy
	target  uint64     // stream sequence to reach to be caught up again
	last    uint64     // the stream's last sequence, as last read
	epoch   feed.Epoch // of the stream being read
	known   bool       // epoch was recorded or decided
	applied uint64     // highest stream sequence of this epoch in the store
	// floor is the consumer's last known ack floor (0: none): every
	// sequence up to it is applied or dead-lettered, while the store may
	// hold later ones with earlier ones still to be delivered again (a
	// retry, a crash). A consumer made again starts after it.
	floor uint64
	gapAt uint64 // the stream's first sequence when a gap was last reported
}

// session is one consumer of one stream incarnation.
type session struct {
	stream  jetstream.Stream
	cons    jetstream.Consumer
	iter    jetstream.MessagesContext
	created time.Time
	base    uint64
}

// Project starts the live projection of dpi.> into st: a durable
// consumer named cfg.Name whose messages are decoded, verified,
// validated and authorized (bus.Admit; refused ones are dead-lettered),
// then applied in stream order with their stream sequence and stored
// time, up to BatchSize in one transaction (when st has ApplyBatch) and
// acknowledged once that transaction committed: a crash loses no event.
//
// The store, not the consumer, says how far the projection got. The
// projector watches its consumer and the stream: when the consumer is
// deleted, the stream is made again, the consumer is beyond the stream or
// the stream lost events the store never got, it makes its consumer
// again from the store's position (replay is idempotent by source and
// id), counts a reset, and Health reports degraded until it caught up.
//
// It returns once the consumer runs; Stop ends it, as does cancelling
// ctx.
func Project(ctx context.Context, b *bus.Bus, st feed.Store, cfg Config) (*Projector, error) {
	if cfg.Verifier == nil {
		return nil, errors.New("feed projection: a Verifier is required")
	}
	if cfg.Name == "" {
		cfg.Name = DefaultName
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = 30 * time.Second
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.BatchWait <= 0 {
		cfg.BatchWait = defaultBatchWait
	}
	if cfg.CheckEvery <= 0 {
		cfg.CheckEvery = defaultCheckEvery
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	m, err := NewMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("feed projection: %w", err)
	}
	p := &Projector{
		b: b, js: b.JetStream(), st: st, proj: projector{st: st, m: m}, cfg: cfg,
		log: cfg.Logger.With(zap.String("consumer", cfg.Name)), done: make(chan struct{}),
	}
	p.apply = func(ctx context.Context, rs []feed.Record) error {
		for _, r := range rs {
			if err := st.Apply(ctx, r.Event, r.Seq, r.Received); err != nil {
				return err
			}
		}
		return nil
	}
	if bt, ok := st.(batcher); ok {
		p.apply = bt.ApplyBatch
	}
	s, err := p.open(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("feed projection: %w", err)
	}
	p.ctx, p.cancel = context.WithCancel(ctx)
	go p.run(s)
	return p, nil
}

// Stop stops fetching, returns the events of the batch not yet applied to
// the server for prompt redelivery, and returns when the projector has
// stopped. The durable consumer stays; Project with the same name and
// store resumes.
func (p *Projector) Stop() {
	p.once.Do(p.cancel)
	<-p.done
}

// Done is closed when the projector has stopped.
func (p *Projector) Done() <-chan struct{} { return p.done }

// Health reports whether the projection is current: false, with the
// reason (a Reset* and what is being done), from a reset until the store
// holds what the stream held when the consumer was made again.
func (p *Projector) Health() (ok bool, reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reason == "", p.reason
}

func (p *Projector) setHealth(reason string) {
	p.mu.Lock()
	changed := p.reason != reason
	p.reason = reason
	p.mu.Unlock()
	if changed {
		if reason == "" {
			p.log.Info("feed caught up")
		}
		if p.cfg.OnHealth != nil {
			p.cfg.OnHealth(reason == "", reason)
		}
	}
}

// advance records that the store holds the stream up to seq and ends a
// degraded state that reached its target.
func (p *Projector) advance(seq uint64) {
	p.mu.Lock()
	p.applied = max(p.applied, seq)
	p.last = max(p.last, p.applied)
	healed := p.reason != "" && p.applied >= p.target
	p.proj.m.Lag.Set(float64(p.last - p.applied))
	p.mu.Unlock()
	if healed {
		p.setHealth("")
	}
}

// open finds where to start and makes the consumer. After a reset
// (resetting: its reason, which run counted) an existing consumer is
// stale and is made again.
func (p *Projector) open(ctx context.Context, resetting string) (*session, error) {
	fresh := resetting != ""
	stream, err := p.js.Stream(ctx, bus.Stream)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", bus.Stream, err)
	}
	info := stream.CachedInfo()
	last, err := p.st.LastSeq(ctx)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	prev := p.epoch
	p.mu.Unlock()
	ep, err := p.epochFor(ctx, stream, info, last, resetting)
	if err != nil {
		return nil, err
	}
	from := uint64(0) // the last stream sequence of this epoch in the store
	if last > ep.Base {
		from = last - ep.Base
	}
	p.mu.Lock()
	start := min(from, p.floor) // the last sequence before a new consumer's first
	if p.floor == 0 || !prev.Created.Equal(ep.Created) || prev.Base != ep.Base {
		start = from
	}
	p.mu.Unlock()
	c, err := p.js.Consumer(ctx, bus.Stream, p.cfg.Name)
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
	case err != nil:
		return nil, fmt.Errorf("consumer %s: %w", p.cfg.Name, err)
	case fresh || c.CachedInfo().AckFloor.Stream > from || c.CachedInfo().NumAckPending > 0:
		// The store, not the consumer, says how far the projection got:
		// a consumer that acknowledged beyond it (the database was
		// replaced by an older copy) or one found stale is made again
		// from there. (A consumer made to start at n has n-1 as its
		// floor already.)
		//
		// So is one with messages delivered and not acknowledged, to a
		// process that ended (this one has read nothing yet): the server
		// would deliver them again only after AckWait, after later ones,
		// and the store would look caught up without them. Made again
		// from its ack floor, they come first and in order; what the
		// store has already is skipped (replay is idempotent).
		if fl := c.CachedInfo().AckFloor.Stream; fl <= from && (fresh || c.CachedInfo().NumAckPending > 0) {
			start = min(start, fl)
		}
		if err := p.js.DeleteConsumer(ctx, bus.Stream, p.cfg.Name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return nil, fmt.Errorf("consumer %s is stale or past the store (floor %d, store %d) and cannot be reset: %w",
				p.cfg.Name, c.CachedInfo().AckFloor.Stream, from, err)
		}
		c = nil
	}
	cc := jetstream.ConsumerConfig{
		Durable:        p.cfg.Name,
		FilterSubjects: []string{subject.All},
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        p.cfg.AckWait,
		// Redeliveries are counted here (NumDelivered), for a batch that
		// fails as for one event; the server never gives up on its own.
		MaxDeliver:    -1,
		MaxAckPending: max(1000, 4*p.cfg.BatchSize),
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	switch {
	case c != nil:
		// Where a consumer starts cannot be updated: keep its own.
		cc.DeliverPolicy, cc.OptStartSeq = c.CachedInfo().Config.DeliverPolicy, c.CachedInfo().Config.OptStartSeq
	case start+1 > 1:
		cc.DeliverPolicy, cc.OptStartSeq = jetstream.DeliverByStartSequencePolicy, start+1
	}
	cons, err := p.js.CreateOrUpdateConsumer(ctx, bus.Stream, cc)
	if err != nil {
		return nil, fmt.Errorf("consume %s: %w", p.cfg.Name, err)
	}
	iter, err := cons.Messages(jetstream.PullMaxMessages(2 * p.cfg.BatchSize))
	if err != nil {
		return nil, fmt.Errorf("consume %s: %w", p.cfg.Name, err)
	}
	p.mu.Lock()
	p.applied, p.target, p.last, p.floor = from, info.State.LastSeq, info.State.LastSeq, start
	if c != nil {
		p.floor = min(c.CachedInfo().AckFloor.Stream, from)
	}
	// Events removed from the stream (its limits, a purge) before the
	// feed read them are lost to it: said once, loudly.
	gap := from > 0 && info.State.Msgs > 0 && info.State.FirstSeq > from+1 && p.gapAt != info.State.FirstSeq
	if gap {
		p.gapAt = info.State.FirstSeq
	}
	p.mu.Unlock()
	if gap {
		lost := info.State.FirstSeq - from - 1
		p.log.Warn("the stream lost events the feed never got", zap.Uint64("store", from),
			zap.Uint64("stream_first", info.State.FirstSeq), zap.Uint64("lost", lost))
		p.proj.m.Resets.WithLabelValues(ResetGap).Inc()
		p.setHealth(fmt.Sprintf("%s: %d events were removed from the stream before the feed read them", ResetGap, lost))
	}
	p.advance(from)
	return &session{stream: stream, cons: cons, iter: iter, created: info.Created, base: ep.Base}, nil
}

// epochFor decides which stream incarnation the store reads: the one it
// recorded, or a new one whose sequences come after the store's when the
// stream was made again since (another creation time, or a store beyond
// the stream's last sequence when nothing was recorded) or restored from
// an older copy (the same creation time, which a restore keeps, and a
// history that is not the store's: fewer events than the store read from
// it, or another event where the store's last one was). A new incarnation
// is read from its first event: what the store has already is skipped by
// (source, id). A new incarnation is counted by its reason unless that is
// resetting, the reason of the reset under way, which run counted.
func (p *Projector) epochFor(ctx context.Context, stream jetstream.Stream, info *jetstream.StreamInfo, last uint64, resetting string) (feed.Epoch, error) {
	es, persistent := p.st.(epochStore)
	p.mu.Lock()
	ep, ok := p.epoch, p.known
	p.mu.Unlock()
	if persistent {
		var err error
		if ep, ok, err = es.Epoch(ctx); err != nil {
			return feed.Epoch{}, err
		}
	}
	reason := ""
	switch {
	case ok && ep.Created.Equal(info.Created) && last <= ep.Base+info.State.LastSeq && p.sameHistory(ctx, stream, ep, last):
		return ep, nil
	case ok && ep.Created.Equal(info.Created):
		p.log.Warn("stream DPI is not the history the store read (restored from an older copy?): "+
			"its events are read again, after the store's", zap.Uint64("store_seq", last),
			zap.Uint64("stream_last_seq", info.State.LastSeq), zap.Uint64("epoch_base", ep.Base))
		reason = ResetBeyondStream
		p.setHealth(ResetBeyondStream + ": the stream is not the history the store read (restored from an older copy?); reading it again")
		ep = feed.Epoch{Created: info.Created, Base: last}
	case ok, last > info.State.LastSeq:
		p.log.Warn("stream DPI was made again: its events come after the store's", zap.Uint64("store_seq", last),
			zap.Time("created", info.Created))
		reason = ResetStreamRecreated
		p.setHealth(ResetStreamRecreated + ": reading the new stream")
		ep = feed.Epoch{Created: info.Created, Base: last}
	default:
		ep = feed.Epoch{Created: info.Created}
	}
	if reason != "" && reason != resetting {
		p.proj.m.Resets.WithLabelValues(reason).Inc()
	}
	if persistent {
		if err := es.SetEpoch(ctx, ep); err != nil {
			return feed.Epoch{}, err
		}
	}
	p.mu.Lock()
	p.epoch, p.known = ep, true
	p.mu.Unlock()
	return ep, nil
}

// sameHistory reports whether the stream holds, at the sequence of the
// store's last event, that event (by source and id). It answers true when
// it cannot tell: the store has no event at its last sequence (a
// duplicate, a refusal), or the stream no longer holds that sequence.
func (p *Projector) sameHistory(ctx context.Context, stream jetstream.Stream, ep feed.Epoch, last uint64) bool {
	if last <= ep.Base {
		return true
	}
	pg, err := p.st.Events(ctx, feed.Query{Limit: 1})
	if err != nil || len(pg.Events) == 0 || pg.Events[0].Seq != last {
		return true
	}
	m, err := stream.GetMsg(ctx, last-ep.Base)
	if err != nil {
		return true
	}
	e, err := bus.Decode(m.Header, m.Data)
	if err != nil {
		return false // the store applied what it decoded there: another message
	}
	return e.Source() == pg.Events[0].Source && e.ID() == pg.Events[0].ID
}

// run serves sessions until Stop, making the consumer again after each
// reset.
func (p *Projector) run(s *session) {
	defer close(p.done)
	for {
		reason := p.serve(s)
		if p.ctx.Err() != nil {
			return
		}
		p.proj.m.Resets.WithLabelValues(reason).Inc()
		p.log.Warn("feed consumer is stale; making it again from the store's position", zap.String("reason", reason))
		p.setHealth(reason + ": re-reading from the store's position")
		for {
			var err error
			if s, err = p.open(p.ctx, reason); err == nil {
				break
			}
			if p.ctx.Err() != nil {
				return
			}
			if errors.Is(err, jetstream.ErrStreamNotFound) && reason != ResetStreamMissing {
				reason = ResetStreamMissing
				p.proj.m.Resets.WithLabelValues(reason).Inc()
			}
			p.setHealth(reason + ": " + err.Error())
			select {
			case <-p.ctx.Done():
				return
			case <-time.After(p.cfg.CheckEvery):
			}
		}
	}
}

type liveJob struct {
	msg   jetstream.Msg
	md    *jetstream.MsgMetadata
	rec   feed.Record
	err   error // a refusal found before applying
	ready chan struct{}
}

// serve runs one session until Stop (returns "") or until it is found
// stale (returns the Reset* reason).
func (p *Projector) serve(s *session) string {
	ctx, cancel := context.WithCancel(p.ctx)
	defer cancel()
	var (
		endOnce sync.Once
		reason  string
	)
	end := func(r string) {
		endOnce.Do(func() { reason = r })
		cancel()
	}
	go func() {
		<-ctx.Done()
		s.iter.Stop()
	}()

	n := p.cfg.BatchSize
	work := make(chan *liveJob, 2*n)
	order := make(chan *liveJob, 2*n)
	go func() {
		defer close(work)
		defer close(order)
		for {
			m, err := s.iter.Next()
			if err != nil {
				switch {
				case ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed):
					return
				case errors.Is(err, jetstream.ErrConsumerDeleted):
					end(ResetConsumerDeleted)
					return
				case errors.Is(err, nats.ErrConnectionClosed):
					end(ResetFetch)
					return
				}
				p.log.Warn("fetch", zap.Error(err))
				continue
			}
			j := &liveJob{msg: m, ready: make(chan struct{})}
			work <- j
			order <- j
		}
	}()
	var wg sync.WaitGroup
	defer func() {
		cancel() // ends the fetch, so the workers, and the checks
		wg.Wait()
	}()
	admit := bus.Admit(p.cfg.Verifier)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for j := range work {
				p.prepare(admit, s, j)
				close(j.ready)
			}
		})
	}
	wg.Go(func() {
		t := time.NewTicker(p.cfg.CheckEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if r := p.check(ctx, s); r != "" {
					end(r)
					return
				}
			}
		}
	})

	batch := make([]*liveJob, 0, n)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	flush := func() {
		timer.Stop()
		if len(batch) > 0 {
			p.commit(batch)
			batch = batch[:0]
		}
	}
	for {
		select {
		case j, ok := <-order:
			if !ok {
				flush()
				return reason
			}
			<-j.ready
			switch {
			case p.ctx.Err() != nil:
				_ = j.msg.Nak()
			case j.err != nil:
				p.refuse(j, j.err)
			default:
				batch = append(batch, j)
				if len(batch) == 1 {
					timer.Reset(p.cfg.BatchWait)
				}
				if len(batch) == n {
					flush()
				}
			}
		case <-timer.C:
			flush()
		}
	}
}

// prepare decodes and admits j's message, in a worker.
func (p *Projector) prepare(admit bus.Middleware, s *session, j *liveJob) {
	md, err := j.msg.Metadata()
	if err != nil {
		j.err = bus.Permanent(fmt.Errorf("message without metadata: %w", err))
		return
	}
	j.md = md
	j.rec.Seq, j.rec.Received = s.base+md.Sequence.Stream, md.Timestamp
	e, err := bus.Decode(j.msg.Headers(), j.msg.Data())
	if err != nil {
		j.err = &bus.RejectError{Reason: bus.ReasonNotCloudEvent, Err: err}
		return
	}
	mctx := bus.WithMessage(p.ctx, bus.Message{
		Subject: j.msg.Subject(), Stream: bus.Stream, StreamSeq: md.Sequence.Stream,
		NumDelivered: md.NumDelivered, Consumer: p.cfg.Name, Time: md.Timestamp,
	})
	capture := func(_ context.Context, ve event.Event) error {
		j.rec.Event = ve
		j.rec = j.rec.Admit()
		return nil
	}
	j.err = admit(capture)(mctx, e)
}

// commit applies a batch in one transaction and only then acknowledges
// its messages. When the batch fails (and the projector is not stopping)
// its events are applied one by one, so that one bad event does not hold
// back the others: it alone is retried with back-off, and dead-lettered
// after maxDeliver attempts.
func (p *Projector) commit(batch []*liveJob) {
	if p.ctx.Err() != nil {
		for _, j := range batch {
			_ = j.msg.Nak()
		}
		return
	}
	rs := make([]feed.Record, len(batch))
	for i, j := range batch {
		rs[i] = j.rec
	}
	observe := p.proj.before(p.ctx, rs)
	err := p.apply(p.ctx, rs)
	if err == nil {
		p.settle(batch, rs, observe)
		return
	}
	if p.ctx.Err() != nil {
		for _, j := range batch {
			_ = j.msg.Nak()
		}
		return
	}
	p.log.Warn("batch failed; applying its events one by one", zap.Int("events", len(rs)), zap.Error(err))
	for i, j := range batch {
		if err := p.apply(p.ctx, rs[i:i+1]); err != nil {
			p.fail(j, err)
			continue
		}
		p.settle(batch[i:i+1], rs[i:i+1], nil)
	}
	// The propagation times of a batch that failed are not observed: the
	// per-event path would have to look at the store again.
}

// settle acknowledges applied messages and tells who listens.
func (p *Projector) settle(batch []*liveJob, rs []feed.Record, observe func(context.Context)) {
	for _, j := range batch {
		if err := j.msg.Ack(); err != nil {
			p.log.Warn("ack", zap.Uint64("stream_seq", j.md.Sequence.Stream), zap.Error(err))
		}
	}
	if observe != nil {
		observe(p.ctx)
	}
	if p.cfg.Applied != nil {
		p.cfg.Applied(rs)
	}
	p.advance(batch[len(batch)-1].md.Sequence.Stream)
}

// fail settles a message whose event could not be applied: retried with
// back-off, dead-lettered after maxDeliver attempts.
func (p *Projector) fail(j *liveJob, err error) {
	var rej *bus.RejectError
	n := j.md.NumDelivered
	switch {
	case errors.As(err, &rej):
		p.refuse(j, err)
	case n >= maxDeliver:
		p.refuse(j, &bus.RejectError{Reason: bus.ReasonMaxDeliveries, Err: fmt.Errorf("applying failed %d times, last: %w", n, err)})
	default:
		delay := backoff[min(int(n)-1, len(backoff)-1)]
		p.log.Info("apply failed, will retry", zap.Uint64("stream_seq", j.md.Sequence.Stream),
			zap.Uint64("attempt", n), zap.Duration("delay", delay), zap.Error(err))
		_ = j.msg.NakWithDelay(delay)
	}
}

// refuse dead-letters a message and terminates it; when the dead letter
// cannot be written the message is kept, to come back.
func (p *Projector) refuse(j *liveJob, err error) {
	reason, detail := bus.ReasonHandlerRejected, err.Error()
	var rej *bus.RejectError
	if errors.As(err, &rej) {
		reason, detail = rej.Reason, rej.Err.Error()
	}
	var seq, n uint64 = 0, 1
	if j.md != nil {
		seq, n = j.md.Sequence.Stream, j.md.NumDelivered
	}
	orig := &nats.Msg{Subject: j.msg.Subject(), Header: j.msg.Headers(), Data: j.msg.Data()}
	if derr := p.b.DeadLetter(p.ctx, p.cfg.Name, orig, seq, n, reason, detail); derr != nil {
		p.log.Error("dead-letter failed; keeping the message", zap.Error(derr))
		_ = j.msg.NakWithDelay(backoff[0])
		return
	}
	_ = j.msg.Term()
}

// check compares the consumer with the stream and returns why the
// session is stale ("" when it is not); it sets the lag gauge.
func (p *Projector) check(ctx context.Context, s *session) string {
	// The consumer first: what it delivered was in the stream by the
	// time the stream's info is read.
	ci, err := s.cons.Info(ctx)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return ResetStreamMissing
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		return ResetConsumerDeleted
	case err != nil:
		return "" // the next check will tell
	}
	info, err := s.stream.Info(ctx)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return ResetStreamMissing
	case err != nil:
		return ""
	case !info.Created.Equal(s.created):
		return ResetStreamRecreated
	case ci.Delivered.Stream > info.State.LastSeq:
		return ResetBeyondStream
	}
	p.mu.Lock()
	applied := p.applied
	p.floor = ci.AckFloor.Stream
	gap := applied > 0 && info.State.Msgs > 0 && info.State.FirstSeq > applied+1 &&
		ci.Delivered.Stream+1 < info.State.FirstSeq && p.gapAt != info.State.FirstSeq
	if gap {
		p.gapAt = info.State.FirstSeq
	}
	p.mu.Unlock()
	if gap {
		p.log.Warn("the stream lost events the feed never got", zap.Uint64("store", applied), zap.Uint64("stream_first", info.State.FirstSeq))
		return ResetGap
	}
	p.mu.Lock()
	p.last = max(info.State.LastSeq, p.applied)
	p.proj.m.Lag.Set(float64(p.last - p.applied))
	p.mu.Unlock()
	return ""
}
