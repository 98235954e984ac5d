package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/events/subject"
)

// ConsumerConfig configures Consume. Name and Verifier are required; the
// other fields have working defaults.
type ConsumerConfig struct {
	// Name of the durable consumer, [A-Za-z0-9_-]+. Processes that use the
	// same name share the work; a restarted process resumes where the name
	// left off.
	Name string
	// Subjects to consume (default dpi.>), e.g. subject.Filter("", "fix", "", "").
	Subjects []string
	// Verifier checks every event's signature. Share one per process.
	Verifier *sign.Verifier
	// Dedupe remembers handled events (default NewMemoryDeduper(0)).
	Dedupe Deduper
	// MaxDeliver is how many times a failing event is tried before it is
	// dead-lettered (default 5).
	MaxDeliver int
	// Backoff[i] is the delay before attempt i+2 after a handler error; the
	// last value repeats (default 1s, 5s, 30s, 2m).
	Backoff []time.Duration
	// AckWait is how long the server waits for an answer before it
	// redelivers (default 30s).
	AckWait time.Duration
	// Workers decode and verify in parallel (default GOMAXPROCS); handlers
	// still see events in stream order.
	Workers int
	// Batch is how many messages are buffered from the server (default 256).
	Batch int
	// StartSeq is the first stream sequence a consumer that does not
	// exist yet delivers (0 or 1: the first message). An existing
	// consumer resumes where it is. For a handler whose own state says
	// how far it got, such as the feed's store.
	StartSeq uint64
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Consumer is a running durable consumer.
type Consumer struct {
	b        *Bus
	cfg      ConsumerConfig
	handler  Handler
	iter     jetstream.MessagesContext
	adv      *nats.Subscription
	stopping atomic.Bool
	done     chan struct{}
	stopOnce sync.Once
	ctx      context.Context // handlers' context, cancelled by Stop
	cancel   context.CancelFunc
	// The collectors of every event, looked up once.
	handlerSeconds prometheus.Observer
	consumedOK     prometheus.Counter
}

// Consume starts a durable consumer that hands every event, verified and
// valid, to h. It returns once the consumer is running; Stop ends it.
// Cancelling ctx stops it too.
func (b *Bus) Consume(ctx context.Context, cfg ConsumerConfig, h Handler) (*Consumer, error) {
	if !nameRE.MatchString(cfg.Name) {
		return nil, fmt.Errorf("consume: name %q must match %s", cfg.Name, nameRE)
	}
	if cfg.Verifier == nil {
		return nil, fmt.Errorf("consume %s: a Verifier is required: dpihub never acts on unverified events", cfg.Name)
	}
	if len(cfg.Subjects) == 0 {
		cfg.Subjects = []string{subject.All}
	}
	if cfg.Dedupe == nil {
		cfg.Dedupe = NewMemoryDeduper(0)
	}
	if cfg.MaxDeliver <= 0 {
		cfg.MaxDeliver = 5
	}
	if len(cfg.Backoff) == 0 {
		cfg.Backoff = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute}
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = 30 * time.Second
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 256
	}
	cc := jetstream.ConsumerConfig{
		Durable:        cfg.Name,
		FilterSubjects: cfg.Subjects,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        cfg.AckWait,
		MaxDeliver:     cfg.MaxDeliver,
		MaxAckPending:  max(1000, 4*cfg.Batch),
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	}
	// Where a consumer starts cannot be updated: keep an existing one's,
	// start a new one at StartSeq.
	switch old, err := b.js.Consumer(ctx, Stream, cfg.Name); {
	case err == nil:
		cc.DeliverPolicy, cc.OptStartSeq = old.CachedInfo().Config.DeliverPolicy, old.CachedInfo().Config.OptStartSeq
	case !errors.Is(err, jetstream.ErrConsumerNotFound):
		return nil, fmt.Errorf("consume %s: %w", cfg.Name, err)
	case cfg.StartSeq > 1:
		cc.DeliverPolicy, cc.OptStartSeq = jetstream.DeliverByStartSequencePolicy, cfg.StartSeq
	}
	cons, err := b.js.CreateOrUpdateConsumer(ctx, Stream, cc)
	if err != nil {
		return nil, fmt.Errorf("consume %s: %w", cfg.Name, err)
	}
	hctx, cancel := context.WithCancel(ctx)
	c := &Consumer{
		b:       b,
		cfg:     cfg,
		ctx:     hctx,
		cancel:  cancel,
		handler: Chain(h, recoverPanics, Dedupe(cfg.Dedupe)),
		done:    make(chan struct{}),

		handlerSeconds: b.metrics.HandlerSeconds.WithLabelValues(cfg.Name),
		consumedOK:     b.metrics.Consumed.WithLabelValues(cfg.Name, "ok"),
	}
	adv := fmt.Sprintf("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.%s.%s", Stream, cfg.Name)
	c.adv, err = b.js.Conn().Subscribe(adv, c.onMaxDeliveries)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("consume %s: subscribe to advisories: %w", cfg.Name, err)
	}
	c.iter, err = cons.Messages(jetstream.PullMaxMessages(cfg.Batch))
	if err != nil {
		cancel()
		c.adv.Unsubscribe()
		return nil, fmt.Errorf("consume %s: %w", cfg.Name, err)
	}
	go c.run()
	go func() {
		select {
		case <-ctx.Done():
			c.Stop()
		case <-c.done:
		}
	}()
	return c, nil
}

