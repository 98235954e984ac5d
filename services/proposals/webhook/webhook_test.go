package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/events/subject"
	"github.com/dpihub/dpihub/services/proposals/webhook"
)

func TestTheHandshakeComesBeforeTheFirstDelivery(t *testing.T) {
	h := newHub(t)
	d := h.dispatcher(t, fast())
	e := h.propose(t, "ma", project) // in the stream before anyone subscribes
	rc := newReceiver(t)

	sub, _ := subscribe(t, d, project, rc.URL)
	got := rc.await(1)

	methods := rc.requestMethods()
	if methods[0] != http.MethodOptions || slices.Contains(methods[1:], http.MethodOptions) {
		t.Fatalf("requests %v: want the OPTIONS handshake first, and once", methods)
	}
	if o := rc.handshakes()[0].Get(webhook.HeaderRequestOrigin); o != "dpihub" {
		t.Errorf("WebHook-Request-Origin %q, want dpihub", o)
	}
	if sub.AllowedRate != "*" {
		t.Errorf("AllowedRate %q, want * as the receiver answered", sub.AllowedRate)
	}
	if id := got[0].eventID(t); id != e.ID() {
		t.Errorf("delivered %s, want %s", id, e.ID())
	}
	if o := got[0].header.Get("Origin"); o != "dpihub" {
		t.Errorf("delivery Origin %q, want dpihub (CloudEvents webhook spec)", o)
	}
}

func TestAReceiverThatRefusesTheHandshakeIsNotSubscribed(t *testing.T) {
	h := newHub(t)
	d := h.dispatcher(t, fast())
	h.propose(t, "ma", project)

	closed := newReceiver(t)
	closed.down()
	tests := []struct {
		name  string
		shake func(w http.ResponseWriter, r *http.Request)
		rc    *receiver
		says  string // what the error must report
	}{
		{name: "answers 200 without WebHook-Allowed-Origin",
			shake: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) },
			says:  `answered "200 OK" to OPTIONS with WebHook-Request-Origin: dpihub, without a WebHook-Allowed-Origin header`},
		{name: "allows another origin",
			shake: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set(webhook.HeaderAllowedOrigin, "events.example.org")
				w.WriteHeader(http.StatusOK)
			},
			says: `answered WebHook-Allowed-Origin: "events.example.org"`},
		{name: "answers 405 Method Not Allowed",
			shake: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set(webhook.HeaderAllowedOrigin, "dpihub") // not consent without 2xx
				w.WriteHeader(http.StatusMethodNotAllowed)
			},
			says: `answered "405 Method Not Allowed"`},
		{name: "refuses with webhook.Handshake for another origin",
			shake: func(w http.ResponseWriter, r *http.Request) { webhook.Handshake(w, r, "other-hub") },
			says:  `answered "403 Forbidden"`},
		{name: "does not listen", rc: closed, says: "did not answer the webhook handshake"},
	}
	var refused []*receiver
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := tt.rc
			if rc == nil {
				rc = newReceiver(t)
				rc.shake = tt.shake
			}
			refused = append(refused, rc)
			_, secret, err := d.Subscribe(context.Background(), project, rc.URL)
			if !errors.Is(err, events.ErrBadInput) {
				t.Fatalf("Subscribe: %v, want an ErrBadInput", err)
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("error %q does not say %q", err, tt.says)
			}
			if secret != "" {
				t.Error("a secret was returned for a refused subscription")
			}
		})
	}
	list, err := d.List(context.Background())
	if err != nil || len(list) != 0 {
		t.Fatalf("List = %v, %v; want no subscription", list, err)
	}
	// A receiver that agrees gets the event; by then any worker of a
	// refused one would have posted too.
	ok := newReceiver(t)
	subscribe(t, d, project, ok.URL)
	ok.await(1)
	for _, rc := range refused {
		if n := len(rc.all()); n != 0 {
			t.Errorf("%s refused the handshake but got %d POSTs", rc.URL, n)
		}
	}
}

