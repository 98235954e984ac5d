package hub_test

import (
	"context"
	"testing"
	"time"

	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/services/hub"
	"github.com/dpihub/dpihub/services/hub/embedded"
)

// TestTheHubLimitsItsStreamsAndTakesWhatTheyTake: the streams get the
// configured limits, and the embedded server takes at least the largest
// message the dead-letter stream may hold, never less than its default.
func TestTheHubLimitsItsStreamsAndTakesWhatTheyTake(t *testing.T) {
	for _, tt := range []struct {
		name                   string
		maxBytes               int64
		maxMsgSize, wantMsg    int32
		wantBytes, wantPayload int64
	}{
		{"defaults", 0, 0, bus.DefaultMaxMsgSize, bus.DefaultMaxBytes, embedded.DefaultMaxPayload},
		{"smaller limits keep the default payload", 1 << 30, 1 << 20, 1 << 20, 1 << 30, embedded.DefaultMaxPayload},
		{"a larger message raises the payload", 0, 16 << 20, 16 << 20, bus.DefaultMaxBytes, 16<<20 + bus.DLQHeaderRoom},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			h, err := hub.Start(ctx, hub.Config{DataDir: t.TempDir(), NATSPort: -1, HTTPAddr: "-", MaxBytes: tt.maxBytes, MaxMsgSize: tt.maxMsgSize})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				h.Close(sctx)
			})
			s, err := h.JS.Stream(ctx, bus.Stream)
			if err != nil {
				t.Fatal(err)
			}
			c := s.CachedInfo().Config
			if c.MaxBytes != tt.wantBytes || c.MaxMsgSize != tt.wantMsg {
				t.Errorf("%s: max bytes %d, max msg size %d; want %d, %d", bus.Stream, c.MaxBytes, c.MaxMsgSize, tt.wantBytes, tt.wantMsg)
			}
			if got := h.Conn.MaxPayload(); got != tt.wantPayload || got < int64(bus.DLQMaxMsgSize(c.MaxMsgSize)) {
				t.Errorf("the server takes %d bytes, want %d (dead letters take up to %d)", got, tt.wantPayload, bus.DLQMaxMsgSize(c.MaxMsgSize))
			}
		})
	}
}
