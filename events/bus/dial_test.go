package bus_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/dpihub/dpihub/events/access"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/bus/bustest"
)

// TestDialAttachesWithoutChangingTheHubsStreams: a remote service that
// dials the hub neither makes the streams nor resets their settings, even
// when its Config asks for other ones.
func TestDialAttachesWithoutChangingTheHubsStreams(t *testing.T) {
	ctx := context.Background()
	srv := bustest.Server(t, "")
	// As the admin, who may change the streams: Dial still must not.
	_, admin, err := access.Client(bustest.Creds(t, srv, access.Admin))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := bus.Dial(ctx, srv.ClientURL(), "test", bus.Config{}, admin...); !errors.Is(err, jetstream.ErrStreamNotFound) {
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
	b, nc, err := bus.Dial(ctx, srv.ClientURL(), "test", bus.Config{MaxAge: time.Hour}, admin...)
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

// TestDialConnectsAsTheIdentityOfItsCredentials: with a country's .creds
// file, Dial connects as that country, with its inbox prefix, and logs
// what the server refuses (a publisher sees only a timeout).
func TestDialConnectsAsTheIdentityOfItsCredentials(t *testing.T) {
	ctx := context.Background()
	srv := bustest.Server(t, "")
	_, js := bustest.Connect(t, srv)
	bustest.Open(t, js)
	if _, _, err := bus.Dial(ctx, srv.ClientURL(), "anonymous", bus.Config{}); err == nil {
		t.Fatal("Dial without credentials connected")
	}
	id, opts, err := access.Client(bustest.Creds(t, srv, access.Country("ma")))
	if err != nil || id != access.Country("ma") {
		t.Fatalf("access.Client: %v, %v", id, err)
	}
	core, logs := observer.New(zap.WarnLevel)
	b, nc, err := bus.Dial(ctx, srv.ClientURL(), "ospo-node-ma", bus.Config{Logger: zap.New(core)}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if nc.Opts.InboxPrefix != "_INBOX_ma" {
		t.Fatalf("inbox prefix %q, want _INBOX_ma", nc.Opts.InboxPrefix)
	}
	if _, err := b.JetStream().Publish(ctx, "dpi.ma.fix.published.x", []byte("{}")); err != nil {
		t.Fatalf("publish on its own subject: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := b.JetStream().Publish(short, "dpi.ph.fix.published.x", []byte("{}")); err == nil {
		t.Fatal("published on another country's subject")
	}
	bustest.Eventually(t, 10*time.Second, "the violation logged", func() bool {
		return logs.FilterMessage("nats async error").Len() > 0
	})
}