func TestBothSignaturesVerifyAtTheReceiver(t *testing.T) {
	h := newHub(t)
	d := h.dispatcher(t, fast())
	rc := newReceiver(t)
	_, secret := subscribe(t, d, project, rc.URL)
	e := h.propose(t, "ph", project)
	got := rc.await(1)[0]

	if ct := got.header.Get("Content-Type"); ct != "application/cloudevents+json; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if err := webhook.VerifyRequest(secret, got.header, got.body, time.Now(), time.Minute); err != nil {
		t.Errorf("the HMAC does not verify: %v", err)
	}
	if _, err := h.verifier.Verify(decode(t, got.body)); err != nil {
		t.Errorf("the CloudEvent's signature does not verify with the trust list: %v", err)
	}
	if stored := storedData(t, h, e); !bytes.Equal(got.body, stored) {
		t.Errorf("the body is not the stored message:\n got %s\nwant %s", got.body, stored)
	}

	t.Run("a body altered by one byte fails both", func(t *testing.T) {
		body := bytes.Clone(got.body)
		i := bytes.Index(body, []byte("Offline enrolment"))
		if i < 0 {
			t.Fatalf("no title in %s", body)
		}
		body[i] = 'o'
		if err := webhook.VerifyRequest(secret, got.header, body, time.Now(), time.Minute); !errors.Is(err, webhook.ErrSignature) {
			t.Errorf("HMAC of an altered body: %v, want ErrSignature", err)
		}
		_, err := h.verifier.Verify(decode(t, body))
		if r := sign.ReasonOf(err); r != sign.ReasonTamperedData {
			t.Errorf("CloudEvent with an altered body: %v (reason %q), want %s", err, r, sign.ReasonTamperedData)
		}
	})
	t.Run("a forged HMAC fails", func(t *testing.T) {
		forged := got.header.Clone()
		sig := []byte(forged.Get(webhook.HeaderSignature))
		sig[len(sig)-3] ^= 1 // still Base64, another MAC
		forged.Set(webhook.HeaderSignature, string(sig))
		if err := webhook.VerifyRequest(secret, forged, got.body, time.Now(), time.Minute); !errors.Is(err, webhook.ErrSignature) {
			t.Errorf("forged signature: %v, want ErrSignature", err)
		}
	})
	t.Run("another subscription's secret fails", func(t *testing.T) {
		other := newReceiver(t)
		_, otherSecret := subscribe(t, d, project, other.URL)
		if otherSecret == secret {
			t.Fatal("two subscriptions have the same secret")
		}
		if err := webhook.VerifyRequest(otherSecret, got.header, got.body, time.Now(), time.Minute); !errors.Is(err, webhook.ErrSignature) {
			t.Errorf("with another secret: %v, want ErrSignature", err)
		}
	})
}

func decode(t testing.TB, body []byte) event.Event {
	t.Helper()
	var e event.Event
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("body is not a CloudEvent: %v", err)
	}
	return e
}

