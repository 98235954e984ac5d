package governance_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/services/proposals/governance"
)

var t0 = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)

const (
	project = "mosip-id-repository"
	prop    = "lk-prop-0001"
)

func node(cc string) events.Source { return events.Source{Country: cc, Service: "node"} }

var service = events.Source{Country: events.HubCountry, Service: events.ServiceProposals}

// step is one event: who sends what, and how long after t0 it is stored.
type step struct {
	src   events.Source
	after time.Duration
	p     events.Payload
}

func submit(after time.Duration) step {
	return step{node("lk"), after, events.ProposalSubmitted{ProposalID: prop, Title: "Offline biometric authentication", Body: "…"}}
}
func endorse(cc string, after time.Duration) step {
	return step{node(cc), after, events.ProposalEndorsed{ProposalID: prop}}
}
func object(cc string, after time.Duration) step {
	return step{node(cc), after, events.ProposalObjected{ProposalID: prop, Reason: "not before the 1.3 release"}}
}
func comment(cc string, after time.Duration) step {
	return step{node(cc), after, events.ProposalCommented{ProposalID: prop, Comment: "see the plan"}}
}
func status(src events.Source, from, to string, after time.Duration) step {
	return step{src, after, events.ProposalStatusChanged{ProposalID: prop, From: from, To: to}}
}

// rules: 2 endorsements, objections answered within 3 days, decided after
// 10 days.
var rules = &governance.RuleBook{Defaults: governance.Rules{MinEndorsements: 2,
	AnswerWithin: governance.Duration(72 * time.Hour), DecideAfter: governance.Duration(240 * time.Hour)}}

// play applies steps in order and returns the board and each step's error.
func play(t *testing.T, steps ...step) (*governance.Board, []error) {
	t.Helper()
	b := governance.NewBoard(rules)
	errs := make([]error, len(steps))
	for i, s := range steps {
		errs[i] = b.Apply(governance.Input{Source: s.src, Project: project, Stored: t0.Add(s.after), Seq: uint64(i + 1), Payload: s.p})
	}
	return b, errs
}

const h = time.Hour

