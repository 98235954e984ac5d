package bus

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

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/events/subject"
)

// ErrMsgTooLarge is wrapped by a publish error for an event larger than
// stream DPI (or the NATS server) takes, headers included: it was refused
// and stored nowhere. The error names the size and the limit. It is an
// events.ErrBadInput: the same event fails again.
var ErrMsgTooLarge = events.Sentinel(events.ErrBadInput, "event too large for the stream")

// tooLarge wraps err, the refusal of m, with ErrMsgTooLarge, m's size and
// the limit it broke, when it is a refusal for size; other errors pass.
func (b *Bus) tooLarge(m *nats.Msg, err error) error {
	size := m.Size() - len(m.Subject) - len(m.Reply) // headers and data
	switch {
	case errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum):
		return fmt.Errorf("%w: %d bytes with headers, stream %s takes at most %d: %w", ErrMsgTooLarge, size, Stream, b.maxMsgSize, err)
	case errors.Is(err, nats.ErrMaxPayload):
		return fmt.Errorf("%w: %d bytes with headers, the NATS server takes at most %d: %w", ErrMsgTooLarge, size, b.js.Conn().MaxPayload(), err)
	}
	return err
}

// Publisher validates, signs and publishes the events of one country. It is
// safe for concurrent use.
type Publisher struct {
	b      *Bus
	signer *sign.Signer
}

// Publisher returns a Publisher that signs with signer.
func (b *Bus) Publisher(signer *sign.Signer) *Publisher {
	return &Publisher{b: b, signer: signer}
}

// Publish validates e, signs it and publishes it on its subject, waiting
// for JetStream's acknowledgement. A retried publish of the same event
// (same source and id) within the de-duplication window is stored once;
// the returned ack then has Duplicate set.
func (p *Publisher) Publish(ctx context.Context, e event.Event) (*jetstream.PubAck, error) {
	m, err := p.prepare(e)
	if err != nil {
		p.b.metrics.PublishFailed.WithLabelValues(e.Type()).Inc()
		return nil, err
	}
	ack, err := p.b.js.PublishMsg(ctx, m, jetstream.WithMsgID(MsgID(e)), jetstream.WithExpectStream(Stream))
	if err != nil {
		p.b.metrics.PublishFailed.WithLabelValues(e.Type()).Inc()
		return nil, fmt.Errorf("publish %s %s: %w", e.Type(), e.ID(), p.b.tooLarge(m, err))
	}
	p.b.metrics.Published.WithLabelValues(e.Type()).Inc()
	return ack, nil
}

// prepare validates, signs and encodes e. It signs a clone: an
// event.Event copy shares its attributes with the original, and the
// caller's event must stay as it was.
func (p *Publisher) prepare(e event.Event) (*nats.Msg, error) {
	e = e.Clone()
	if err := events.Validate(e); err != nil {
		return nil, fmt.Errorf("publish %s: %w", e.ID(), err)
	}
	if err := p.signer.Sign(&e); err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	s, err := subject.Of(e)
	if err != nil {
		return nil, fmt.Errorf("publish %s: %w", e.ID(), err)
	}
	return encode(s.String(), e, true) // events.Validate checked the data
}

// PublishError lists the events of a batch that were not stored.
type PublishError struct {
	Failed map[string]error // event id -> why
}

func (e *PublishError) Error() string {
	for id, err := range e.Failed {
		return fmt.Sprintf("%d events not published; e.g. %s: %v", len(e.Failed), id, err)
	}
	return "no events failed"
}

