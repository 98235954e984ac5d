package feedhttp

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/services/feed"
)

// Broadcaster tells the streams' fan-out that events were applied. The
// projector calls Publish after each successful Store.Apply (or once
// after a batch), in stream order; it never blocks and never reads the
// store: the fan-out of each handler does, once per notification, for
// all its streams (see fanout). The zero value is not usable; call
// NewBroadcaster. Safe for concurrent use.
type Broadcaster struct {
	mu      sync.Mutex
	wakes   map[chan struct{}]struct{}
	streams atomic.Int64 // streams that are live (past their catch-up)
}

// NewBroadcaster returns a Broadcaster with no subscribers.
func NewBroadcaster() *Broadcaster {
	return &Broadcaster{wakes: map[chan struct{}]struct{}{}}
}

// Publish announces that e (and maybe more) was applied. It returns at
// once: notifications that arrive while a fan-out is reading coalesce
// into one more read.
func (b *Broadcaster) Publish(feed.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for w := range b.wakes {
		select {
		case w <- struct{}{}:
		default: // already woken; its next read takes everything new
		}
	}
}

// Subscribers is how many streams are live: past their catch-up, taking
// new events from the fan-out.
func (b *Broadcaster) Subscribers() int { return int(b.streams.Load()) }

// listen returns a channel that receives a value after events were
// published, and a function that ends the listening.
func (b *Broadcaster) listen() (<-chan struct{}, func()) {
	w := make(chan struct{}, 1)
	b.mu.Lock()
	b.wakes[w] = struct{}{}
	b.mu.Unlock()
	return w, func() {
		b.mu.Lock()
		delete(b.wakes, w)
		b.mu.Unlock()
	}
}

// Wrap returns st with an Apply that, once st applied an event, publishes
// it to b. Give the wrapped store to the live projector (not to a
// rebuild, which nobody watches): then every open stream hears of every
// event as soon as a query can find it.
//
// Apply is idempotent, so a redelivered event is published again; the
// fan-out reads only sequences above the last it sent.
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

// EventOf is e as the feed shows it, without the store.
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