// storedData returns the data of e's message in DPI.
func storedData(t testing.TB, h *hub, e event.Event) []byte {
	t.Helper()
	s, err := subject.Of(e)
	if err != nil {
		t.Fatal(err)
	}
	str, err := h.js.Stream(context.Background(), bus.Stream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := str.GetLastMsgForSubject(context.Background(), s.String())
	if err != nil {
		t.Fatal(err)
	}
	return m.Data
}

func TestAReceiverThatIsDownGetsEveryEventInOrderOnceBack(t *testing.T) {
	h := newHub(t)
	d := h.dispatcher(t, fast())
	rc := newReceiver(t)
	sub, _ := subscribe(t, d, project, rc.URL)
	rc.setAnswer(func(*http.Request) int { return http.StatusServiceUnavailable })

	var sent []event.Event
	for range 5 {
		sent = append(sent, h.propose(t, "lk", project))
	}
	bustest.Eventually(t, wait, "3 attempts answered 503", func() bool { return len(rc.all()) >= 3 })
	rc.down()
	failed := status(t, d, sub.ID).FailedAttempts
	bustest.Eventually(t, wait, "2 attempts refused while down", func() bool {
		return status(t, d, sub.ID).FailedAttempts >= failed+2
	})
	for range 5 {
		sent = append(sent, h.propose(t, "ma", project))
	}
	rc.setAnswer(nil)
	rc.up()
	got := rc.await(len(sent))

	if g, w := ids(t, got), eventIDs(sent); !slices.Equal(g, w) {
		t.Fatalf("delivered %v, want %v in this order", g, w)
	}
	seen := map[string]bool{}
	for _, g := range got {
		id := g.header.Get(webhook.HeaderID)
		if seen[id] {
			t.Errorf("webhook-id %s accepted twice", id)
		}
		seen[id] = true
	}
	// Every attempt at the first event had the same webhook-id.
	first := got[0].header.Get(webhook.HeaderID)
	for _, p := range rc.all() {
		if p.eventID(t) == sent[0].ID() && p.header.Get(webhook.HeaderID) != first {
			t.Errorf("a retry of %s had webhook-id %s, want %s", sent[0].ID(), p.header.Get(webhook.HeaderID), first)
		}
	}
	s := status(t, d, sub.ID)
	if s.Delivered != 10 || s.DeadLettered != 0 || s.ConsecutiveFailures != 0 || s.FailedAttempts < 5 || s.LastError == "" {
		t.Errorf("status %+v: want 10 delivered, none dead, at least 5 failed attempts and none since", s)
	}
}

func TestADeadReceiverIsDeadLetteredWithoutSlowingOthers(t *testing.T) {
	h := newHub(t)
	cfg := webhook.Config{MaxAttempts: 3, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 10 * time.Millisecond, Timeout: 200 * time.Millisecond}
	d := h.dispatcher(t, cfg)
	limit := time.Duration(cfg.MaxAttempts) * cfg.Timeout

	dead := newReceiver(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) }) // before the receiver's server closes
	dead.setAnswer(func(*http.Request) int { <-release; return http.StatusOK })
	healthy := newReceiver(t)
	other := newReceiver(t) // of another project
	deadSub, _ := subscribe(t, d, project, dead.URL)
	subscribe(t, d, project, healthy.URL)
	subscribe(t, d, "mojaloop-central-ledger", other.URL)

	var lat []time.Duration
	probe := func(rc *receiver, p string) {
		t.Helper()
		n := len(rc.accepted())
		start := time.Now()
		h.propose(t, "ma", p)
		got := rc.await(n + 1)
		lat = append(lat, got[n].at.Sub(start))
	}
	var sent []event.Event
	for range 3 {
		n := len(healthy.accepted())
		start := time.Now()
		sent = append(sent, h.propose(t, "ph", project))
		got := healthy.await(n + 1)
		lat = append(lat, got[n].at.Sub(start))
	}
	// While the dead receiver's worker works through its three events,
	// another project's receiver is served as fast as ever.
	deadline := time.Now().Add(wait)
	for status(t, d, deadSub.ID).DeadLettered < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the dead receiver's events were not dead-lettered within %v: %+v", wait, status(t, d, deadSub.ID))
		}
		probe(other, "mojaloop-central-ledger")
	}

	worst := slices.Max(lat)
	t.Logf("a healthy receiver's worst latency: %v over %d deliveries", worst, len(lat))
	if worst > limit/2 {
		t.Errorf("a healthy receiver waited up to %v (of %d deliveries), want far below the dead one's %v", worst, len(lat), limit)
	}
	s := status(t, d, deadSub.ID)
	if s.DeadLettered != 3 || s.Delivered != 0 || s.FailedAttempts != 9 {
		t.Errorf("dead receiver status %+v: want 3 dead-lettered after 9 failed attempts", s)
	}
	var dls []bus.DeadLetter
	for _, dl := range bustest.DeadLetters(t, h.js) {
		if dl.Consumer == "webhook-"+deadSub.ID {
			dls = append(dls, dl)
		}
	}
	if len(dls) != 3 {
		t.Fatalf("%d dead letters of webhook-%s, want 3", len(dls), deadSub.ID)
	}
	for i, dl := range dls {
		if dl.Reason != webhook.ReasonUndeliverable || !strings.Contains(dl.Detail, "3 attempts") {
			t.Errorf("dead letter %d: reason %q, detail %q", i, dl.Reason, dl.Detail)
		}
		if id := decode(t, dl.Data).ID(); id != sent[i].ID() {
			t.Errorf("dead letter %d holds %s, want %s (in order)", i, id, sent[i].ID())
		}
	}
	// The attempts came in order: all of the first event's, then the
	// second's, then the third's.
	var order []string
	for _, p := range dead.all() {
		if id := p.eventID(t); len(order) == 0 || order[len(order)-1] != id {
			order = append(order, id)
		}
	}
	if !slices.Equal(order, eventIDs(sent)) {
		t.Errorf("the dead receiver was tried with %v, want %v in turn", order, eventIDs(sent))
	}
}

