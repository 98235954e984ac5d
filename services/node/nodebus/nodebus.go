// Package nodebus puts a country's node on the event fabric: the consumer
// of other countries' fixes (Consume), the Publisher of the node's events,
// their Metrics and the object store of large diffs (Patches). It decides
// nothing: the rules are the node package's.
package nodebus

import (
	"context"
	"errors"
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/access"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/metrics"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/events/subject"
	"github.com/dpihub/dpihub/services/node"
)

// FixReceiver is what the consumer hands fixes to: a *node.Node.
type FixReceiver interface {
	Country() string
	ReceiveFix(ctx context.Context, from, eventID, project string, fp events.FixPublished) error
}

// Consume starts the durable consumer "node-<cc>" of every country's
// fix.published, verified by v, handing each to r. Stop or ctx ends it.
func Consume(ctx context.Context, b *bus.Bus, v *sign.Verifier, r FixReceiver) (*bus.Consumer, error) {
	c, err := b.Consume(ctx, bus.ConsumerConfig{
		Name:     access.NodeConsumer(r.Country()),
		Subjects: []string{subject.Filter("", "fix", "published", "")},
		Verifier: v,
	}, handler(r))
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", r.Country(), err)
	}
	return c, nil
}

// handler passes over other types and r's own country, and dead-letters
// (bus.Permanent) a fix that can never be assessed.
func handler(r FixReceiver) bus.Handler {
	return func(ctx context.Context, e event.Event) error {
		if e.Type() != events.TypeFixPublished {
			return nil
		}
		cc, _ := e.Extensions()[events.ExtCountry].(string)
		if cc == r.Country() {
			return nil
		}
		p, err := events.Decode(e)
		if err != nil {
			return bus.Permanent(err)
		}
		err = r.ReceiveFix(ctx, cc, e.ID(), e.Subject(), *p.(*events.FixPublished))
		if errors.Is(err, node.ErrMalformedFix) {
			return bus.Permanent(err)
		}
		return err
	}
}

// Publisher signs and publishes a node's events: a node.Publisher.
type Publisher struct {
	src events.Source
	pub *bus.Publisher
}

// NewPublisher returns the Publisher of signer's country.
func NewPublisher(b *bus.Bus, signer *sign.Signer) *Publisher {
	return &Publisher{src: events.Source{Country: signer.Country(), Service: node.SourceService}, pub: b.Publisher(signer)}
}

// Publish builds the event of pl about project with id, signs, publishes.
func (p *Publisher) Publish(ctx context.Context, project string, pl events.Payload, id string) error {
	e, err := events.New(p.src, project, pl, events.WithID(id))
	if err != nil {
		return fmt.Errorf("build %s: %w", pl.EventType(), err)
	}
	_, err = p.pub.Publish(ctx, e)
	return err
}

// Metrics counts what a node did: a node.Observer.
type Metrics struct {
	received, published prometheus.Counter
	assessed            *prometheus.CounterVec
}

// NewMetrics returns cc's node metrics, registered with reg (nil: none)
// as package metrics does: a node restarted in one process keeps counting
// on its series.
func NewMetrics(reg prometheus.Registerer, cc string) (*Metrics, error) {
	opts := func(name, help string) prometheus.CounterOpts {
		return prometheus.CounterOpts{Name: name, Help: help, ConstLabels: prometheus.Labels{"country": cc}}
	}
	m := &Metrics{
		received:  prometheus.NewCounter(opts("dpihub_node_fixes_received_total", "Fixes of other countries received for a forked project.")),
		assessed:  prometheus.NewCounterVec(opts("dpihub_node_assessments_total", "Fix assessments published, by verdict."), []string{"verdict"}),
		published: prometheus.NewCounter(opts("dpihub_node_fixes_published_total", "Fixes this node published.")),
	}
	if err := errors.Join(metrics.Register(reg, &m.received), metrics.Register(reg, &m.assessed), metrics.Register(reg, &m.published)); err != nil {
		return nil, fmt.Errorf("node %s: %w", cc, err)
	}
	return m, nil
}

// FixReceived implements node.Observer.
func (m *Metrics) FixReceived() { m.received.Inc() }

// FixAssessed implements node.Observer.
func (m *Metrics) FixAssessed(verdict string) { m.assessed.WithLabelValues(verdict).Inc() }

// FixPublished implements node.Observer.
func (m *Metrics) FixPublished() { m.published.Inc() }