// PublishBatch publishes evs as fast as the server allows: events are
// validated and signed in parallel, published asynchronously in their
// order with a bounded window, and every acknowledgement is checked. It
// returns a *PublishError naming each event that was not stored; the
// others are stored (retrying the whole batch is safe: duplicates are
// dropped by the stream).
func (p *Publisher) PublishBatch(ctx context.Context, evs []event.Event) error {
	// Chunks of events are prepared by GOMAXPROCS workers while the
	// previous chunk is being published, so that signing and publishing
	// overlap.
	const chunk = 512
	type prepared struct {
		part []event.Event
		msgs []*nats.Msg
		errs []error
	}
	ready := make(chan *prepared, 1)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(ready)
		workers := runtime.GOMAXPROCS(0)
		for lo := 0; lo < len(evs); lo += chunk {
			part := evs[lo:min(lo+chunk, len(evs))]
			pc := &prepared{part: part, msgs: make([]*nats.Msg, len(part)), errs: make([]error, len(part))}
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for i := w; i < len(part); i += workers {
						pc.msgs[i], pc.errs[i] = p.prepare(part[i])
					}
				})
			}
			wg.Wait()
			select {
			case ready <- pc:
			case <-stop:
				return
			}
		}
	}()
	failed := map[string]error{}
	futures := make([]pending, 0, len(evs))
	for pc := range ready {
		for i, e := range pc.part {
			if pc.errs[i] == nil && ctx.Err() != nil {
				pc.errs[i] = ctx.Err() // cancelled: publish no more
			}
			if pc.errs[i] != nil {
				failed[e.ID()] = pc.errs[i]
				p.b.metrics.PublishFailed.WithLabelValues(e.Type()).Inc()
				continue
			}
			// A full window waits for acks instead of failing after
			// nats.go's default 200 ms, which a loaded machine can exceed.
			f, err := p.b.js.PublishMsgAsync(pc.msgs[i], jetstream.WithMsgID(MsgID(e)), jetstream.WithExpectStream(Stream),
				jetstream.WithStallWait(30*time.Second))
			if err != nil {
				failed[e.ID()] = p.b.tooLarge(pc.msgs[i], err)
				p.b.metrics.PublishFailed.WithLabelValues(e.Type()).Inc()
				continue
			}
			futures = append(futures, pending{id: e.ID(), typ: e.Type(), f: f})
		}
	}
	published := map[string]int{}
	for _, f := range futures {
		select {
		case <-f.f.Ok():
			published[f.typ]++
		case err := <-f.f.Err():
			failed[f.id] = p.b.tooLarge(f.f.Msg(), err)
			p.b.metrics.PublishFailed.WithLabelValues(f.typ).Inc()
		case <-ctx.Done():
			failed[f.id] = ctx.Err()
		}
	}
	for typ, n := range published {
		p.b.metrics.Published.WithLabelValues(typ).Add(float64(n))
	}
	if len(failed) > 0 {
		p.b.log.Warn("batch publish incomplete", zap.Int("failed", len(failed)), zap.Int("total", len(evs)))
		return &PublishError{Failed: failed}
	}
	return nil
}

type pending struct {
	id, typ string
	f       jetstream.PubAckFuture
}

// ServicePublisher publishes the events of one of the hub's own services,
// urn:dpihub:hub:<service>, signed with a key of the trust list's country
// hub: the decisions of the proposals service, the findings of dedup.
type ServicePublisher struct {
	p   *Publisher
	src events.Source
}

// ServicePublisher returns the publisher of the hub's service, refusing
// a signer of another country than hub.
func (b *Bus) ServicePublisher(signer *sign.Signer, service string) (*ServicePublisher, error) {
	if signer.Country() != events.HubCountry {
		return nil, fmt.Errorf("%s: the hub's services sign with a hub key, not %s's (%s)", service, signer.Country(), signer.KeyID())
	}
	return &ServicePublisher{p: b.Publisher(signer), src: events.Source{Country: events.HubCountry, Service: service}}, nil
}

// Publish publishes payload p about project with event id id: a service
// that derives its ids from what it decides stores each decision once,
// however often it makes it.
func (s *ServicePublisher) Publish(ctx context.Context, project string, p events.Payload, id string) error {
	e, err := events.New(s.src, project, p, events.WithID(id))
	if err != nil {
		return err
	}
	_, err = s.p.Publish(ctx, e)
	return err
}