func TestAForgedEventIsNeverDelivered(t *testing.T) {
	h := newHub(t)
	d := h.dispatcher(t, fast())
	rc := newReceiver(t)
	sub, _ := subscribe(t, d, project, rc.URL)

	impostor, _ := bustest.Countries(t, "ma") // a key the trust list does not hold
	forged := h.proposal(t, "ma", project)
	if _, err := h.bus.Publisher(impostor["ma"].Signer).Publish(context.Background(), forged); err != nil {
		t.Fatal(err)
	}
	genuine := h.propose(t, "ma", project)

	rc.await(1)
	bustest.Eventually(t, wait, "both events settled", func() bool {
		s := status(t, d, sub.ID)
		return s.Skipped == 1 && s.Delivered == 1 && s.Pending == 0
	})
	if g := ids(t, rc.accepted()); !slices.Equal(g, []string{genuine.ID()}) || len(rc.all()) != 1 {
		t.Errorf("delivered %v (%d POSTs), want only the genuine %s", g, len(rc.all()), genuine.ID())
	}
}

func TestARestartContinuesWhereItStopped(t *testing.T) {
	h := newHub(t)
	reg := prometheus.NewRegistry()
	cfg := fast()
	cfg.Registerer = reg
	start := func() *webhook.Dispatcher {
		d, err := webhook.New(h.bus, h.verifier, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close(context.Background()) })
		return d
	}
	d := start()
	rc := newReceiver(t)
	sub, secret := subscribe(t, d, project, rc.URL)
	var sent []event.Event
	for range 3 {
		sent = append(sent, h.propose(t, "ma", project))
	}
	rc.await(3)

	// The fourth is in flight when the dispatcher closes: abandoned, not
	// failed, and delivered after the restart.
	inFlight := make(chan struct{})
	rc.setAnswer(func(r *http.Request) int {
		close(inFlight)
		<-r.Context().Done()
		return http.StatusServiceUnavailable
	})
	sent = append(sent, h.propose(t, "ma", project))
	select {
	case <-inFlight:
	case <-time.After(wait):
		t.Fatal("the fourth event was not posted")
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(ctx); err != nil { // twice is fine
		t.Fatal(err)
	}
	rc.setAnswer(nil)
	for range 2 {
		sent = append(sent, h.propose(t, "ma", project))
	}

	d = start()
	got := rc.await(len(sent))
	if g := ids(t, got); !slices.Equal(g, eventIDs(sent)) {
		t.Fatalf("delivered %v, want %v: each once, in order", g, eventIDs(sent))
	}
	bustest.Eventually(t, wait, "nothing pending", func() bool { return status(t, d, sub.ID).Pending == 0 })
	if n := len(rc.accepted()); n != len(sent) {
		t.Errorf("%d deliveries accepted, want %d", n, len(sent))
	}
	if s := status(t, d, sub.ID); s.Delivered != 3 || s.FailedAttempts != 0 {
		t.Errorf("after the restart: %+v, want 3 delivered, no failed attempt", s)
	}
	if n := testutil.ToFloat64(counter(t, reg, sub.ID, "retry")); n != 0 {
		t.Errorf("%v retries counted, want 0: a cancelled delivery is not a failure", n)
	}
	if n := testutil.ToFloat64(counter(t, reg, sub.ID, "ok")); n != float64(len(sent)) {
		t.Errorf("%v deliveries counted ok, want %d", n, len(sent))
	}
	for _, g := range got {
		if err := webhook.VerifyRequest(secret, g.header, g.body, time.Now(), time.Minute); err != nil {
			t.Errorf("after the restart the secret is the same: %v", err)
		}
	}
}

