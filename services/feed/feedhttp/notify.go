package feedhttp

import (
	"context"
	"encoding/json"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/services/feed"
)

// Wrap returns st with an Apply that, once st applied an event, publishes
// it to b. Give the wrapped store to the live projector (not to a
// rebuild, which nobody watches): then every open stream hears of every
// event as soon as a query can find it.
//
// Apply is idempotent, so a redelivered event is published again; streams
// drop events whose sequence they have sent already.
func (b *Broadcaster) Wrap(st feed.Store) feed.Store { return notifying{Store: st, b: b} }

type notifying struct {
	feed.Store
	b *Broadcaster
}

func (n notifying) Apply(ctx context.Context, e event.Event, seq uint64, received time.Time) error {
	if err := n.Store.Apply(ctx, e, seq, received); err != nil {
		return err
	}
	n.b.Publish(EventOf(e, seq))
	return nil
}

// EventOf is e as the feed shows it, without the store: what a
// Broadcaster needs to decide which streams to wake.
func EventOf(e event.Event, seq uint64) feed.Event {
	cc, _ := e.Extensions()[events.ExtCountry].(string)
	if cc == "" {
		if src, err := events.ParseSource(e.Source()); err == nil {
			cc = src.Country
		}
	}
	return feed.Event{
		ID:      e.ID(),
		Seq:     seq,
		Type:    e.Type(),
		Source:  e.Source(),
		Country: cc,
		Project: e.Subject(),
		Time:    e.Time().UTC(),
		Summary: events.Describe(e),
		Data:    json.RawMessage(e.Data()),
	}
}
