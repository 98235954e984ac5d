package cli

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dpihub/dpihub/events/access"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/events/subject"
)

// TestTailFollowsAStreamAsTheObserver: with the observer's credentials,
// which may make no consumer, follow hands over what is stored from the
// sequence it was given (not what was before), in order, waiting for what
// is not there yet, and stops when told.
func TestTailFollowsAStreamAsTheObserver(t *testing.T) {
	srv := bustest.Server(t, "")
	_, admin := bustest.Connect(t, srv)
	bustest.Open(t, admin)
	ctx := context.Background()
	if _, err := admin.Publish(ctx, "dpi.ma.fix.published.old", nil); err != nil {
		t.Fatal(err)
	}
	_, js := bustest.ConnectAs(t, srv, access.Observer)
	s, err := js.Stream(ctx, bus.Stream)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 10)
	done := make(chan error, 1)
	go func() {
		done <- follow(ctx, s, subject.All, 2, func(m *jetstream.RawStreamMsg) bool {
			got <- m.Subject
			return len(got) < 2
		})
	}()
	for _, s := range []string{"dpi.ph.fix.published.a", "dpi.lk.fix.published.b"} {
		if _, err := admin.Publish(ctx, s, nil); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("follow: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("follow did not hand over two messages in 30s")
	}
	if a, b := <-got, <-got; a != "dpi.ph.fix.published.a" || b != "dpi.lk.fix.published.b" {
		t.Fatalf("followed %s, %s", a, b)
	}
}
