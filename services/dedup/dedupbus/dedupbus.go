// Package dedupbus connects the dedup detector to the bus: the subjects
// it reads (per project, so instances can split the projects), the
// detector rebuilt from the stream at start, the live consumer, and the
// findings published signed as urn:dpihub:hub:dedup.
package dedupbus

import (
	"context"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/events/subject"
	"github.com/dpihub/dpihub/services/dedup"
)

// Subjects are what the detector reads about projects (none: every
// project): fork snapshots, published fixes, submitted proposals, and its
// own findings.
func Subjects(projects []string) []string {
	if len(projects) == 0 {
		projects = []string{""}
	}
	var out []string
	for _, p := range projects {
		out = append(out,
			subject.Filter("", "fork", "snapshot", p),
			subject.Filter("", "fix", "published", p),
			subject.Filter("", "proposal", "submitted", p),
			subject.Filter(events.HubCountry, "", "duplicate.detected", p))
	}
	return out
}

// Input turns a verified event and its message into the detector's input.
func Input(e event.Event, m bus.Message) (dedup.Input, error) {
	src, err := events.ParseSource(e.Source())
	if err != nil {
		return dedup.Input{}, err
	}
	p, err := events.DecodeValue(e)
	if err != nil {
		return dedup.Input{}, err
	}
	return dedup.Input{Source: src, Project: e.Subject(), EventID: e.ID(), Stored: m.Time, Payload: p}, nil
}

// Publisher publishes findings with the hub's key.
type Publisher struct{ p *bus.ServicePublisher }

// NewPublisher returns a Publisher signing with signer, a key of the
// trust list's country "hub".
func NewPublisher(b *bus.Bus, signer *sign.Signer) (*Publisher, error) {
	p, err := b.ServicePublisher(signer, events.ServiceDedup)
	if err != nil {
		return nil, err
	}
	return &Publisher{p: p}, nil
}

// Publish publishes a finding as its *.duplicate.detected event.
func (p *Publisher) Publish(ctx context.Context, f dedup.Finding) error {
	return p.p.Publish(ctx, f.Project, f.Payload, f.ID)
}
