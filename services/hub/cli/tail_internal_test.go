package cli

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/events/subject"
)

// TestTailKeepsWaitingOnAQuietStream: what an ordered consumer's Next
// returns when nothing comes within its wait is taken as quiet, so tail
// follows a stream that is idle for longer than one fetch instead of
// exiting on the timeout.
func TestTailKeepsWaitingOnAQuietStream(t *testing.T) {
	srv := bustest.Server(t, "")
	_, js := bustest.Connect(t, srv)
	bustest.Open(t, js)
	c, err := js.OrderedConsumer(context.Background(), bus.Stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subject.All},
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		_, err := c.Next(jetstream.FetchMaxWait(50 * time.Millisecond))
		if err == nil {
			t.Fatal("a message came from an empty stream")
		}
		if !quiet(err) {
			t.Fatalf("Next on a quiet stream: %v (%T) is taken for a failure", err, err)
		}
	}
}
