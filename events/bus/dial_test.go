package bus_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/bus/bustest"
)

// TestDialAttachesWithoutChangingTheHubsStreams: a remote service that
// dials the hub neither makes the streams nor resets their settings, even
// when its Config asks for other ones.
func TestDialAttachesWithoutChangingTheHubsStreams(t *testing.T) {
	ctx := context.Background()
	srv := bustest.Server(t, "")
	if _, _, err := bus.Dial(ctx, srv.ClientURL(), "test", bus.Config{}); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("Dial without a hub's streams: %v, want stream not found", err)
	}
	_, js := bustest.Connect(t, srv)
	if _, err := js.Stream(ctx, bus.Stream); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("Dial made stream %s (%v)", bus.Stream, err)
	}
	const hubs = 7 * 24 * time.Hour
	if _, err := bus.Open(ctx, js, bus.Config{MaxAge: hubs}); err != nil {
		t.Fatal(err)
	}
	b, nc, err := bus.Dial(ctx, srv.ClientURL(), "test", bus.Config{MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	s, err := b.JetStream().Stream(ctx, bus.Stream)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo().Config.MaxAge; got != hubs {
		t.Fatalf("after Dial, %s keeps events %s, the hub set %s", bus.Stream, got, hubs)
	}
	if _, _, err := bus.Dial(ctx, "nats://127.0.0.1:1", "test", bus.Config{}); err == nil {
		t.Fatal("Dial to a closed port succeeded")
	}
}
