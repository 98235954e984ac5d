package webhook

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/events/subject"
)

// Defaults of Config.
const (
	DefaultOrigin         = "dpihub"
	DefaultTimeout        = 10 * time.Second
	DefaultInitialBackoff = time.Second
	DefaultMaxBackoff     = 5 * time.Minute
	DefaultGiveUpAfter    = 72 * time.Hour
)

// ReasonUndeliverable is the dead-letter reason of an event the dispatcher
// gave up delivering to a subscription; the entry's consumer is
// webhook-<subscription id>.
const ReasonUndeliverable = "webhook-undeliverable"

// ContentType is the Content-Type of every delivery: one CloudEvent in
// structured mode.
const ContentType = bus.ContentTypeStructured + "; charset=utf-8"

// maxURL is the longest URL a subscription may name.
const maxURL = 2048

const userAgent = "dpihub-webhook/1"

// ErrClosed is returned by the methods of a Dispatcher that was closed, or
// not started.
var ErrClosed = errors.New("webhook dispatcher not running")

// Config configures a Dispatcher. The zero value works.
type Config struct {
	// Client sends the handshakes and the deliveries (nil: one with
	// keep-alive connections to every receiver, see DefaultClient). The
	// dispatcher never follows a redirect, whatever the client says: it
	// uses a copy of Client whose CheckRedirect stops at the first answer.
	Client *http.Client
	// Origin names the hub in the handshake's WebHook-Request-Origin and
	// in every delivery's Origin header (default DefaultOrigin).
	Origin string
	// Timeout bounds each HTTP attempt, handshake included (default
	// DefaultTimeout).
	Timeout time.Duration
	// InitialBackoff is the wait after an event's first failed attempt
	// (default DefaultInitialBackoff); it doubles after each further
	// failure, with jitter.
	InitialBackoff time.Duration
	// MaxBackoff is the longest wait between two attempts (default
	// DefaultMaxBackoff).
	MaxBackoff time.Duration
	// GiveUpAfter is how long an event may keep failing, from its first
	// failed attempt in this process, before it is dead-lettered (default
	// DefaultGiveUpAfter).
	GiveUpAfter time.Duration
	// MaxAttempts dead-letters an event after that many failed attempts
	// (0: no limit but GiveUpAfter).
	MaxAttempts int
	// Logger receives structured logs, never a secret or a signature
	// (nil: none).
	Logger *zap.Logger
	// Registerer registers the dispatcher's metrics (nil: none).
	Registerer prometheus.Registerer
	// Now is the clock of timestamps and give-up times (nil: time.Now).
	Now func() time.Time
}

// withDefaults fills in c's zero fields and checks the rest.
func (c Config) withDefaults() (Config, error) {
	c.Origin = cmp.Or(c.Origin, DefaultOrigin)
	c.Timeout = cmp.Or(c.Timeout, DefaultTimeout)
	c.InitialBackoff = cmp.Or(c.InitialBackoff, DefaultInitialBackoff)
	c.MaxBackoff = cmp.Or(c.MaxBackoff, DefaultMaxBackoff)
	c.GiveUpAfter = cmp.Or(c.GiveUpAfter, DefaultGiveUpAfter)
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	switch {
	case c.Timeout < 0, c.InitialBackoff < 0, c.MaxBackoff < 0, c.GiveUpAfter < 0, c.MaxAttempts < 0:
		return c, errors.New("webhook config: durations and MaxAttempts may not be negative")
	case c.MaxBackoff < c.InitialBackoff:
		return c, fmt.Errorf("webhook config: MaxBackoff %v is less than InitialBackoff %v", c.MaxBackoff, c.InitialBackoff)
	case strings.ContainsAny(c.Origin, "\r\n\x00"):
		return c, fmt.Errorf("webhook config: Origin %q is not a header value", c.Origin)
	}
	return c, nil
}

// DefaultClient returns the HTTP client a Dispatcher uses when Config
// names none: it follows no redirect and keeps idle connections to every
// receiver (64 a host), since each subscription posts to its receiver one
// event after the other.
func DefaultClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConnsPerHost:   64,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
		CheckRedirect: noRedirect,
	}
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Subscription is an upstream maintainer's subscription to a project's
// proposal events. Its secret is not part of it: Subscribe returns it
// once, and nothing shows it again.
type Subscription struct {
	ID      string    `json:"id"`
	Project string    `json:"project"`
	URL     string    `json:"url"`
	Created time.Time `json:"created"`
	// AllowedRate is the WebHook-Allowed-Rate the receiver granted in the
	// handshake, in requests a minute or "*" ("" if it named none). It is
	// recorded, not enforced.
	AllowedRate string `json:"allowed_rate,omitempty"`
}