func TestTheRulesDecide(t *testing.T) {
	tests := []struct {
		name   string
		steps  []step
		at     time.Duration // when Decide runs, after t0
		want   string        // the decision, "" for none
		reason string        // a part of its reason
	}{
		{"a new proposal stays open", []step{submit(0)}, 1 * h, "", ""},
		{"one endorsement is not enough", []step{submit(0), endorse("ma", h)}, 2 * h, "", ""},
		{"two endorsements accept it", []step{submit(0), endorse("ma", h), endorse("ph", 2*h)}, 2 * h, events.ProposalAccepted, "endorsed by 2 countries (ma, ph)"},
		{"an unanswered objection holds acceptance", []step{submit(0), endorse("ma", h), endorse("ph", 2*h), object("ke", 3*h)}, 4 * h, "", ""},
		{"the proposer's answer lets it be accepted", []step{submit(0), endorse("ma", h), endorse("ph", 2*h), object("ke", 3*h), comment("lk", 4*h)}, 5 * h,
			events.ProposalAccepted, "answered the objections of ke"},
		{"another country's comment answers nothing", []step{submit(0), endorse("ma", h), endorse("ph", 2*h), object("ke", 3*h), comment("ma", 4*h)}, 5 * h, "", ""},
		{"an answer before the objection does not answer it", []step{submit(0), comment("lk", h), endorse("ma", h), endorse("ph", 2*h), object("ke", 3*h)}, 5 * h, "", ""},
		{"an objection unanswered for 3 days declines it", []step{submit(0), endorse("ma", h), object("ke", 3*h)}, 75 * h,
			events.ProposalDeclined, "objection of ke stayed unanswered for 3 days"},
		{"one second before, it stays open", []step{submit(0), endorse("ma", h), object("ke", 3*h)}, 75*h - time.Second, "", ""},
		{"an answered objection declines nothing", []step{submit(0), object("ke", h), comment("lk", 2*h)}, 100 * h, "", ""},
		{"after the deadline, more objections than endorsements decline it", []step{submit(0), endorse("ma", h), object("ke", 2*h), object("ph", 3*h), comment("lk", 4*h)}, 240 * h,
			events.ProposalDeclined, "2 objections (ke, ph) outnumber 1 endorsements"},
		{"before the deadline, they do not", []step{submit(0), endorse("ma", h), object("ke", 2*h), object("ph", 3*h), comment("lk", 4*h)}, 239 * h, "", ""},
		{"after the deadline, a tie stays open", []step{submit(0), endorse("ma", h), object("ke", 2*h), comment("lk", 4*h)}, 500 * h, "", ""},
		{"a changed vote counts once, the latest", []step{submit(0), endorse("ma", h), endorse("ph", 2*h), endorse("ph", 3*h)}, 4 * h, events.ProposalAccepted, "(ma, ph)"},
		{"an endorsement changed to an objection counts as an objection", []step{submit(0), endorse("ma", h), endorse("ph", 2*h), object("ph", 3*h)}, 4 * h, "", ""},
		{"an objection changed to an endorsement needs no answer", []step{submit(0), endorse("ma", h), object("ph", 2*h), endorse("ph", 3*h)}, 4 * h, events.ProposalAccepted, ""},
		{"an objection renewed after the answer needs a new one", []step{submit(0), endorse("ma", h), endorse("ke", h), object("ph", 2*h), comment("lk", 3*h), object("ph", 4*h)}, 5 * h, "", ""},
		{"a withdrawn proposal is not decided", []step{submit(0), endorse("ma", h), status(node("lk"), events.ProposalOpen, events.ProposalWithdrawn, 2*h), endorse("ph", 3*h)}, 4 * h, "", ""},
		{"an accepted proposal is not decided again", []step{submit(0), endorse("ma", h), endorse("ph", 2*h), status(service, events.ProposalOpen, events.ProposalAccepted, 3*h)}, 400 * h, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := play(t, tc.steps...)
			ds := b.Decide(t0.Add(tc.at))
			got := ""
			if len(ds) > 0 {
				got = ds[0].To
			}
			if got != tc.want || len(ds) > 1 {
				t.Fatalf("decisions %+v, want %q", ds, tc.want)
			}
			if len(ds) == 1 && (!strings.Contains(ds[0].Reason, tc.reason) || ds[0].From != events.ProposalOpen || ds[0].Project != project) {
				t.Fatalf("decision %+v, want a reason with %q, from open, about %s", ds[0], tc.reason, project)
			}
		})
	}
}

