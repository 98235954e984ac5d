package service_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/services/feed/feedbus"
)

// TestHealthSaysDegradedWhileTheStreamIsGoneAndOKOnceCaughtUp: Health,
// what a /healthz answers from, follows the projector through a stream
// deleted and made again.
func TestHealthSaysDegradedWhileTheStreamIsGoneAndOKOnceCaughtUp(t *testing.T) {
	w := newWorld(t)
	half := len(w.steps) / 2
	w.publish(t, w.steps[:half])
	w.waitApplied(t, uint64(half))
	if ok, reason := w.svc.Health(); !ok {
		t.Fatalf("Health before anything went wrong: degraded (%s)", reason)
	}

	js := w.bus.JetStream()
	if err := js.DeleteStream(context.Background(), bus.Stream); err != nil {
		t.Fatal(err)
	}
	bustest.Eventually(t, 15*time.Second, "Health says degraded", func() bool {
		ok, reason := w.svc.Health()
		return !ok && reason != ""
	})
	if _, reason := w.svc.Health(); !strings.Contains(reason, feedbus.ResetStreamMissing) && !strings.Contains(reason, feedbus.ResetConsumerDeleted) {
		t.Errorf("Health's reason %q names neither the stream nor the consumer", reason)
	}
	bustest.Open(t, js)
	w.publish(t, w.steps[half:])
	bustest.Eventually(t, 15*time.Second, "the feed holds every event of both streams and is healthy", func() bool {
		ok, _ := w.svc.Health()
		return ok && eventCount(t, w.svc) == len(w.steps)
	})
}