// counter returns dpihub_webhook_deliveries_total{subscription, result}
// as registered in reg.
func counter(t testing.TB, reg *prometheus.Registry, sub, result string) prometheus.Collector {
	t.Helper()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dpihub_webhook_deliveries_total",
		Help: "Webhook deliveries of proposal events, by subscription and result (ok, retry, dead, skipped)."},
		[]string{"subscription", "result"})
	err := reg.Register(c)
	are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err)
	if !ok {
		t.Fatalf("the deliveries counter is not registered: %v", err)
	}
	return are.ExistingCollector.(*prometheus.CounterVec).WithLabelValues(sub, result)
}

func TestRemoveStopsDeliveries(t *testing.T) {
	h := newHub(t)
	d := h.dispatcher(t, fast())
	rc := newReceiver(t)
	sub, _ := subscribe(t, d, project, rc.URL)
	h.propose(t, "ma", project)
	rc.await(1)

	if err := d.Remove(context.Background(), sub.ID); err != nil {
		t.Fatal(err)
	}
	h.propose(t, "ph", project)
	// A new subscription gets both events from the stream; the removed
	// one's worker would have had the second as soon.
	later := newReceiver(t)
	subscribe(t, d, project, later.URL)
	later.await(2)
	if n := len(rc.all()); n != 1 {
		t.Errorf("the removed subscription got %d POSTs, want 1", n)
	}
	if _, err := h.js.Consumer(context.Background(), bus.Stream, "webhook-"+sub.ID); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Errorf("consumer of a removed subscription: %v, want not found", err)
	}
	if _, err := d.Get(context.Background(), sub.ID); !errors.Is(err, events.ErrNotFound) {
		t.Errorf("Get of a removed subscription: %v, want ErrNotFound", err)
	}
	// Removed, the URL may subscribe again, and starts afresh.
	again, _ := subscribe(t, d, project, rc.URL)
	if again.ID == sub.ID {
		t.Error("a new subscription has the removed one's id")
	}
	rc.await(3)
}

func TestUnknownSubscriptionsAreNotFound(t *testing.T) {
	h := newHub(t)
	d := h.dispatcher(t, fast())
	if _, err := d.Get(context.Background(), "0123456789abcdef"); !errors.Is(err, events.ErrNotFound) {
		t.Errorf("Get: %v, want ErrNotFound", err)
	}
	if err := d.Remove(context.Background(), "0123456789abcdef"); !errors.Is(err, events.ErrNotFound) {
		t.Errorf("Remove: %v, want ErrNotFound", err)
	}
}

func TestListShowsCountsAndNeverTheSecret(t *testing.T) {
	h := newHub(t)
	d := h.dispatcher(t, fast())
	a, b := newReceiver(t), newReceiver(t)
	subA, secretA := subscribe(t, d, project, a.URL)
	subB, secretB := subscribe(t, d, "mojaloop-central-ledger", b.URL)
	if !strings.HasPrefix(secretA, "whsec_") || len(secretA) != len("whsec_")+44 {
		t.Errorf("secret %d bytes long, want whsec_ and the Base64 of 32 bytes", len(secretA))
	}
	for range 2 {
		h.propose(t, "ma", project)
	}
	a.await(2)

	list, err := d.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != subA.ID || list[1].ID != subB.ID {
		t.Fatalf("List = %+v, want %s then %s", list, subA.ID, subB.ID)
	}
	if s := list[0]; s.Delivered != 2 || s.Project != project || s.URL != a.URL || s.LastDeliveredAt.IsZero() || s.Created.IsZero() {
		t.Errorf("status of a: %+v", s)
	}
	if s := list[1]; s.Delivered != 0 || s.Pending != 0 {
		t.Errorf("status of b: %+v", s)
	}
	js, err := json.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{secretA, secretB, strings.TrimPrefix(secretA, "whsec_")} {
		if strings.Contains(string(js), secret) || strings.Contains(string(js), "secret") {
			t.Fatalf("List shows a secret: %s", js)
		}
	}

	t.Run("the same URL twice is refused, without a second handshake", func(t *testing.T) {
		_, _, err := d.Subscribe(context.Background(), project, a.URL)
		if !errors.Is(err, events.ErrBadInput) || !strings.Contains(err.Error(), "already subscribed to "+project+" as "+subA.ID) {
			t.Errorf("Subscribe again: %v, want ErrBadInput naming %s", err, subA.ID)
		}
		if n := len(a.handshakes()); n != 1 {
			t.Errorf("%d handshakes, want 1", n)
		}
	})
	t.Run("bad input is refused", func(t *testing.T) {
		for _, c := range []struct{ project, url string }{
			{"Not A Slug", a.URL},
			{project, "ftp://example.org/hook"},
			{project, "/hooks/relative"},
			{project, "mailto:maintainer@example.org"},
			{project, "http://"},
		} {
			if _, _, err := d.Subscribe(context.Background(), c.project, c.url); !errors.Is(err, events.ErrBadInput) {
				t.Errorf("Subscribe(%q, %q): %v, want ErrBadInput", c.project, c.url, err)
			}
		}
	})
}

