package bus_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/events/sign"
)

// from builds the event of p sent by src about the test project.
func from(t testing.TB, src events.Source, p events.Payload, opts ...events.Option) event.Event {
	t.Helper()
	proj := project
	if spec, _ := events.Lookup(p.EventType()); !spec.Project {
		proj = ""
	}
	e, err := events.New(src, proj, p, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func node(cc string) events.Source { return events.Source{Country: cc, Service: "node"} }

var (
	governance = events.Source{Country: events.HubCountry, Service: events.ServiceProposals}
	dedup      = events.Source{Country: events.HubCountry, Service: events.ServiceDedup}
)

func sampleOf[T events.Payload](typ string, edit func(*T)) events.Payload {
	p, _ := events.Sample(typ)
	v := p.(T)
	if edit != nil {
		edit(&v)
	}
	return v
}

func idOf(t testing.TB, m *nats.Msg) string {
	t.Helper()
	var e event.Event
	if err := json.Unmarshal(m.Data, &e); err != nil {
		t.Fatal(err)
	}
	return e.ID()
}

// refusal is one message a consumer must dead-letter with reason, its
// detail naming detail.
type refusal struct {
	name, reason, detail string
	msg                  func() *nats.Msg
}

// settle publishes each refusal followed by a good event of Morocco on one
// consumer, and checks that every refusal is dead-lettered with its reason
// and detail and that the handler saw exactly the good events, in order:
// the consumer never stops.
func settle(t *testing.T, cases []refusal, cs map[string]bustest.Country, tl *sign.TrustList, opts ...sign.VerifierOption) {
	t.Helper()
	s := bustest.Server(t, "")
	_, js := bustest.Connect(t, s)
	b := bustest.Open(t, js)
	v, err := sign.NewVerifier(tl, opts...)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	consume(t, b, bus.ConsumerConfig{Name: "guard", Verifier: v}, rec.handle)
	var goodIDs []string
	for _, tc := range cases {
		bustest.PublishRaw(t, js, tc.msg())
		g := signedMsg(t, cs["ma"].Signer, newEvent(t, "ma", events.TypeFixPublished), nil)
		goodIDs = append(goodIDs, idOf(t, g))
		bustest.PublishRaw(t, js, g)
	}
	bustest.Eventually(t, 20*time.Second, "every case settled", func() bool {
		return rec.len() == len(goodIDs) && len(bustest.DeadLetters(t, js)) == len(cases)
	})
	if got := rec.ids(); !slices.Equal(got, goodIDs) {
		t.Errorf("handler saw %v, want exactly the good events in order %v", got, goodIDs)
	}
	for i, dl := range bustest.DeadLetters(t, js) {
		tc := cases[i]
		t.Run(tc.name, func(t *testing.T) {
			if dl.Reason != tc.reason || !strings.Contains(dl.Detail, tc.detail) || dl.Consumer != "guard" {
				t.Errorf("dead letter reason %q detail %q, want %q naming %q", dl.Reason, dl.Detail, tc.reason, tc.detail)
			}
		})
	}
}

func TestEveryAuthorityRuleIsDeadLetteredNotAuthorizedWithItsRuleAndTheConsumerGoesOn(t *testing.T) {
	cs, tl := bustest.Countries(t, "ma", "ph", "lk", events.HubCountry)
	sent := func(signer string, src events.Source, p events.Payload) func() *nats.Msg {
		return func() *nats.Msg { return signedMsg(t, cs[signer].Signer, from(t, src, p), nil) }
	}
	status := func(from, to string) events.Payload {
		return sampleOf(events.TypeProposalStatusChanged, func(p *events.ProposalStatusChanged) { p.From, p.To = from, to })
	}
	notAuthorized := func(name, rule string, msg func() *nats.Msg) refusal {
		return refusal{name: name, reason: bus.ReasonNotAuthorized, detail: rule, msg: msg}
	}
	settle(t, []refusal{
		notAuthorized("the hub's governance service publishes a fix", events.RuleCountryOnly,
			sent(events.HubCountry, governance, sampleOf[events.FixPublished](events.TypeFixPublished, nil))),
		notAuthorized("the Philippines publishes a fix in Morocco's namespace", events.RuleOwnNamespace,
			sent("ph", node("ph"), sampleOf[events.FixPublished](events.TypeFixPublished, nil))),
		notAuthorized("the Philippines assesses a fix whose id names no country", events.RuleNamesOrigin,
			sent("ph", node("ph"), sampleOf(events.TypeFixAssessed, func(p *events.FixAssessed) { p.FixID = "fix-0042" }))),
		notAuthorized("Morocco assesses its own fix", events.RuleOthersFix,
			sent("ma", node("ma"), sampleOf[events.FixAssessed](events.TypeFixAssessed, nil))),
		notAuthorized("Morocco endorses its own proposal", events.RuleOthersProposal,
			sent("ma", node("ma"), sampleOf[events.ProposalEndorsed](events.TypeProposalEndorsed, nil))),
		notAuthorized("the Philippines withdraws Morocco's proposal", events.RuleProposerWithdraws,
			sent("ph", node("ph"), status(events.ProposalOpen, events.ProposalWithdrawn))),
		notAuthorized("the Philippines accepts Morocco's proposal", events.RuleGovernanceDecides,
			sent("ph", node("ph"), status(events.ProposalOpen, events.ProposalAccepted))),
		notAuthorized("Morocco marks its own proposal implemented", events.RuleMaintainerImplements,
			sent("ma", node("ma"), status(events.ProposalAccepted, events.ProposalImplemented))),
		notAuthorized("the governance service reopens a proposal", events.RuleNoReopen,
			sent(events.HubCountry, governance, status(events.ProposalDeclined, events.ProposalOpen))),
		notAuthorized("Morocco publishes fix.duplicate.detected", events.RuleHubService,
			sent("ma", node("ma"), sampleOf[events.FixDuplicateDetected](events.TypeFixDuplicateDetected, nil))),
		notAuthorized("a hub service other than dedup reports a duplicate", events.RuleHubService,
			sent(events.HubCountry, governance, sampleOf[events.ForkDuplicateDetected](events.TypeForkDuplicateDetected, nil))),
		{name: "Morocco's key signs a duplicate report as the hub's dedup service", reason: string(sign.ReasonWrongCountryKey), detail: "hub",
			msg: func() *nats.Msg {
				asHub := sign.PrivateKey{Country: events.HubCountry, KeyID: cs["ma"].Key.KeyID, Key: cs["ma"].Key.Key}
				forger, err := sign.NewSigner(asHub)
				if err != nil {
					t.Fatal(err)
				}
				return signedMsg(t, forger, from(t, dedup, sampleOf[events.FixDuplicateDetected](events.TypeFixDuplicateDetected, nil)), nil)
			}},
	}, cs, tl)
}

func TestAnEventOnASubjectThatIsNotAllItsOwnIsRefusedSubjectMismatch(t *testing.T) {
	cs, tl := bustest.Countries(t, "ma", "ph")
	// The Philippines' own fix, signed, put on a subject of its choosing.
	on := func(subj string) func() *nats.Msg {
		return func() *nats.Msg {
			m := signedMsg(t, cs["ph"].Signer, newEvent(t, "ph", events.TypeFixPublished), nil)
			m.Subject = subj
			return m
		}
	}
	mismatch := func(name, subj string) refusal {
		return refusal{name: name, reason: string(sign.ReasonSubjectMismatch), detail: subj, msg: on(subj)}
	}
	settle(t, []refusal{
		mismatch("a fix.published on a proposal.submitted subject", "dpi.ph.proposal.submitted.x"),
		mismatch("a fix.published on another kind's subject", "dpi.ph.proposal.published."+project),
		mismatch("a fix.published on another verb's subject", "dpi.ph.fix.assessed."+project),
		mismatch("a fix.published on the wrong project token", "dpi.ph.fix.published.mojaloop-central-ledger"),
		mismatch("a fix.published on the wrong country token", "dpi.ma.fix.published."+project),
		mismatch("a fix.published on the no-project token", "dpi.ph.fix.published._"),
	}, cs, tl)
}

func TestABackdatedEventOfAnExpiredKeyIsRefusedByTheTimeTheStreamStoredIt(t *testing.T) {
	now := time.Now()
	notBefore, notAfter := now.Add(-48*time.Hour), now.Add(-24*time.Hour)
	cs, tl := bustest.Countries(t, "ma")
	old, _ := bustest.Countries(t, "tz")
	tl.Add(sign.Trusted(old["tz"].Key, notBefore, notAfter))
	// Tanzania's expired key signs an event that claims a time inside
	// the key's window.
	backdated := func() event.Event {
		return newEvent(t, "tz", events.TypeFixPublished)
	}
	signedBackdated := func() event.Event {
		e := backdated()
		e.SetTime(now.Add(-36 * time.Hour))
		if err := old["tz"].Signer.Sign(&e); err != nil {
			t.Fatal(err)
		}
		return e
	}
	// The verifier's clock says the key is still valid: only the time the
	// stream stored the event (now) can refuse it.
	clockInTheWindow := sign.WithClock(func() time.Time { return now.Add(-36 * time.Hour) })

	t.Run("on the stream, stored now, it is dead-lettered and the consumer goes on", func(t *testing.T) {
		settle(t, []refusal{{name: "a backdated event of an expired key", reason: string(sign.ReasonKeyOutsideWindow), detail: "not_after",
			msg: func() *nats.Msg { return signedMsg(t, nil, signedBackdated(), nil) }}}, cs, tl, clockInTheWindow)
	})

	// The same event, as if the stream had stored it while the key was
	// valid: bus.Verify judges by Message.Time, whatever the clock says.
	verify := func(v *sign.Verifier, stored time.Time) error {
		ctx := bus.WithMessage(context.Background(), bus.Message{Subject: "dpi.tz.fix.published." + project, Time: stored})
		return bus.Verify(v)(func(context.Context, event.Event) error { return nil })(ctx, signedBackdated())
	}
	realClock, err := sign.NewVerifier(tl)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("the same event stored while the key was valid passes, though the clock says the key expired", func(t *testing.T) {
		if err := verify(realClock, now.Add(-36*time.Hour)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("the same event stored after not_after is refused, though the clock says the key is valid", func(t *testing.T) {
		v, err := sign.NewVerifier(tl, clockInTheWindow)
		if err != nil {
			t.Fatal(err)
		}
		if r := rejectReason(verify(v, now)); r != string(sign.ReasonKeyOutsideWindow) {
			t.Fatalf("reason %q, want %q", r, sign.ReasonKeyOutsideWindow)
		}
	})
}

// rejectReason is the reason of a *bus.RejectError, "" for anything else.
func rejectReason(err error) string {
	if rej, ok := errors.AsType[*bus.RejectError](err); ok {
		return rej.Reason
	}
	return ""
}

// Identity is (source, id): two countries' events that share an id are
// two events, stored and handled both.
func TestTwoCountriesEventsWithTheSameIDAreBothStoredAndHandled(t *testing.T) {
	s := bustest.Server(t, "")
	_, js := bustest.Connect(t, s)
	b := bustest.Open(t, js)
	cs, tl := bustest.Countries(t, "ph", "lk")
	rec := &recorder{}
	consume(t, b, bus.ConsumerConfig{Name: "matrix", Verifier: verifier(t, tl)}, rec.handle)
	const id = "0193a1b2-c3d4-7e5f-8a9b-000000000001"
	for _, cc := range []string{"ph", "lk"} {
		fa := sampleOf(events.TypeFixAssessed, func(p *events.FixAssessed) { p.Branch = "release-1.2.0" })
		ack, err := b.Publisher(cs[cc].Signer).Publish(context.Background(), from(t, node(cc), fa, events.WithID(id)))
		if err != nil {
			t.Fatal(err)
		}
		if ack.Duplicate {
			t.Fatalf("%s's event was taken for a duplicate of another country's", cc)
		}
	}
	bustest.Eventually(t, 10*time.Second, "both assessments handled", func() bool { return rec.len() == 2 })
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.seen[0].Source() == rec.seen[1].Source() {
		t.Fatalf("handled %v", rec.seen)
	}
}