// Stop stops fetching, cancels the context of the event in hand and waits
// for its handler to return, returns the buffered events to the server for
// prompt redelivery, and returns when the consumer has stopped. An event
// whose handler failed because of the stop is redelivered, not counted as
// a failed attempt. The durable consumer stays on the server; Consume with the
// same name resumes it.
func (c *Consumer) Stop() {
	c.stopOnce.Do(func() {
		c.stopping.Store(true)
		c.adv.Unsubscribe()
		c.iter.Stop()
		c.cancel()
	})
	<-c.done
}

// Done is closed when the consumer has stopped.
func (c *Consumer) Done() <-chan struct{} { return c.done }

type job struct {
	msg   jetstream.Msg
	md    *jetstream.MsgMetadata
	ev    event.Event
	err   error // a rejection found before the handler
	ready chan struct{}
}

func (c *Consumer) run() {
	defer close(c.done)
	work := make(chan *job, c.cfg.Batch)
	order := make(chan *job, c.cfg.Batch)
	go func() {
		defer close(work)
		defer close(order)
		for {
			m, err := c.iter.Next()
			if err != nil {
				if errors.Is(err, jetstream.ErrMsgIteratorClosed) || c.stopping.Load() {
					return
				}
				c.b.log.Warn("fetch", zap.String("consumer", c.cfg.Name), zap.Error(err))
				if errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, jetstream.ErrConsumerDeleted) {
					return
				}
				continue
			}
			j := &job{msg: m, ready: make(chan struct{})}
			work <- j
			order <- j
		}
	}()
	var wg sync.WaitGroup
	for range c.cfg.Workers {
		wg.Go(func() {
			for j := range work {
				c.prepare(j)
				close(j.ready)
			}
		})
	}
	for j := range order {
		<-j.ready
		if c.stopping.Load() {
			_ = j.msg.Nak()
			continue
		}
		c.handle(j)
	}
	wg.Wait()
}

func (c *Consumer) msgContext(j *job) context.Context {
	m := Message{Subject: j.msg.Subject(), Stream: Stream, Consumer: c.cfg.Name}
	if j.md != nil {
		m.StreamSeq, m.NumDelivered, m.Time = j.md.Sequence.Stream, j.md.NumDelivered, j.md.Timestamp
	}
	return WithMessage(c.ctx, m)
}

// prepare decodes and admits (verifies, validates, authorizes), in a
// worker.
func (c *Consumer) prepare(j *job) {
	md, err := j.msg.Metadata()
	if err == nil {
		j.md = md
	}
	e, err := Decode(j.msg.Headers(), j.msg.Data())
	if err != nil {
		j.err = &RejectError{Reason: ReasonNotCloudEvent, Err: err}
		return
	}
	capture := func(_ context.Context, ve event.Event) error { j.ev = ve; return nil }
	j.err = Admit(c.cfg.Verifier)(capture)(c.msgContext(j), e)
}