func TestAReceiverThatAnswers410IsUnsubscribed(t *testing.T) {
	h := newHub(t)
	d := h.dispatcher(t, fast())
	rc := newReceiver(t)
	rc.setAnswer(func(*http.Request) int { return http.StatusGone })
	sub, _ := subscribe(t, d, project, rc.URL)
	h.propose(t, "ma", project)

	bustest.Eventually(t, wait, "unsubscribed", func() bool {
		_, err := d.Get(context.Background(), sub.ID)
		return errors.Is(err, events.ErrNotFound)
	})
	bustest.Eventually(t, wait, "its consumer deleted", func() bool {
		_, err := h.js.Consumer(context.Background(), bus.Stream, "webhook-"+sub.ID)
		return errors.Is(err, jetstream.ErrConsumerNotFound)
	})
	if n := len(rc.all()); n != 1 {
		t.Errorf("%d POSTs, want 1: the 410 ends it", n)
	}
	// It is gone from the store too: a restart does not bring it back.
	d2, err := webhook.New(h.bus, h.verifier, fast())
	if err != nil {
		t.Fatal(err)
	}
	if err := d2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer d2.Close(context.Background())
	if list, err := d2.List(context.Background()); err != nil || len(list) != 0 {
		t.Errorf("after a restart List = %v, %v; want none", list, err)
	}
}

