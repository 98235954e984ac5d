package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dpihub/dpihub/events/sign"
)

// AckFloor returns the stream sequence up to which the durable consumer
// name has handled every event (0: it does not exist yet): where a
// service that rebuilds its state from the stream at start stops
// replaying and lets the consumer go on.
func AckFloor(ctx context.Context, js jetstream.JetStream, name string) (uint64, error) {
	c, err := js.Consumer(ctx, Stream, name)
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("consumer %s: %w", name, err)
	}
	return c.CachedInfo().AckFloor.Stream, nil
}

// Replay hands apply, in stream order, every event on subjects up to
// stream sequence upTo (0: none), admitted as every consumer admits
// events (Admit: signature at the stored time, contract, authority).
// Events refused then are skipped, silently: the consumer dead-lettered
// them when they came. It returns how many events apply got. Services
// whose state is a projection kept in memory rebuild it so at start, up
// to their durable consumer's AckFloor.
func Replay(ctx context.Context, js jetstream.JetStream, v *sign.Verifier, subjects []string, upTo uint64, apply func(event.Event, Message)) (int, error) {
	if upTo == 0 {
		return 0, nil
	}
	cons, err := js.OrderedConsumer(ctx, Stream, jetstream.OrderedConsumerConfig{FilterSubjects: subjects, DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		return 0, fmt.Errorf("replay: %w", err)
	}
	admit := Admit(v)
	n := 0
	for {
		// A fetch that gets nothing for a second has reached the end of
		// what the stream still holds.
		batch, err := cons.Fetch(256, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return n, fmt.Errorf("replay: %w", err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			md, err := m.Metadata()
			if err != nil {
				return n, fmt.Errorf("replay: %w", err)
			}
			if md.Sequence.Stream > upTo {
				return n, nil
			}
			if e, err := Decode(m.Headers(), m.Data()); err == nil {
				msg := Message{Subject: m.Subject(), Stream: Stream, StreamSeq: md.Sequence.Stream, Time: md.Timestamp}
				_ = admit(func(_ context.Context, e event.Event) error {
					apply(e, msg)
					n++
					return nil
				})(WithMessage(ctx, msg), e)
			}
			if md.Sequence.Stream >= upTo || md.NumPending == 0 {
				return n, nil
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return n, fmt.Errorf("replay: %w", err)
		}
		if got == 0 {
			return n, nil
		}
	}
}
