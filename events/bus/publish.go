package bus

import (
	"context"
	"fmt"
	"runtime"
	"sync"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/events/subject"
)

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
		return nil, fmt.Errorf("publish %s %s: %w", e.Type(), e.ID(), err)
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
	return Encode(s.String(), e)
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
	const chunk = 512
	failed := map[string]error{}
	var futures []pending
	msgs := make([]*nats.Msg, chunk)
	errs := make([]error, chunk)
	workers := runtime.GOMAXPROCS(0)
	for lo := 0; lo < len(evs); lo += chunk {
		part := evs[lo:min(lo+chunk, len(evs))]
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := w; i < len(part); i += workers {
					msgs[i], errs[i] = p.prepare(part[i])
				}
			})
		}
		wg.Wait()
		for i, e := range part {
			if errs[i] != nil {
				failed[e.ID()] = errs[i]
				p.b.metrics.PublishFailed.WithLabelValues(e.Type()).Inc()
				continue
			}
			f, err := p.b.js.PublishMsgAsync(msgs[i], jetstream.WithMsgID(MsgID(e)), jetstream.WithExpectStream(Stream))
			if err != nil {
				failed[e.ID()] = err
				p.b.metrics.PublishFailed.WithLabelValues(e.Type()).Inc()
				continue
			}
			futures = append(futures, pending{id: e.ID(), typ: e.Type(), f: f})
		}
	}
	for _, f := range futures {
		select {
		case <-f.f.Ok():
			p.b.metrics.Published.WithLabelValues(f.typ).Inc()
		case err := <-f.f.Err():
			failed[f.id] = err
			p.b.metrics.PublishFailed.WithLabelValues(f.typ).Inc()
		case <-ctx.Done():
			failed[f.id] = ctx.Err()
		}
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