func TestAnEventInBinaryModeIsDeliveredInStructuredMode(t *testing.T) {
	h := newHub(t)
	d := h.dispatcher(t, fast())
	rc := newReceiver(t)
	subscribe(t, d, project, rc.URL)

	e := h.proposal(t, "ma", project)
	if err := h.signers["ma"].Sign(&e); err != nil {
		t.Fatal(err)
	}
	s, err := subject.Of(e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.js.PublishMsg(context.Background(), bus.EncodeBinary(s.String(), e)); err != nil {
		t.Fatal(err)
	}
	got := rc.await(1)[0]
	if _, err := h.verifier.Verify(decode(t, got.body)); err != nil {
		t.Errorf("the structured event made from a binary-mode message does not verify: %v\n%s", err, got.body)
	}
}

func TestCloseStopsEveryWorkerPromptly(t *testing.T) {
	h := newHub(t)
	d, err := webhook.New(h.bus, h.verifier, webhook.Config{Timeout: time.Hour, InitialBackoff: time.Hour, MaxBackoff: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	hanging, failing := newReceiver(t), newReceiver(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	hanging.setAnswer(func(*http.Request) int { <-release; return http.StatusOK })
	failing.setAnswer(func(*http.Request) int { return http.StatusInternalServerError })
	subscribe(t, d, project, hanging.URL)
	fs, _ := subscribe(t, d, project, failing.URL)
	h.propose(t, "ma", project)
	bustest.Eventually(t, wait, "one posted, the other backing off", func() bool {
		return len(hanging.all()) == 1 && status(t, d, fs.ID).FailedAttempts == 1
	})

	if n := goroutines("webhook.(*worker)"); n < 2 {
		t.Fatalf("%d worker goroutines before Close, want at least 2: the count below would prove nothing", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := d.Close(ctx); err != nil {
		t.Fatalf("Close with a request in flight and a retry an hour away: %v", err)
	}
	if _, _, err := d.Subscribe(context.Background(), project, newReceiver(t).URL); !errors.Is(err, webhook.ErrClosed) {
		t.Errorf("Subscribe after Close: %v, want ErrClosed", err)
	}
	if n := goroutines("webhook.(*worker)"); n != 0 {
		t.Errorf("%d worker goroutines left after Close", n)
	}
}

// goroutines counts the goroutines with a frame of fn in their stacks.
func goroutines(fn string) int {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, fn) {
			n++
		}
	}
	return n
}

func TestNewRefusesABadConfig(t *testing.T) {
	h := newHub(t)
	for _, cfg := range []webhook.Config{
		{Timeout: -time.Second},
		{MaxAttempts: -1},
		{InitialBackoff: time.Minute, MaxBackoff: time.Second},
		{Origin: "dpihub\r\nX-Evil: 1"},
	} {
		if _, err := webhook.New(h.bus, h.verifier, cfg); err == nil {
			t.Errorf("New accepted %+v", cfg)
		}
	}
}

// A redirect is an answer, not a delivery: the dispatcher never follows
// it to wherever it points.
func TestRedirectsAreNotFollowed(t *testing.T) {
	h := newHub(t)
	d := h.dispatcher(t, fast())
	target := newReceiver(t)
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !webhook.Handshake(w, r, "dpihub") {
			http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
		}
	}))
	t.Cleanup(redirecting.Close)
	sub, _ := subscribe(t, d, project, redirecting.URL)
	h.propose(t, "ma", project)
	bustest.Eventually(t, wait, "two failed attempts", func() bool { return status(t, d, sub.ID).FailedAttempts >= 2 })
	if s := status(t, d, sub.ID); !strings.Contains(s.LastError, "307 Temporary Redirect") {
		t.Errorf("last error %q does not name the answer", s.LastError)
	}
	if n := len(target.all()); n != 0 {
		t.Errorf("the redirect target got %d POSTs", n)
	}
}

func TestMetrics(t *testing.T) {
	h := newHub(t)
	reg := prometheus.NewRegistry()
	cfg := fast()
	cfg.Registerer = reg
	d := h.dispatcher(t, cfg)
	ok, failing := newReceiver(t), newReceiver(t)
	failing.setAnswer(func(*http.Request) int { return http.StatusBadGateway })
	okSub, _ := subscribe(t, d, project, ok.URL)
	failingSub, _ := subscribe(t, d, project, failing.URL)
	impostor, _ := bustest.Countries(t, "ma")
	if _, err := h.bus.Publisher(impostor["ma"].Signer).Publish(context.Background(), h.proposal(t, "ma", project)); err != nil {
		t.Fatal(err)
	}
	h.propose(t, "ma", project)
	ok.await(1)
	bustest.Eventually(t, wait, "retries counted", func() bool {
		return testutil.ToFloat64(counter(t, reg, failingSub.ID, "retry")) >= 2
	})

	for _, c := range []struct {
		sub, result string
		want        float64
	}{{okSub.ID, "ok", 1}, {okSub.ID, "skipped", 1}, {okSub.ID, "retry", 0}, {failingSub.ID, "skipped", 1}, {failingSub.ID, "ok", 0}} {
		if got := testutil.ToFloat64(counter(t, reg, c.sub, c.result)); got != c.want {
			t.Errorf("deliveries{%s, %s} = %v, want %v", c.sub, c.result, got, c.want)
		}
	}
	if n, err := testutil.GatherAndCount(reg, "dpihub_webhook_delivery_seconds"); err != nil || n != 1 {
		t.Errorf("delivery_seconds: %d series, %v", n, err)
	}
	gauge := func() float64 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "dpihub_webhook_subscriptions" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatal("no dpihub_webhook_subscriptions")
		return 0
	}
	if g := gauge(); g != 2 {
		t.Errorf("subscriptions gauge %v, want 2", g)
	}
	if err := d.Remove(context.Background(), failingSub.ID); err != nil {
		t.Fatal(err)
	}
	if g := gauge(); g != 1 {
		t.Errorf("subscriptions gauge %v after Remove, want 1", g)
	}
	if n, err := testutil.GatherAndCount(reg, "dpihub_webhook_deliveries_total"); err != nil || n != 4 {
		t.Errorf("deliveries_total has %d series after Remove (%v), want the 4 of the remaining subscription", n, err)
	}
}