func TestTheStateMachine(t *testing.T) {
	o, a, d, w, i := events.ProposalOpen, events.ProposalAccepted, events.ProposalDeclined, events.ProposalWithdrawn, events.ProposalImplemented
	tests := []struct {
		name    string
		steps   []step
		want    string // the status after the steps
		refused error  // the last step's error kind, nil if applied
	}{
		{"open to accepted", []step{submit(0), status(service, o, a, h)}, a, nil},
		{"open to declined", []step{submit(0), status(service, o, d, h)}, d, nil},
		{"open to withdrawn", []step{submit(0), status(node("lk"), o, w, h)}, w, nil},
		{"open to implemented", []step{submit(0), status(service, o, i, h)}, i, nil},
		{"accepted to implemented", []step{submit(0), status(service, o, a, h), status(service, a, i, 2*h)}, i, nil},
		{"accepted to withdrawn", []step{submit(0), status(service, o, a, h), status(node("lk"), a, w, 2*h)}, w, nil},
		{"an old name: rejected is declined", []step{submit(0), status(service, o, "rejected", h)}, d, nil},
		{"accepted does not go back to open", []step{submit(0), status(service, o, a, h), status(service, a, o, 2*h)}, a, governance.ErrTransition},
		{"accepted is not declined", []step{submit(0), status(service, o, a, h), status(service, a, d, 2*h)}, a, governance.ErrTransition},
		{"declined is final", []step{submit(0), status(service, o, d, h), status(service, d, a, 2*h)}, d, governance.ErrClosed},
		{"withdrawn is final", []step{submit(0), status(node("lk"), o, w, h), status(service, w, i, 2*h)}, w, governance.ErrClosed},
		{"implemented is final", []step{submit(0), status(service, o, i, h), status(node("lk"), i, w, 2*h)}, i, governance.ErrClosed},
		{"a change from a status it is not in", []step{submit(0), status(service, a, i, h)}, o, governance.ErrTransition},
		{"open to open", []step{submit(0), status(service, o, o, h)}, o, governance.ErrTransition},
		{"a change of a proposal never submitted", []step{status(service, o, a, h)}, "", governance.ErrUnknownProposal},
		{"a vote on a proposal never submitted", []step{endorse("ma", h)}, "", governance.ErrUnknownProposal},
		{"a second submission of the same id", []step{submit(0), submit(h)}, o, governance.ErrDuplicate},
		{"a vote on an accepted proposal", []step{submit(0), status(service, o, a, h), endorse("ma", 2*h)}, a, governance.ErrClosed},
		{"an objection to a withdrawn proposal", []step{submit(0), status(node("lk"), o, w, h), object("ma", 2*h)}, w, governance.ErrClosed},
		{"a comment on a closed proposal is fine", []step{submit(0), status(node("lk"), o, w, h), comment("ma", 2*h)}, w, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, errs := play(t, tc.steps...)
			last := errs[len(errs)-1]
			if !errors.Is(last, tc.refused) || (tc.refused == nil) != (last == nil) {
				t.Fatalf("last step: %v, want %v", last, tc.refused)
			}
			for _, err := range errs[:len(errs)-1] {
				if err != nil {
					t.Fatalf("an earlier step was refused: %v", err)
				}
			}
			p, ok := b.Proposal(prop)
			if tc.want == "" {
				if ok {
					t.Fatalf("a proposal exists: %+v", p)
				}
				return
			}
			if p.Status != tc.want {
				t.Fatalf("status %s, want %s", p.Status, tc.want)
			}
			if last != nil && !errors.Is(last, events.ErrBadInput) && !errors.Is(last, events.ErrNotFound) {
				t.Fatalf("refusal %v is of no error kind", last)
			}
		})
	}
}

func TestAReplayBuildsTheSameBoard(t *testing.T) {
	steps := []step{submit(0), endorse("ma", h), object("ke", 2*h), endorse("ph", 3*h), comment("lk", 4*h),
		status(service, events.ProposalOpen, events.ProposalAccepted, 5*h), endorse("ke", 6*h)}
	a, _ := play(t, steps...)
	b, _ := play(t, steps...)
	if a.Digest() != b.Digest() {
		t.Fatal("two replays of the same stream differ")
	}
	c, _ := play(t, steps[:len(steps)-2]...)
	if a.Digest() == c.Digest() {
		t.Fatal("the digest does not see a status change")
	}
}

func TestOutlookSaysWhatIsMissingAndWhen(t *testing.T) {
	b, _ := play(t, submit(0), endorse("ma", h), object("ke", 3*h))
	o, ok := b.Outlook(prop, t0.Add(4*h))
	if !ok {
		t.Fatal("no outlook")
	}
	if !strings.Contains(o.Next, "1 more endorsement") || !strings.Contains(o.Next, "objection of ke") {
		t.Errorf("next %q", o.Next)
	}
	if want := t0.Add(75 * h); !o.Deadline.Equal(want) {
		t.Errorf("deadline %s, want %s (the objection's answer is due first)", o.Deadline, want)
	}
	if len(o.Unanswered) != 1 || o.Unanswered[0] != "ke" || !strings.Contains(o.Rules, "2 countries") {
		t.Errorf("outlook %+v", o)
	}
	if _, ok := b.Outlook("nope", t0); ok {
		t.Error("an outlook for a proposal that does not exist")
	}
}
