package bus_test

import (
	"context"
	"strings"
	"testing"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/bus/bustest"
)

// A hub service publishes only with a hub key, as urn:dpihub:hub:<service>,
// and an event of a fixed id once however often.
func TestAServicePublisherSignsAsTheHubServiceOnly(t *testing.T) {
	s := bustest.Server(t, "")
	_, js := bustest.Connect(t, s)
	b := bustest.Open(t, js)
	cs, _ := bustest.Countries(t, "ma", "hub")
	if _, err := b.ServicePublisher(cs["ma"].Signer, events.ServiceDedup); err == nil || !strings.Contains(err.Error(), "hub key") {
		t.Fatalf("a country's key: %v, want refused", err)
	}
	p, err := b.ServicePublisher(cs["hub"].Signer, events.ServiceDedup)
	if err != nil {
		t.Fatal(err)
	}
	dup, _ := events.Sample(events.TypeForkDuplicateDetected)
	for range 2 {
		if err := p.Publish(context.Background(), "mosip-id-repository", dup, "dedup-fork-1"); err != nil {
			t.Fatal(err)
		}
	}
	st, _ := js.Stream(context.Background(), bus.Stream)
	info, _ := st.Info(context.Background())
	m, err := st.GetMsg(context.Background(), info.State.LastSeq)
	if err != nil {
		t.Fatal(err)
	}
	e, err := bus.Decode(m.Header, m.Data)
	if info.State.Msgs != 1 || err != nil || e.Source() != "urn:dpihub:hub:dedup" || e.ID() != "dedup-fork-1" {
		t.Fatalf("%d messages; the event %s %s (%v)", info.State.Msgs, e.Source(), e.ID(), err)
	}
}