// handle runs the handler in stream order and settles the message.
func (c *Consumer) handle(j *job) {
	name := c.cfg.Name
	var seq, n uint64 = 0, 1
	if j.md != nil {
		seq, n = j.md.Sequence.Stream, j.md.NumDelivered
	}
	err := j.err
	if err == nil {
		start := time.Now()
		err = c.handler(c.msgContext(j), j.ev)
		c.handlerSeconds.Observe(time.Since(start).Seconds())
	}
	var rej *RejectError
	switch {
	case err == nil:
		if aerr := j.msg.Ack(); aerr != nil {
			c.b.log.Warn("ack", zap.String("consumer", name), zap.Uint64("stream_seq", seq), zap.Error(aerr))
		}
		c.consumedOK.Inc()
	case c.stopping.Load():
		_ = j.msg.Nak()
	case errors.As(err, &rej):
		c.settleDead(j, seq, n, rej.Reason, rej.Err.Error())
	case n >= uint64(c.cfg.MaxDeliver):
		c.settleDead(j, seq, n, ReasonMaxDeliveries, fmt.Sprintf("handler failed %d times, last: %v", n, err))
	default:
		delay := c.cfg.Backoff[min(int(n)-1, len(c.cfg.Backoff)-1)]
		c.b.log.Info("handler failed, will retry", zap.String("consumer", name), zap.Uint64("stream_seq", seq),
			zap.Uint64("attempt", n), zap.Duration("delay", delay), zap.Error(err))
		_ = j.msg.NakWithDelay(delay)
		c.b.metrics.Consumed.WithLabelValues(name, "retry").Inc()
	}
}

func (c *Consumer) settleDead(j *job, seq, n uint64, reason, detail string) {
	orig := &nats.Msg{Subject: j.msg.Subject(), Header: j.msg.Headers(), Data: j.msg.Data()}
	if err := c.b.deadLetter(c.ctx, c.cfg.Name, orig, seq, n, reason, detail); err != nil {
		// Keep the message: it comes back and we try again.
		c.b.log.Error("dead-letter failed; keeping the message", zap.String("consumer", c.cfg.Name), zap.Error(err))
		_ = j.msg.NakWithDelay(c.cfg.Backoff[0])
		return
	}
	_ = j.msg.Term()
	c.b.metrics.Consumed.WithLabelValues(c.cfg.Name, "dead-lettered").Inc()
}

// onMaxDeliveries dead-letters a message whose last delivery the server
// gave up on (the handler hung past AckWait, or the process died).
func (c *Consumer) onMaxDeliveries(m *nats.Msg) {
	var adv struct {
		StreamSeq  uint64 `json:"stream_seq"`
		Deliveries uint64 `json:"deliveries"`
	}
	if err := json.Unmarshal(m.Data, &adv); err != nil || adv.StreamSeq == 0 {
		c.b.log.Warn("unreadable max-deliveries advisory", zap.ByteString("data", m.Data))
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), 10*time.Second)
	defer cancel()
	s, err := c.b.js.Stream(ctx, Stream)
	var raw *jetstream.RawStreamMsg
	if err == nil {
		raw, err = s.GetMsg(ctx, adv.StreamSeq)
	}
	if err != nil {
		c.b.log.Error("max-deliveries: cannot read the message", zap.Uint64("stream_seq", adv.StreamSeq), zap.Error(err))
		return
	}
	orig := &nats.Msg{Subject: raw.Subject, Header: raw.Header, Data: raw.Data}
	if err := c.b.deadLetter(ctx, c.cfg.Name, orig, adv.StreamSeq, adv.Deliveries, ReasonMaxDeliveries,
		fmt.Sprintf("the server gave up after %d deliveries without an answer", adv.Deliveries)); err != nil {
		c.b.log.Error("max-deliveries: dead-letter failed", zap.Error(err))
	}
}

// recoverPanics turns a handler panic into an error, so that one bad
// event cannot stop the consumer.
func recoverPanics(next Handler) Handler {
	return func(ctx context.Context, e event.Event) (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("handler panicked: %v", r)
			}
		}()
		return next(ctx, e)
	}
}
