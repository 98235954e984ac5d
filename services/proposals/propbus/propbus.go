// Package propbus connects the proposals service's Governor to the bus:
// it rebuilds the board from the stream at start, feeds it the live
// events, dead-letters the events that break the rules, and publishes the
// Governor's decisions signed as urn:dpihub:hub:proposals.
package propbus

import (
	"context"
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/events/subject"
	"github.com/dpihub/dpihub/services/proposals"
	"github.com/dpihub/dpihub/services/proposals/governance"
)

// ConsumerName is the durable consumer of the proposals service.
const ConsumerName = "proposals"

// Subjects are the events the service reads: every proposal event.
var Subjects = []string{subject.Filter("", "proposal", "", "")}

// Publisher publishes decisions with the hub's key.
type Publisher struct{ p *bus.ServicePublisher }

// NewPublisher returns a Publisher signing with signer, a key of the
// trust list's country "hub".
func NewPublisher(b *bus.Bus, signer *sign.Signer) (*Publisher, error) {
	p, err := b.ServicePublisher(signer, events.ServiceProposals)
	if err != nil {
		return nil, err
	}
	return &Publisher{p: p}, nil
}

// PublishDecision implements proposals.Publisher.
func (p *Publisher) PublishDecision(ctx context.Context, d governance.Decision) error {
	return p.p.Publish(ctx, d.Project, events.ProposalStatusChanged{ProposalID: d.ProposalID, From: d.From, To: d.To,
		Reason: events.Truncate(d.Reason, 4096)}, proposals.DecisionID(d))
}

// Input turns a verified event and its message into the rules' input.
func Input(e event.Event, m bus.Message) (governance.Input, error) {
	src, err := events.ParseSource(e.Source())
	if err != nil {
		return governance.Input{}, err
	}
	p, err := events.DecodeValue(e)
	if err != nil {
		return governance.Input{}, err
	}
	return governance.Input{Source: src, Project: e.Subject(), Stored: m.Time, Seq: m.StreamSeq, Payload: p}, nil
}

// Config configures Start.
type Config struct {
	Bus      *bus.Bus
	Verifier *sign.Verifier
	Governor *proposals.Governor
	Logger   *zap.Logger // nil: no logs
	// Decided is called after each event the Governor applied, to let the
	// service decide soon (nil: nothing).
	Decided func()
}

// Consumer is the running service consumer.
type Consumer struct {
	c    *bus.Consumer
	js   jetstream.JetStream
	name string
}

// Start rebuilds the Governor's board from the stream, silently, up to
// where the durable consumer got (events it refused then were dead-
// lettered then), and then consumes the rest live: an event that breaks
// the rules is dead-lettered with its reason (handler-rejected).
func Start(ctx context.Context, cfg Config) (*Consumer, error) {
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	js := cfg.Bus.JetStream()
	floor, err := bus.AckFloor(ctx, js, ConsumerName)
	if err != nil {
		return nil, fmt.Errorf("proposals: %w", err)
	}
	n, err := Replay(ctx, js, cfg.Verifier, cfg.Governor, floor)
	if err != nil {
		return nil, err
	}
	cfg.Logger.Info("board rebuilt from the stream", zap.Uint64("up_to_seq", floor), zap.Int("events", n), zap.String("digest", cfg.Governor.Digest()))
	handle := func(ctx context.Context, e event.Event) error {
		m, _ := bus.MessageFrom(ctx)
		in, err := Input(e, m)
		if err != nil {
			return bus.Permanent(err)
		}
		if err := cfg.Governor.Apply(in); err != nil {
			return bus.Permanent(err)
		}
		if cfg.Decided != nil {
			cfg.Decided()
		}
		return nil
	}
	c, err := cfg.Bus.Consume(ctx, bus.ConsumerConfig{Name: ConsumerName, Subjects: Subjects, Verifier: cfg.Verifier,
		StartSeq: floor + 1, Workers: 1}, handle)
	if err != nil {
		return nil, err
	}
	return &Consumer{c: c, js: js, name: ConsumerName}, nil
}

// Stop stops the consumer (bus.Consumer.Stop).
func (c *Consumer) Stop() { c.c.Stop() }

// CaughtUp reports whether the consumer has handled every event the
// stream holds for it: only then may the service decide.
func (c *Consumer) CaughtUp(ctx context.Context) (bool, error) {
	cons, err := c.js.Consumer(ctx, bus.Stream, c.name)
	if err != nil {
		return false, err
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return false, err
	}
	return info.NumPending == 0 && info.NumAckPending == 0, nil
}

// Replay applies the stream's proposal events up to sequence upTo (0:
// none) to g, admitted as every consumer admits them (bus.Replay); events
// refused then are skipped now. It returns how many events g applied.
func Replay(ctx context.Context, js jetstream.JetStream, v *sign.Verifier, g *proposals.Governor, upTo uint64) (int, error) {
	applied := 0
	_, err := bus.Replay(ctx, js, v, Subjects, upTo, func(e event.Event, m bus.Message) {
		if in, err := Input(e, m); err == nil && g.Apply(in) == nil {
			applied++
		}
	})
	if err != nil {
		return applied, fmt.Errorf("proposals: %w", err)
	}
	return applied, nil
}
