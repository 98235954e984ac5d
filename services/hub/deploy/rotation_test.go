package deploy_test

import (
	"context"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dpihub/dpihub/events/access"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/services/hub/deploy"
)

// A country rotates its key: what it signed with the old one before the
// switch, published at its site and sourced into the hub, still verifies
// at the hub; once the old key is revoked, those events are refused.
func TestEventsSignedWithTheOldKeyVerifyAfterTheSwitchAndAreRefusedAfterRevocation(t *testing.T) {
	d := loopback(t, "ma")
	ctx := context.Background()
	key := func() (sign.PrivateKey, *sign.Signer) {
		k, err := sign.GenerateKey("ma")
		if err != nil {
			t.Fatal(err)
		}
		s, err := sign.NewSigner(k)
		if err != nil {
			t.Fatal(err)
		}
		return k, s
	}
	oldKey, oldSigner := key()
	newKey, newSigner := key()

	ma := attach(t, d.connect("site-ma", access.Country("ma")), "")
	if err := ma.Publisher(oldSigner).PublishBatch(ctx, fixes(t, "ma", 5, "old-key")); err != nil {
		t.Fatal(err)
	}
	hubJS, err := jetstream.New(d.connectHub(access.Admin))
	if err != nil {
		t.Fatal(err)
	}
	bustest.Eventually(t, catchUp, "the old key's 5 fixes at the hub", func() bool {
		return count(t, hubJS, bus.Stream, deploy.Own("ma")) == 5
	})
	// The switch: the new key from now, the old one until now.
	switchAt := time.Now()
	rotated := &sign.TrustList{}
	rotated.Add(sign.Trusted(oldKey, time.Time{}, switchAt))
	rotated.Add(sign.Trusted(newKey, switchAt, time.Time{}))
	if err := ma.Publisher(newSigner).PublishBatch(ctx, fixes(t, "ma", 5, "new-key")); err != nil {
		t.Fatal(err)
	}
	bustest.Eventually(t, catchUp, "the new key's 5 fixes at the hub", func() bool {
		return count(t, hubJS, bus.Stream, deploy.Own("ma")) == 10
	})

	hub, err := bus.Open(ctx, hubJS, bus.Config{Attach: true})
	if err != nil {
		t.Fatal(err)
	}
	// consume runs a consumer with trust list tl over the hub's DPI and
	// returns how many events it handled and its dead letters' reasons,
	// once it has settled all ten.
	consume := func(name string, tl *sign.TrustList) (handled int, refused []string) {
		t.Helper()
		v, err := sign.NewVerifier(tl)
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan event.Event, 16)
		c, err := hub.Consume(ctx, bus.ConsumerConfig{Name: name, Verifier: v}, func(_ context.Context, e event.Event) error {
			got <- e
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Stop()
		deadline := time.After(2 * time.Minute)
		for handled+len(refused) < 10 {
			select {
			case <-got:
				handled++
			case <-deadline:
				t.Fatalf("%s: %d handled and %d refused of 10 within 2m", name, handled, len(refused))
			default:
				refused = refused[:0]
				for _, dl := range deadLetters(hubJS, name) {
					refused = append(refused, dl.Reason)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		return handled, refused
	}
	if handled, refused := consume("after-the-switch", rotated); handled != 10 || len(refused) != 0 {
		t.Errorf("after the switch: %d handled, refused %v; want all 10 handled", handled, refused)
	}
	revoked := &sign.TrustList{}
	old := sign.Trusted(oldKey, time.Time{}, switchAt)
	old.Revoked = true
	revoked.Add(old)
	revoked.Add(sign.Trusted(newKey, switchAt, time.Time{}))
	handled, refused := consume("after-the-revocation", revoked)
	if handled != 5 || len(refused) != 5 {
		t.Fatalf("after the revocation: %d handled, %d refused; want the new key's 5 handled and the old key's 5 refused", handled, len(refused))
	}
	for _, r := range refused {
		if r != string(sign.ReasonKeyRevoked) {
			t.Errorf("an old key's event refused %s, want %s", r, sign.ReasonKeyRevoked)
		}
	}
}
