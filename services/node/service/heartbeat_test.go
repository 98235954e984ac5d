package service_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/services/node"
	"github.com/dpihub/dpihub/services/node/internal/gittest"
	"github.com/dpihub/dpihub/services/node/service"
)

func TestANodeSendsSignedHeartbeatsWithItsVersionForksAndLag(t *testing.T) {
	srv := bustest.Server(t, "")
	_, js := bustest.Connect(t, srv)
	b := bustest.Open(t, js)
	countries, tl := bustest.Countries(t, "lk")
	v, err := sign.NewVerifier(tl)
	if err != nil {
		t.Fatal(err)
	}
	g := gittest.New(t)
	up := g.Init()
	g.Commit(up, "initial", map[string]string{"ledger.txt": ledger})
	s, err := service.Start(context.Background(), service.Config{
		Country: "lk", Bus: b, Signer: countries["lk"].Signer, Verifier: v,
		Forks:      []node.Fork{{Project: project, Upstream: "file://" + up, Dir: g.Clone(up, "lk-main"), Branch: "lk-main"}},
		TokenFile:  filepath.Join(t.TempDir(), "token"),
		Registerer: prometheus.NewRegistry(), PollInterval: -1,
		HeartbeatInterval: 50 * time.Millisecond, Version: "v1.2.3",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })

	stream, err := js.Stream(context.Background(), bus.Stream)
	if err != nil {
		t.Fatal(err)
	}
	var beats []events.NodeHeartbeat
	bustest.Eventually(t, 15*time.Second, "two heartbeats reach the stream", func() bool {
		beats = beats[:0]
		for seq := uint64(1); ; seq++ {
			m, err := stream.GetMsg(context.Background(), seq, jetstream.WithGetMsgSubject("dpi.lk.node.heartbeat._"))
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