// Status is a subscription and how its deliveries go. The counters count
// since the dispatcher started; Pending is the consumer's, on the server.
type Status struct {
	Subscription
	// Delivered counts events the receiver accepted (2xx).
	Delivered uint64 `json:"delivered"`
	// Skipped counts events that were not admitted (forged, invalid, not
	// authorized) and so were not delivered.
	Skipped uint64 `json:"skipped"`
	// DeadLettered counts events given up on and stored in DPI_DLQ.
	DeadLettered uint64 `json:"dead_lettered"`
	// FailedAttempts counts attempts without a 2xx answer.
	FailedAttempts uint64 `json:"failed_attempts"`
	// ConsecutiveFailures counts failed attempts since the last delivery:
	// 0 for a receiver that is up.
	ConsecutiveFailures uint64    `json:"consecutive_failures"`
	LastError           string    `json:"last_error,omitempty"`
	LastErrorAt         time.Time `json:"last_error_at,omitzero"`
	LastDeliveredAt     time.Time `json:"last_delivered_at,omitzero"`
	// Pending counts the project's events still to deliver: not yet
	// sent, or in the hands of the worker.
	Pending uint64 `json:"pending"`
}

// Dispatcher delivers the proposal events of stream DPI to the webhooks
// subscribed to their project. Each subscription has a durable consumer
// and a worker of its own, so a slow or dead receiver delays nobody else.
// Run one Dispatcher per hub. It is safe for concurrent use.
type Dispatcher struct {
	b          *bus.Bus
	js         jetstream.JetStream
	admissions *admissions
	cfg        Config
	client     *http.Client
	own        *http.Client // the client made here, whose idle connections Close closes
	log        *zap.Logger
	m          *collectors
	// ackWait is how long the server waits for a worker's word on a
	// message before it sends it again; workers say "in progress" well
	// within it while they retry.
	ackWait time.Duration

	mu      sync.Mutex
	store   *store             // nil until Start
	workers map[string]*worker // by subscription id
	closed  bool
	stopped chan struct{} // closed when Close has stopped every worker
}

// New returns a Dispatcher that reads events from b, admits them with v
// (bus.Admit: signature, contract, authority) and delivers them as cfg
// says. Start starts it.
func New(b *bus.Bus, v *sign.Verifier, cfg Config) (*Dispatcher, error) {
	if b == nil || v == nil {
		return nil, errors.New("webhook: a bus and a verifier are required")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := newCollectors(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	d := &Dispatcher{
		b:          b,
		js:         b.JetStream(),
		admissions: newAdmissions(bus.Admit(v)(func(context.Context, event.Event) error { return nil }), cfg.Logger),
		cfg:        cfg,
		log:        cfg.Logger,
		m:          m,
		ackWait:    max(30*time.Second, 3*cfg.Timeout),
		workers:    map[string]*worker{},
		stopped:    make(chan struct{}),
	}
	if cfg.Client == nil {
		d.own = DefaultClient()
		d.client = d.own
	} else {
		c := *cfg.Client
		c.CheckRedirect = noRedirect
		d.client = &c
	}
	return d, nil
}

// Start opens the subscriptions' bucket (creating it if it is missing) and
// starts a worker for every stored subscription. Durable consumers resume
// where they were: an event acknowledged before is not delivered again.
// ctx bounds the start-up only; the workers run until Close.
func (d *Dispatcher) Start(ctx context.Context) error {
	d.mu.Lock()
	switch {
	case d.closed:
		d.mu.Unlock()
		return ErrClosed
	case d.store != nil:
		d.mu.Unlock()
		return errors.New("webhook dispatcher already started")
	}
	d.mu.Unlock()
	st, err := openStore(ctx, d.js)
	if err != nil {
		return err
	}
	recs, err := st.all(ctx)
	if err != nil {
		return err
	}
	started := make([]*worker, 0, len(recs))
	stopAll := func() {
		for _, w := range started {
			w.cancel()
		}
		for _, w := range started {
			<-w.done
		}
	}
	for _, r := range recs {
		w, err := d.startWorker(ctx, st, r, false)
		if err != nil {
			stopAll()
			return err
		}
		started = append(started, w)
	}
	d.mu.Lock()
	switch {
	case d.closed:
		err = ErrClosed
	case d.store != nil:
		err = errors.New("webhook dispatcher already started")
	default:
		d.store = st
		for _, w := range started {
			if !w.gone {
				d.workers[w.rec.ID] = w
			}
		}
		d.m.subscriptions.Set(float64(len(d.workers)))
	}
	d.mu.Unlock()
	if err != nil {
		stopAll() // not under d.mu: a stopping worker may need it (gone)
		return err
	}
	d.log.Info("webhook dispatcher started", zap.Int("subscriptions", len(started)))
	return nil
}

// running returns the store of a started, open dispatcher.
func (d *Dispatcher) running() (*store, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed || d.store == nil {
		return nil, ErrClosed
	}
	return d.store, nil
}

// Subscribe subscribes the receiver at rawURL (absolute, http or https) to
// the proposal events of project, and returns the subscription and its
// secret, which nothing returns again: the receiver checks every delivery
// with it (VerifyRequest).
//
// It first asks the receiver, with the CloudEvents webhook handshake,
// whether it wants deliveries from Config.Origin; a receiver that does not
// agree is not subscribed, and the error (events.ErrBadInput) says what it
// answered. A URL already subscribed to project is an events.ErrBadInput
// too, naming the existing subscription.
//
// Delivery starts at once, from the start of stream DPI: the receiver gets
// every proposal event of project the hub still holds, oldest first, then
// each new one as it comes.
func (d *Dispatcher) Subscribe(ctx context.Context, project, rawURL string) (Subscription, string, error) {
	if !events.ValidProject(project) {
		return Subscription{}, "", events.Errorf(events.ErrBadInput, "project %q is not a project slug ([a-z0-9][a-z0-9-]*, at most 100)", project)
	}
	target, err := parseURL(rawURL)
	if err != nil {
		return Subscription{}, "", err
	}
	st, err := d.running()
	if err != nil {
		return Subscription{}, "", err
	}
	if old, ok, err := st.get(ctx, project, target); err != nil {
		return Subscription{}, "", err
	} else if ok {
		return Subscription{}, "", alreadySubscribed(old)
	}
	rate, err := d.handshake(ctx, target)
	if err != nil {
		return Subscription{}, "", err
	}
	r := record{
		Subscription: Subscription{ID: newID(), Project: project, URL: target, Created: d.cfg.Now().UTC(), AllowedRate: rate},
		Secret:       newSecret(),
	}
	if err := st.create(ctx, r); err != nil {
		return Subscription{}, "", err
	}
	w, err := d.startWorker(ctx, st, r, true)
	if err == nil {
		err = d.add(w)
	}
	if err != nil {
		// The secret is returned with the subscription or never: undo.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return Subscription{}, "", errors.Join(err, st.delete(cctx, r), d.deleteConsumer(cctx, r.ID))
	}
	w.log.Info("webhook subscribed", zap.String("allowed_rate", rate))
	return r.Subscription, r.Secret, nil
}

// add registers a started worker, or stops it if the dispatcher closed
// meanwhile.
func (d *Dispatcher) add(w *worker) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		w.stop()
		return ErrClosed
	}
	if w.gone { // its receiver answered 410 already: nothing to add
		d.mu.Unlock()
		return nil
	}
	d.workers[w.rec.ID] = w
	d.m.subscriptions.Set(float64(len(d.workers)))
	d.mu.Unlock()
	return nil
}

