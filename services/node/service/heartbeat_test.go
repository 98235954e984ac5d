package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/services/node/service"
)

func TestANodeSendsSignedHeartbeatsWithItsVersionForksAndLag(t *testing.T) {
	cfg := oneNode(t)
	cfg.PollInterval, cfg.HeartbeatInterval, cfg.Version = -1, 50*time.Millisecond, "v1.2.3"
	v := cfg.Verifier
	s, err := service.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })

	stream, err := cfg.Bus.JetStream().Stream(context.Background(), bus.Stream)
	if err != nil {
		t.Fatal(err)
	}
	var beats []events.NodeHeartbeat
	bustest.Eventually(t, 15*time.Second, "two heartbeats reach the stream", func() bool {
		beats = beats[:0]
		for seq := uint64(1); ; seq++ {
			m, err := stream.GetMsg(context.Background(), seq, jetstream.WithGetMsgSubject("dpi.ma.node.heartbeat._"))
			if err != nil {
				break
			}
			e, err := bus.Decode(m.Header, m.Data)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := v.Verify(e); err != nil {
				t.Fatalf("a heartbeat does not verify: %v", err)
			}
			p, err := events.DecodeValue(e)
			if err != nil {
				t.Fatal(err)
			}
			beats = append(beats, p.(events.NodeHeartbeat))
			seq = m.Sequence
		}
		return len(beats) >= 2
	})
	hb := beats[0]
	if hb.Version != "v1.2.3" || hb.Forks != 1 || hb.Lag < 0 || hb.StartedAt.IsZero() || len(hb.Services) != 1 {
		t.Fatalf("heartbeat %+v", hb)
	}
	if !beats[1].StartedAt.Equal(hb.StartedAt) {
		t.Fatal("two heartbeats of one run name different starts")
	}
}
