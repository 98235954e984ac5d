package bus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/events/subject"
)

const project = "mosip-id-repository"

// recorder is a handler that remembers what it saw.
type recorder struct {
	mu   sync.Mutex
	seen []event.Event
}

func (r *recorder) handle(_ context.Context, e event.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, e)
	return nil
}

func (r *recorder) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.seen {
		out = append(out, e.ID())
	}
	return out
}

func (r *recorder) len() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.seen) }

// newEvent is the sample of typ from cc's node, made an event cc may send
// (events.Authorize) where the sample's ids stand in the way: a new fix or
// proposal is put in cc's namespace, and a vote on or an assessment of
// cc's own is moved to another country's.
func newEvent(t testing.TB, cc, typ string) event.Event {
	t.Helper()
	p, ok := events.Sample(typ)
	if !ok {
		t.Fatalf("no sample for %s", typ)
	}
	other := "ph"
	if cc == other {
		other = "lk"
	}
	own := func(id string) bool { origin, _ := events.OriginOf(id); return origin == cc }
	switch q := p.(type) {
	case events.FixPublished:
		q.FixID = cc + "-fix-0042"
		p = q
	case events.ProposalSubmitted:
		q.ProposalID = cc + "-prop-0007"
		p = q
	case events.FixAssessed:
		if own(q.FixID) {
			q.FixID = other + "-fix-0042"
		}
		p = q
	case events.FixAdopted:
		if own(q.FixID) {
			q.FixID = other + "-fix-0042"
		}
		p = q
	case events.ProposalEndorsed:
		if own(q.ProposalID) {
			q.ProposalID = other + "-prop-0007"
		}
		p = q
	case events.ProposalObjected:
		if own(q.ProposalID) {
			q.ProposalID = other + "-prop-0007"
		}
		p = q
	}
	proj := project
	if spec, _ := events.Lookup(typ); !spec.Project {
		proj = ""
	}
	e, err := events.New(events.Source{Country: cc, Service: "node"}, proj, p)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// sampleEvent is the sample of typ from the source that may send it
// (events.SampleSource): its country and the event.
func sampleEvent(t testing.TB, typ string) (string, event.Event) {
	t.Helper()
	src, ok := events.SampleSource(typ)
	if !ok {
		t.Fatalf("no sample source for %s", typ)
	}
	p, _ := events.Sample(typ)
	proj := project
	if spec, _ := events.Lookup(typ); !spec.Project {
		proj = ""
	}
	e, err := events.New(src, proj, p)
	if err != nil {
		t.Fatal(err)
	}
	return src.Country, e
}

func verifier(t testing.TB, tl *sign.TrustList) *sign.Verifier {
	t.Helper()
	v, err := sign.NewVerifier(tl)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func consume(t testing.TB, b *bus.Bus, cfg bus.ConsumerConfig, h bus.Handler) *bus.Consumer {
	t.Helper()
	c, err := b.Consume(context.Background(), cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	return c
}

func TestEveryEventKindRoundTripsSignedAndVerified(t *testing.T) {
	s := bustest.Server(t, "")
	_, js := bustest.Connect(t, s)
	b := bustest.Open(t, js)
	cs, tl := bustest.Countries(t, "ma", "ph", "lk", "hub")
	rec := &recorder{}
	consume(t, b, bus.ConsumerConfig{Name: "all", Verifier: verifier(t, tl)}, rec.handle)

	want := map[string]event.Event{}
	for _, spec := range events.Catalog() {
		cc, e := sampleEvent(t, spec.Type)
		if _, err := b.Publisher(cs[cc].Signer).Publish(context.Background(), e); err != nil {
			t.Fatalf("publish %s: %v", spec.Type, err)
		}
		want[e.ID()] = e
	}
	bustest.Eventually(t, 10*time.Second, "every kind consumed", func() bool { return rec.len() == len(want) })
	for _, got := range rec.seen {
		w := want[got.ID()]
		if got.Type() != w.Type() || got.Source() != w.Source() || got.Subject() != w.Subject() ||
			!got.Time().Equal(w.Time()) || string(got.Data()) != string(w.Data()) {
			t.Errorf("%s changed on the way:\n got %v\nwant %v", w.Type(), got, w)
		}
		if _, err := events.Decode(got); err != nil {
			t.Errorf("%s: decode payload: %v", w.Type(), err)
		}
	}
}

func TestARetriedPublishIsStoredOnce(t *testing.T) {
	s := bustest.Server(t, "")
	_, js := bustest.Connect(t, s)
	b := bustest.Open(t, js)
	cs, _ := bustest.Countries(t, "ma")
	p := b.Publisher(cs["ma"].Signer)
	e := newEvent(t, "ma", events.TypeFixPublished)
	first, err := p.Publish(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	again, err := p.Publish(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	if first.Duplicate || !again.Duplicate || again.Sequence != first.Sequence {
		t.Fatalf("first %+v, retry %+v: want the retry reported as a duplicate of the first", first, again)
	}
	if err := p.PublishBatch(context.Background(), []event.Event{e, e}); err != nil {
		t.Fatal(err)
	}
	st, _ := js.Stream(context.Background(), bus.Stream)
	info, _ := st.Info(context.Background())
	if info.State.Msgs != 1 {
		t.Fatalf("stream holds %d messages, want 1", info.State.Msgs)
	}
}

func TestPublishRefusesAnInvalidEventAndStoresNothing(t *testing.T) {
	s := bustest.Server(t, "")
	_, js := bustest.Connect(t, s)
	b := bustest.Open(t, js)
	cs, _ := bustest.Countries(t, "ma")
	e := newEvent(t, "ma", events.TypeFixPublished)
	_ = e.SetData(events.ContentType, map[string]any{"fix_id": 42})
	if _, err := b.Publisher(cs["ma"].Signer).Publish(context.Background(), e); err == nil {
		t.Fatal("an event breaking its schema was published")
	}
	if err := b.Publisher(cs["ma"].Signer).PublishBatch(context.Background(), []event.Event{e}); err == nil {
		t.Fatal("a batch with an invalid event reported success")
	}
}

func TestAFailingHandlerIsRetriedWithBackoffThenDeadLettered(t *testing.T) {
	s := bustest.Server(t, "")
	_, js := bustest.Connect(t, s)
	b := bustest.Open(t, js)
	cs, tl := bustest.Countries(t, "ma")
	var mu sync.Mutex
	var attempts []time.Time
	backoff := []time.Duration{200 * time.Millisecond, 400 * time.Millisecond}
	consume(t, b, bus.ConsumerConfig{Name: "flaky", Verifier: verifier(t, tl), MaxDeliver: 3, Backoff: backoff},
		func(ctx context.Context, e event.Event) error {
			mu.Lock()
			attempts = append(attempts, time.Now())
			mu.Unlock()
			return fmt.Errorf("database unavailable")
		})
	if _, err := b.Publisher(cs["ma"].Signer).Publish(context.Background(), newEvent(t, "ma", events.TypeFixPublished)); err != nil {
		t.Fatal(err)
	}
	bustest.Eventually(t, 10*time.Second, "dead letter", func() bool { return len(bustest.DeadLetters(t, js)) == 1 })
	mu.Lock()
	defer mu.Unlock()
	if len(attempts) != 3 {
		t.Fatalf("%d attempts, want 3", len(attempts))
	}
	for i := 1; i < len(attempts); i++ {
		if gap := attempts[i].Sub(attempts[i-1]); gap < backoff[i-1] {
			t.Errorf("attempt %d came %v after the previous one, want at least %v", i+1, gap, backoff[i-1])
		}
	}
	dl := bustest.DeadLetters(t, js)[0]
	if dl.Reason != bus.ReasonMaxDeliveries || dl.Consumer != "flaky" || dl.StreamSeq != 1 ||
		!contains(dl.Detail, "database unavailable") || dl.Subject != "dpi.ma.fix.published."+project {
		t.Fatalf("dead letter %+v", dl)
	}
}

func TestAPermanentErrorIsDeadLetteredAtOnceAndAPanicDoesNotStopTheConsumer(t *testing.T) {
	s := bustest.Server(t, "")
	_, js := bustest.Connect(t, s)
	b := bustest.Open(t, js)
	cs, tl := bustest.Countries(t, "lk")
	rec := &recorder{}
	var calls sync.Map
	consume(t, b, bus.ConsumerConfig{Name: "picky", Verifier: verifier(t, tl), Backoff: []time.Duration{10 * time.Millisecond}, MaxDeliver: 2},
		func(ctx context.Context, e event.Event) error {
			n, _ := calls.LoadOrStore(e.Type(), new(int))
			*n.(*int)++
			switch e.Type() {
			case events.TypeProposalObjected:
				return bus.Permanent(fmt.Errorf("unknown proposal"))
			case events.TypeProposalCommented:
				panic("boom")
			}
			return rec.handle(ctx, e)
		})
	// Sri Lanka reacts to Morocco's proposal.
	p := b.Publisher(cs["lk"].Signer)
	for _, typ := range []string{events.TypeProposalObjected, events.TypeProposalCommented, events.TypeProposalEndorsed} {
		if _, err := p.Publish(context.Background(), newEvent(t, "lk", typ)); err != nil {
			t.Fatal(err)
		}
	}
	bustest.Eventually(t, 10*time.Second, "two dead letters and one handled", func() bool {
		return len(bustest.DeadLetters(t, js)) == 2 && rec.len() == 1
	})
	reasons := map[string]string{}
	for _, dl := range bustest.DeadLetters(t, js) {
		var e event.Event
		_ = json.Unmarshal(dl.Data, &e)
		reasons[e.Type()] = dl.Reason
	}
	if reasons[events.TypeProposalObjected] != bus.ReasonHandlerRejected || reasons[events.TypeProposalCommented] != bus.ReasonMaxDeliveries {
		t.Fatalf("reasons %v", reasons)
	}
	if n, _ := calls.Load(events.TypeProposalObjected); *n.(*int) != 1 {
		t.Fatalf("a permanent error was retried: %d calls", *n.(*int))
	}
}

func signedMsg(t testing.TB, signer *sign.Signer, e event.Event, mutate func(*event.Event)) *nats.Msg {
	t.Helper()
	if signer != nil {
		if err := signer.Sign(&e); err != nil {
			t.Fatal(err)
		}
	}
	if mutate != nil {
		mutate(&e)
	}
	return bustest.Encode(t, e)
}

func TestEveryRejectionEndsInTheDLQWithItsReasonAndTheNextGoodEventIsHandled(t *testing.T) {
	s := bustest.Server(t, "")
	_, js := bustest.Connect(t, s)
	b := bustest.Open(t, js)
	cs, tl := bustest.Countries(t, "ma", "lk")
	rogue, _ := bustest.Countries(t, "ma") // a key nobody trusts
	revoked, revokedTL := bustest.Countries(t, "ph")
	rk := revokedTL.Keys[0]
	rk.Revoked = true
	tl.Add(rk)
	expiring, _ := bustest.Countries(t, "tz")
	tl.Add(sign.Trusted(expiring["tz"].Key, time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour)))

	rec := &recorder{}
	consume(t, b, bus.ConsumerConfig{Name: "strict", Verifier: verifier(t, tl)}, rec.handle)
	// Morocco comments on its own proposal: an event Morocco may send.
	good := func() event.Event { return newEvent(t, "ma", events.TypeProposalCommented) }
	lkAsMa := &sign.PrivateKey{Country: "ma", KeyID: cs["lk"].Key.KeyID, Key: cs["lk"].Key.Key}
	forger, _ := sign.NewSigner(*lkAsMa)

	cases := []struct {
		reason string
		msg    func() *nats.Msg
	}{
		{string(sign.ReasonUnsigned), func() *nats.Msg { return signedMsg(t, nil, good(), nil) }},
		{string(sign.ReasonBadSignature), func() *nats.Msg {
			return signedMsg(t, cs["ma"].Signer, good(), func(e *event.Event) {
				other := signedMsg(t, cs["ma"].Signer, good(), nil)
				var o event.Event
				_ = json.Unmarshal(other.Data, &o)
				// A real envelope, but over another event's digest list.
				e.SetExtension(sign.ExtMaterial, o.Extensions()[sign.ExtMaterial])
				e.SetExtension(sign.ExtDigests, nil)
				e.SetExtension(sign.ExtMaterial, corruptSig(t, o.Extensions()[sign.ExtMaterial].(string)))
			})
		}},
		{string(sign.ReasonTamperedData), func() *nats.Msg {
			return signedMsg(t, cs["ma"].Signer, good(), func(e *event.Event) {
				_ = e.SetData(events.ContentType, map[string]string{"proposal_id": "p-evil"})
			})
		}},
		{string(sign.ReasonTamperedAttribute), func() *nats.Msg {
			return signedMsg(t, cs["ma"].Signer, good(), func(e *event.Event) { e.SetSubject("mojaloop-central-ledger") })
		}},
		{string(sign.ReasonUnknownKey), func() *nats.Msg { return signedMsg(t, rogue["ma"].Signer, good(), nil) }},
		{string(sign.ReasonKeyOutsideWindow), func() *nats.Msg {
			return signedMsg(t, expiring["tz"].Signer, newEvent(t, "tz", events.TypeProposalEndorsed), nil)
		}},
		{string(sign.ReasonKeyRevoked), func() *nats.Msg {
			return signedMsg(t, revoked["ph"].Signer, newEvent(t, "ph", events.TypeProposalEndorsed), nil)
		}},
		{string(sign.ReasonWrongCountryKey), func() *nats.Msg { return signedMsg(t, forger, good(), nil) }},
		{string(sign.ReasonSubjectMismatch), func() *nats.Msg {
			m := signedMsg(t, cs["ma"].Signer, good(), nil)
			m.Subject = "dpi.lk.proposal.commented." + project
			return m
		}},
		{bus.ReasonSchemaInvalid, func() *nats.Msg {
			e := good()
			_ = e.SetData(events.ContentType, map[string]any{"proposal_id": ""})
			return signedMsg(t, cs["ma"].Signer, e, nil)
		}},
		{bus.ReasonNotCloudEvent, func() *nats.Msg {
			m := nats.NewMsg("dpi.ma.fix.published." + project)
			m.Data = []byte("hello, not an event")
			return m
		}},
		{bus.ReasonNotCloudEvent, func() *nats.Msg {
			m := nats.NewMsg("dpi.ma.fix.published." + project)
			m.Header.Set("Content-Type", bus.ContentTypeStructured)
			m.Data = []byte(`{"specversion":"1.0","id":`)
			return m
		}},
	}
	var goodIDs []string
	for _, tc := range cases {
		bustest.PublishRaw(t, js, tc.msg())
		g := signedMsg(t, cs["ma"].Signer, good(), nil)
		var ge event.Event
		_ = json.Unmarshal(g.Data, &ge)
		goodIDs = append(goodIDs, ge.ID())
		bustest.PublishRaw(t, js, g)
	}
	bustest.Eventually(t, 10*time.Second, "every case settled", func() bool {
		return rec.len() == len(goodIDs) && len(bustest.DeadLetters(t, js)) == len(cases)
	})
	if got := rec.ids(); !slices.Equal(got, goodIDs) {
		t.Errorf("handler saw %v, want exactly the good events in order %v", got, goodIDs)
	}
	for i, dl := range bustest.DeadLetters(t, js) {
		if dl.Reason != cases[i].reason || dl.Consumer != "strict" || dl.Detail == "" {
			t.Errorf("dead letter %d: reason %q (%s), want %q", i, dl.Reason, dl.Detail, cases[i].reason)
		}
	}
}

func corruptSig(t testing.TB, material string) string {
	t.Helper()
	raw, _ := base64Decode(material)
	var env map[string]any
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	sigs := env["signatures"].([]any)
	sig := sigs[0].(map[string]any)
	sb, _ := base64Decode(sig["sig"].(string))
	sb[10] ^= 0xff
	sig["sig"] = base64Encode(sb)
	b, _ := json.Marshal(env)
	return base64Encode(b)
}

func TestBinaryModeIsAccepted(t *testing.T) {
	s := bustest.Server(t, "")
	_, js := bustest.Connect(t, s)
	b := bustest.Open(t, js)
	cs, tl := bustest.Countries(t, "ma")
	rec := &recorder{}
	consume(t, b, bus.ConsumerConfig{Name: "binary", Verifier: verifier(t, tl)}, rec.handle)
	e := newEvent(t, "ma", events.TypeProposalSubmitted)
	if err := cs["ma"].Signer.Sign(&e); err != nil {
		t.Fatal(err)
	}
	sub, _ := subject.Of(e)
	bustest.PublishRaw(t, js, bus.EncodeBinary(sub.String(), e))
	bustest.Eventually(t, 10*time.Second, "binary event handled", func() bool { return rec.len() == 1 })
	if got := rec.seen[0]; got.ID() != e.ID() || string(got.Data()) != string(e.Data()) {
		t.Fatalf("got %v", got)
	}
}

func TestARestartedProcessResumesWithNothingLostAndNothingHandledTwice(t *testing.T) {
	dir := t.TempDir()
	cs, tl := bustest.Countries(t, "ma")
	var all []string
	handled := map[string]int{}
	var mu sync.Mutex
	h := func(ctx context.Context, e event.Event) error {
		mu.Lock()
		defer mu.Unlock()
		handled[e.ID()]++
		return nil
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(handled) }
	run := func(publish int, wantHandled int) {
		// One life of the process: its own server on the same store, its
		// own connection, bus and consumer.
		s := bustest.Server(t, dir)
		nc, js := bustest.Connect(t, s)
		b := bustest.Open(t, js)
		ctx := context.Background()
		dd, err := bus.NewKVDeduper(ctx, js, "DPI_SEEN_restart", 0)
		if err != nil {
			t.Fatal(err)
		}
		c, err := b.Consume(ctx, bus.ConsumerConfig{Name: "restart", Verifier: verifier(t, tl), Dedupe: dd}, h)
		if err != nil {
			t.Fatal(err)
		}
		var evs []event.Event
		for range publish {
			e := newEvent(t, "ma", events.TypeFixPublished)
			evs = append(evs, e)
			all = append(all, e.ID())
		}
		if err := b.Publisher(cs["ma"].Signer).PublishBatch(ctx, evs); err != nil {
			t.Fatal(err)
		}
		bustest.Eventually(t, 10*time.Second, fmt.Sprintf("%d handled", wantHandled), func() bool { return count() == wantHandled })
		c.Stop()
		_ = nc.Drain()
		s.Shutdown()
		s.WaitForShutdown()
	}
	run(200, 200)
	run(300, 500)
	mu.Lock()
	defer mu.Unlock()
	for _, id := range all {
		if handled[id] != 1 {
			t.Fatalf("event %s handled %d times", id, handled[id])
		}
	}
}

func TestMaxDeliveriesAdvisoryEndsInTheDLQ(t *testing.T) {
	s := bustest.Server(t, "")
	_, js := bustest.Connect(t, s)
	b := bustest.Open(t, js)
	cs, tl := bustest.Countries(t, "ma")
	// A consumer whose process "hangs": we create it through the bus, stop
	// our own fetching, and let a raw fetcher take deliveries without ever
	// answering, as a hung handler would.
	c := consume(t, b, bus.ConsumerConfig{Name: "hung", Verifier: verifier(t, tl), MaxDeliver: 2, AckWait: 200 * time.Millisecond, Batch: 1},
		func(ctx context.Context, e event.Event) error { <-ctx.Done(); return ctx.Err() })
	_ = c
	if _, err := b.Publisher(cs["ma"].Signer).Publish(context.Background(), newEvent(t, "ma", events.TypeFixPublished)); err != nil {
		t.Fatal(err)
	}
	bustest.Eventually(t, 10*time.Second, "max-deliveries dead letter", func() bool { return len(bustest.DeadLetters(t, js)) >= 1 })
	dl := bustest.DeadLetters(t, js)
	if len(dl) != 1 || dl[0].Reason != bus.ReasonMaxDeliveries || dl[0].StreamSeq != 1 {
		t.Fatalf("dead letters %+v", dl)
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestAnEventIsVerifiedOncePerProcessHoweverManyServicesConsumeIt(t *testing.T) {
	s := bustest.Server(t, "")
	_, js := bustest.Connect(t, s)
	b := bustest.Open(t, js)
	cs, tl := bustest.Countries(t, "ma")
	v := verifier(t, tl) // one per process
	a, c := &recorder{}, &recorder{}
	consume(t, b, bus.ConsumerConfig{Name: "feed", Verifier: v}, a.handle)
	consume(t, b, bus.ConsumerConfig{Name: "dedup", Verifier: v}, c.handle)
	const n = 20
	var evs []event.Event
	for range n {
		evs = append(evs, newEvent(t, "ma", events.TypeFixPublished))
	}
	if err := b.Publisher(cs["ma"].Signer).PublishBatch(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	bustest.Eventually(t, 10*time.Second, "both services handled every event", func() bool { return a.len() == n && c.len() == n })
	if st := v.Stats(); st.Checked != n || st.Cached != n {
		t.Fatalf("stats %+v: want %d ed25519 checks and %d spared by the cache", st, n, n)
	}
}