// parseURL checks that raw is an absolute http or https URL and returns
// it in the form that identifies it.
func parseURL(raw string) (string, error) {
	if len(raw) > maxURL {
		return "", events.Errorf(events.ErrBadInput, "webhook URL is %d bytes long; at most %d", len(raw), maxURL)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", events.Errorf(events.ErrBadInput, "webhook URL: %v", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return "", events.Errorf(events.ErrBadInput, "webhook URL %q is not an absolute http or https URL", redact(raw))
	}
	return u.String(), nil
}

// redact returns raw for logs, messages and dead letters: without its
// password or query, where receivers keep tokens.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	if u.RawQuery != "" {
		u.RawQuery = "xxxxx"
	}
	return u.Redacted()
}

// newID returns a fresh subscription id: 16 hex digits.
func newID() string {
	var b [8]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// consumerName is the durable consumer, and the dead-letter consumer name,
// of subscription id.
func consumerName(id string) string { return "webhook-" + id }

// startWorker makes sure the subscription's durable consumer exists and
// starts its worker. fresh says the subscription was just made: its
// consumer starts at the beginning of the stream. An existing consumer
// resumes where it is.
func (d *Dispatcher) startWorker(ctx context.Context, st *store, r record, fresh bool) (*worker, error) {
	name := consumerName(r.ID)
	if !fresh {
		if _, err := d.js.Consumer(ctx, bus.Stream, name); errors.Is(err, jetstream.ErrConsumerNotFound) {
			d.log.Warn("webhook consumer missing: made again, delivering the project's events from the start of the stream",
				zap.String("subscription", r.ID), zap.String("consumer", name))
		}
	}
	cons, err := d.js.CreateOrUpdateConsumer(ctx, bus.Stream, jetstream.ConsumerConfig{
		Durable:        name,
		Description:    "proposals webhook " + r.ID + " for project " + r.Project,
		FilterSubjects: []string{subject.Filter("", "proposal", "", r.Project)},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        d.ackWait,
		// The worker retries and dead-letters by itself; the server only
		// redelivers what a stopped worker handed back.
		MaxDeliver: -1,
		// One event at a time: the receiver sees them in stream order.
		MaxAckPending: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("webhook %s: consumer %s: %w", r.ID, name, err)
	}
	w, err := newWorker(d, st, r, cons)
	if err != nil {
		return nil, err
	}
	go w.run()
	return w, nil
}

// List returns every subscription with its delivery status, oldest first.
// It never shows a secret.
func (d *Dispatcher) List(ctx context.Context) ([]Status, error) {
	if _, err := d.running(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	ws := make([]*worker, 0, len(d.workers))
	for _, w := range d.workers {
		ws = append(ws, w)
	}
	d.mu.Unlock()
	slices.SortFunc(ws, func(a, b *worker) int {
		return cmp.Or(a.rec.Created.Compare(b.rec.Created), strings.Compare(a.rec.ID, b.rec.ID))
	})
	out := make([]Status, 0, len(ws))
	for _, w := range ws {
		s, err := w.status(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// Get returns subscription id with its delivery status; an unknown id is
// an events.ErrNotFound.
func (d *Dispatcher) Get(ctx context.Context, id string) (Status, error) {
	w, err := d.worker(id)
	if err != nil {
		return Status{}, err
	}
	return w.status(ctx)
}

func (d *Dispatcher) worker(id string) (*worker, error) {
	if _, err := d.running(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	w, ok := d.workers[id]
	if !ok {
		return nil, events.Errorf(events.ErrNotFound, "no webhook subscription %q", id)
	}
	return w, nil
}

// Remove unsubscribes id: it stops its worker (an event being delivered
// is abandoned, not counted as failed), then deletes its consumer and its
// stored subscription. An unknown id is an events.ErrNotFound.
func (d *Dispatcher) Remove(ctx context.Context, id string) error {
	st, err := d.running()
	if err != nil {
		return err
	}
	d.mu.Lock()
	w, ok := d.workers[id]
	if ok {
		delete(d.workers, id)
		d.m.subscriptions.Set(float64(len(d.workers)))
	}
	d.mu.Unlock()
	if !ok {
		return events.Errorf(events.ErrNotFound, "no webhook subscription %q", id)
	}
	w.cancel()
	select {
	case <-w.done:
	case <-ctx.Done():
		return fmt.Errorf("remove webhook %s: %w", id, ctx.Err())
	}
	if err := d.forget(ctx, st, w.rec); err != nil {
		return err
	}
	w.log.Info("webhook unsubscribed")
	return nil
}

// forget deletes what subscription r leaves behind once its worker has
// stopped: its stored subscription first (so that no restart brings it
// back), then its consumer and its series.
func (d *Dispatcher) forget(ctx context.Context, st *store, r record) error {
	err := errors.Join(st.delete(ctx, r), d.deleteConsumer(ctx, r.ID))
	d.m.forget(r.ID)
	return err
}

func (d *Dispatcher) deleteConsumer(ctx context.Context, id string) error {
	err := d.js.DeleteConsumer(ctx, bus.Stream, consumerName(id))
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("delete consumer %s: %w", consumerName(id), err)
	}
	return nil
}

// gone unsubscribes w from its own goroutine, after its receiver answered
// 410 Gone: Standard Webhooks' way of saying it wants no more.
func (d *Dispatcher) gone(w *worker) {
	d.mu.Lock()
	w.gone = true
	if d.workers[w.rec.ID] == w {
		delete(d.workers, w.rec.ID)
		d.m.subscriptions.Set(float64(len(d.workers)))
	}
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.forget(ctx, w.store, w.rec); err != nil {
		w.log.Error("webhook receiver answered 410 Gone, but unsubscribing failed", zap.Error(err))
		return
	}
	w.log.Info("webhook receiver answered 410 Gone: unsubscribed")
}

// Close stops every worker and waits for them: an event being delivered
// is abandoned and handed back to the server, which delivers it again
// after a restart; it does not count as a failed attempt. Subscriptions
// and consumers stay. Close may be called more than once; every call waits
// until the workers have stopped, or ctx ends.
func (d *Dispatcher) Close(ctx context.Context) error {
	d.mu.Lock()
	first := !d.closed
	d.closed = true
	ws := make([]*worker, 0, len(d.workers))
	for _, w := range d.workers {
		ws = append(ws, w)
	}
	d.workers = map[string]*worker{}
	d.mu.Unlock()
	if first {
		go func() {
			for _, w := range ws {
				w.cancel()
			}
			for _, w := range ws {
				<-w.done
			}
			if d.own != nil {
				d.own.CloseIdleConnections()
			}
			d.m.subscriptions.Set(0)
			close(d.stopped)
		}()
	}
	select {
	case <-d.stopped:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close webhook dispatcher: %w", ctx.Err())
	}
}
