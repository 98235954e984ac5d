package deploy_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dpihub/dpihub/events/access"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/services/hub/deploy"
)

func TestAHubMemberKilledDuringAPublishLoadLosesNoAcknowledgedEvent(t *testing.T) {
	d := loopback(t, "ma")
	ctx := context.Background()
	s, _ := signers(t, "ma")
	_, opts, err := access.Client(filepath.Join(d.dir, deploy.CredsDir, access.Country("ma").CredsFile()))
	if err != nil {
		t.Fatal(err)
	}
	// A node connected to the hub directly, to every member.
	nc, err := nats.Connect(d.plan.HubURLs(), append(opts, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))...)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	b := attach(t, nc, "")
	pub := b.Publisher(s["ma"])
	admin := d.connectHub(access.Admin)
	js, err := jetstream.New(admin)
	if err != nil {
		t.Fatal(err)
	}

	const n, killAt = 3000, 1000
	evs := fixes(t, "ma", n, "load")
	var acked atomic.Int64
	type kill struct {
		name  string
		acked int64 // acknowledged when it was killed
	}
	killed := make(chan kill, 1)
	go func() {
		for acked.Load() < killAt {
			time.Sleep(5 * time.Millisecond)
		}
		// The stream's leader: the member whose loss costs most. Asking
		// may fail for a moment under load: ask again.
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			info, err := d.streamInfo(js, bus.Stream)
			if err != nil || info.Cluster == nil {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			for _, p := range d.hub {
				if p.name == info.Cluster.Leader {
					at := acked.Load()
					p.kill()
					killed <- kill{p.name, at}
					return
				}
			}
		}
		killed <- kill{}
	}()
	ackedIDs := map[string]bool{}
	retries := 0
	for _, e := range evs {
		deadline := time.Now().Add(2 * time.Minute)
		for {
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, err := pub.Publish(pctx, e)
			cancel()
			if err == nil {
				break
			}
			// Not acknowledged: the publisher does not know whether it was
			// stored, and publishes it again (the same Nats-Msg-Id).
			retries++
			if time.Now().After(deadline) {
				t.Fatalf("%s not acknowledged within 2m: %v", e.ID(), err)
			}
		}
		ackedIDs[bus.MsgID(e)] = true
		acked.Add(1)
	}
	k := <-killed
	victim := k.name
	if victim == "" {
		t.Fatal("the stream's leader was not found to be killed")
	}
	if k.acked > n-500 {
		t.Fatalf("the leader was killed after %d of %d acknowledgements: too late to test a load", k.acked, n)
	}
	t.Logf("killed %s, the leader of DPI, after %d acknowledged events; %d publishes were tried again", victim, k.acked, retries)

	var got []string
	bustest.Eventually(t, time.Minute, "the two members left serve DPI", func() bool {
		info, err := d.streamInfo(js, bus.Stream)
		return err == nil && info.State.Msgs >= n
	})
	got, _ = ids(t, js, bus.Stream)
	seen := map[string]int{}
	for _, id := range got {
		seen[id]++
	}
	for id := range ackedIDs {
		if seen[id] != 1 {
			t.Errorf("acknowledged %s is stored %d times", id, seen[id])
		}
	}
	if len(got) != n {
		t.Errorf("DPI holds %d messages, want the %d published", len(got), n)
	}
	// The member comes back and catches up.
	for _, p := range d.hub {
		if p.name == victim {
			p.start()
		}
	}
	bustest.Eventually(t, 2*time.Minute, victim+" back and current", func() bool {
		info, err := d.streamInfo(js, bus.Stream)
		if err != nil || info.Cluster == nil {
			return false
		}
		for _, r := range info.Cluster.Replicas {
			if r.Name == victim && r.Current && !r.Offline {
				return true
			}
		}
		return info.Cluster.Leader == victim
	})
}
