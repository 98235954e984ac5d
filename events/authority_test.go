package events_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/dpihub/dpihub/events"
)

var (
	moroccoNode = events.Source{Country: "ma", Service: "node"}
	philNode    = events.Source{Country: "ph", Service: "node"}
	lankaNode   = events.Source{Country: "lk", Service: "node"}
	governance  = events.Source{Country: events.HubCountry, Service: events.ServiceProposals}
	dedup       = events.Source{Country: events.HubCountry, Service: events.ServiceDedup}
	hubFeed     = events.Source{Country: events.HubCountry, Service: "feed"}
)

// build makes a valid event of p from src (Validate passes: the authority
// table is what is tested).
func build(t *testing.T, src events.Source, p events.Payload) event.Event {
	t.Helper()
	spec, _ := events.Lookup(p.EventType())
	e, err := events.New(src, projectOf(spec), p)
	if err != nil {
		t.Fatalf("build %s from %s: %v", p.EventType(), src, err)
	}
	return e
}

// samplePayload returns the sample of typ changed by edit.
func samplePayload[T events.Payload](t *testing.T, typ string, edit func(*T)) events.Payload {
	t.Helper()
	p := sample(t, typ).(T)
	if edit != nil {
		edit(&p)
	}
	return p
}

func TestEverySampleIsAuthorizedFromItsSampleSource(t *testing.T) {
	for _, spec := range events.Catalog() {
		t.Run(events.ShortType(spec.Type)+" from its sample source is authorized", func(t *testing.T) {
			src, ok := events.SampleSource(spec.Type)
			if !ok {
				t.Fatalf("no sample source for %s", spec.Type)
			}
			if err := events.Authorize(build(t, src, sample(t, spec.Type))); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestTheAuthorityTableCoversTheCatalogWithKnownRules(t *testing.T) {
	rows := events.Authorities()
	if len(rows) != len(events.Catalog()) {
		t.Fatalf("%d rows for %d catalog types", len(rows), len(events.Catalog()))
	}
	known := map[string]bool{}
	for _, r := range events.Rules() {
		if r.Name == "" || r.Says == "" || known[r.Name] {
			t.Errorf("rule %+v: empty or listed twice", r)
		}
		known[r.Name] = true
	}
	used := map[string]bool{}
	for i, row := range rows {
		if row.Type != events.Catalog()[i].Type || row.Who == "" || len(row.Rules) == 0 {
			t.Errorf("row %d: %+v", i, row)
		}
		for _, name := range row.Rules {
			if !known[name] {
				t.Errorf("%s names unknown rule %q", row.Type, name)
			}
			used[name] = true
		}
	}
	for name := range known {
		if !used[name] {
			t.Errorf("rule %q applies to no type", name)
		}
	}
}

// TestAuthorizeRefusesEachBreachWithItsRule is the table of who may say
// what, over every type: each case is an event that passes Validate, sent
// by src; want is the rule it breaks ("" when it is authorized).
func TestAuthorizeRefusesEachBreachWithItsRule(t *testing.T) {
	// Every type whose row has country-only is refused from the hub.
	for _, row := range events.Authorities() {
		if !slices.Contains(row.Rules, events.RuleCountryOnly) {
			continue
		}
		t.Run("the hub may not send "+events.ShortType(row.Type), func(t *testing.T) {
			for _, src := range []events.Source{governance, dedup, hubFeed} {
				wantRule(t, events.Authorize(build(t, src, sample(t, row.Type))), events.RuleCountryOnly)
			}
		})
	}
	// Every duplicate report is the dedup service's.
	for _, typ := range []string{events.TypeForkDuplicateDetected, events.TypeFixDuplicateDetected, events.TypeProposalDuplicateDetected} {
		t.Run("only the dedup service may send "+events.ShortType(typ), func(t *testing.T) {
			for _, src := range []events.Source{moroccoNode, governance, hubFeed} {
				wantRule(t, events.Authorize(build(t, src, sample(t, typ))), events.RuleHubService)
			}
			wantRule(t, events.Authorize(build(t, dedup, sample(t, typ))), "")
		})
	}

	fix := func(id string) func(*events.FixPublished) { return func(p *events.FixPublished) { p.FixID = id } }
	assessed := func(id string) func(*events.FixAssessed) { return func(p *events.FixAssessed) { p.FixID = id } }
	adopted := func(id string) func(*events.FixAdopted) { return func(p *events.FixAdopted) { p.FixID = id } }
	submitted := func(id string) func(*events.ProposalSubmitted) {
		return func(p *events.ProposalSubmitted) { p.ProposalID = id }
	}
	endorsed := func(id string) func(*events.ProposalEndorsed) {
		return func(p *events.ProposalEndorsed) { p.ProposalID = id }
	}
	objected := func(id string) func(*events.ProposalObjected) {
		return func(p *events.ProposalObjected) { p.ProposalID = id }
	}
	commented := func(id string) func(*events.ProposalCommented) {
		return func(p *events.ProposalCommented) { p.ProposalID = id }
	}
	status := func(from, to string) func(*events.ProposalStatusChanged) {
		return func(p *events.ProposalStatusChanged) { p.From, p.To = from, to }
	}
	statusOf := func(id, from, to string) func(*events.ProposalStatusChanged) {
		return func(p *events.ProposalStatusChanged) { p.ProposalID, p.From, p.To = id, from, to }
	}
	o := events.ProposalOpen
	for _, tc := range []struct {
		name string
		src  events.Source
		p    events.Payload
		want string
	}{
		{"a country publishes a fix in its namespace", moroccoNode, samplePayload(t, events.TypeFixPublished, fix("ma-0123456789ab")), ""},
		{"a country may not publish a fix in another's namespace", philNode, samplePayload(t, events.TypeFixPublished, fix("ma-fix-0042")), events.RuleOwnNamespace},
		{"a fix id must name its country", moroccoNode, samplePayload(t, events.TypeFixPublished, fix("fix-0042")), events.RuleOwnNamespace},
		{"an upper-case prefix is no country", moroccoNode, samplePayload(t, events.TypeFixPublished, fix("MA-fix-0042")), events.RuleOwnNamespace},
		{"a country may not submit a proposal in another's namespace", lankaNode, samplePayload(t, events.TypeProposalSubmitted, submitted("ma-prop-0007")), events.RuleOwnNamespace},
		{"a proposal id must name its country", moroccoNode, samplePayload(t, events.TypeProposalSubmitted, submitted("prop-0007")), events.RuleOwnNamespace},

		{"a country assesses another's fix", philNode, sample(t, events.TypeFixAssessed), ""},
		{"a country may not assess its own fix", moroccoNode, sample(t, events.TypeFixAssessed), events.RuleOthersFix},
		{"an assessment names the fix's origin", philNode, samplePayload(t, events.TypeFixAssessed, assessed("fix-0042")), events.RuleNamesOrigin},
		{"a country adopts another's fix", lankaNode, sample(t, events.TypeFixAdopted), ""},
		{"a country may not adopt its own fix", lankaNode, samplePayload(t, events.TypeFixAdopted, adopted("lk-fix-0107")), events.RuleOthersFix},
		{"an adoption names the fix's origin", lankaNode, samplePayload(t, events.TypeFixAdopted, adopted("0042")), events.RuleNamesOrigin},

		{"a country endorses another's proposal", lankaNode, sample(t, events.TypeProposalEndorsed), ""},
		{"a country may not endorse its own proposal", moroccoNode, sample(t, events.TypeProposalEndorsed), events.RuleOthersProposal},
		{"an endorsement names the proposal's origin", lankaNode, samplePayload(t, events.TypeProposalEndorsed, endorsed("p-7")), events.RuleNamesOrigin},
		{"a country objects to another's proposal", philNode, sample(t, events.TypeProposalObjected), ""},
		{"a country may not object to its own proposal", moroccoNode, sample(t, events.TypeProposalObjected), events.RuleOthersProposal},
		{"an objection names the proposal's origin", philNode, samplePayload(t, events.TypeProposalObjected, objected("hub-7")), events.RuleNamesOrigin},
		{"a country comments on its own proposal", moroccoNode, sample(t, events.TypeProposalCommented), ""},
		{"a country comments on another's proposal", philNode, sample(t, events.TypeProposalCommented), ""},
		{"a comment names the proposal's origin", philNode, samplePayload(t, events.TypeProposalCommented, commented("p-1")), events.RuleNamesOrigin},

		{"the proposer withdraws its proposal", moroccoNode, samplePayload(t, events.TypeProposalStatusChanged, status(o, events.ProposalWithdrawn)), ""},
		{"another country may not withdraw a proposal", philNode, samplePayload(t, events.TypeProposalStatusChanged, status(o, events.ProposalWithdrawn)), events.RuleProposerWithdraws},
		{"the governance service may not withdraw a proposal", governance, samplePayload(t, events.TypeProposalStatusChanged, status(o, events.ProposalWithdrawn)), events.RuleProposerWithdraws},
		{"the governance service accepts a proposal", governance, sample(t, events.TypeProposalStatusChanged), ""},
		{"the governance service declines a proposal", governance, samplePayload(t, events.TypeProposalStatusChanged, status(o, events.ProposalDeclined)), ""},
		{"the proposer may not accept its own proposal", moroccoNode, sample(t, events.TypeProposalStatusChanged), events.RuleGovernanceDecides},
		{"another country may not accept a proposal (Philippines for Morocco)", philNode, sample(t, events.TypeProposalStatusChanged), events.RuleGovernanceDecides},
		{"another country may not decline a proposal", philNode, samplePayload(t, events.TypeProposalStatusChanged, status(o, events.ProposalDeclined)), events.RuleGovernanceDecides},
		{"the dedup service may not decide a proposal", dedup, sample(t, events.TypeProposalStatusChanged), events.RuleGovernanceDecides},
		{"the proposals service marks a proposal implemented for the maintainer", governance, samplePayload(t, events.TypeProposalStatusChanged, status(events.ProposalAccepted, events.ProposalImplemented)), ""},
		{"the proposer may not mark its proposal implemented", moroccoNode, samplePayload(t, events.TypeProposalStatusChanged, status(events.ProposalAccepted, events.ProposalImplemented)), events.RuleMaintainerImplements},
		{"nobody reopens a proposal, not even the governance service", governance, samplePayload(t, events.TypeProposalStatusChanged, status(events.ProposalDeclined, o)), events.RuleNoReopen},
		{"the proposer may not reopen its proposal", moroccoNode, samplePayload(t, events.TypeProposalStatusChanged, status(events.ProposalWithdrawn, o)), events.RuleNoReopen},
		{"a status change names the proposal's origin", governance, samplePayload(t, events.TypeProposalStatusChanged, statusOf("prop-7", o, events.ProposalAccepted)), events.RuleNamesOrigin},

		{"a fix duplicate's reference agrees with its id", dedup, samplePayload(t, events.TypeFixDuplicateDetected, func(p *events.FixDuplicateDetected) { p.A.Country = "ph" }), events.RuleNamesOrigin},
		{"a fix duplicate's ids name their origin", dedup, samplePayload(t, events.TypeFixDuplicateDetected, func(p *events.FixDuplicateDetected) { p.B.FixID = "fix-0107" }), events.RuleNamesOrigin},
		{"a proposal duplicate's reference agrees with its id", dedup, samplePayload(t, events.TypeProposalDuplicateDetected, func(p *events.ProposalDuplicateDetected) { p.B.Country = "ma" }), events.RuleNamesOrigin},

		{"a country sends its heartbeat", lankaNode, sample(t, events.TypeNodeHeartbeat), ""},
		{"a country registers its fork", philNode, sample(t, events.TypeForkRegistered), ""},
		{"a country sends its fork's snapshot", lankaNode, sample(t, events.TypeForkSnapshot), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantRule(t, events.Authorize(build(t, tc.src, tc.p)), tc.want)
		})
	}
}

// wantRule fails unless err breaks rule (or is nil when rule is "").
func wantRule(t *testing.T, err error, rule string) {
	t.Helper()
	if rule == "" {
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		return
	}
	ae, ok := errors.AsType[*events.AuthorityError](err)
	if !ok {
		t.Fatalf("err = %v, want an *events.AuthorityError of rule %s", err, rule)
	}
	if ae.Rule != rule || ae.Reason == "" || !errors.Is(err, events.ErrForbidden) {
		t.Fatalf("rule %q (%v), want %q", ae.Rule, err, rule)
	}
}

func TestAuthorizeRefusesWhatValidateWould(t *testing.T) {
	e := build(t, moroccoNode, sample(t, events.TypeFixPublished))
	e.SetType("org.dpihub.fix.exploded.v1")
	if err := events.Authorize(e); !errors.Is(err, events.ErrInvalid) {
		t.Fatalf("unknown type: %v, want ErrInvalid", err)
	}
	e = build(t, moroccoNode, sample(t, events.TypeFixPublished))
	_ = e.SetData(events.ContentType, []byte("not json"))
	if err := events.Authorize(e); !errors.Is(err, events.ErrInvalid) {
		t.Fatalf("data that is not JSON: %v, want ErrInvalid", err)
	}
}

func TestOriginOfReadsTheCountryOfAnID(t *testing.T) {
	for _, tt := range []struct {
		id, cc string
		ok     bool
	}{
		{"ma-0123456789ab", "ma", true},
		{"lk-2026-07", "lk", true},
		{"ma-2026-01", "ma", true},
		{"ma-", "", false},
		{"ma", "", false},
		{"MA-1", "", false},
		{"hub-1", "", false},
		{"mar-1", "", false},
		{"fix-0042", "", false},
		{"", "", false},
	} {
		if cc, ok := events.OriginOf(tt.id); cc != tt.cc || ok != tt.ok {
			t.Errorf("OriginOf(%q) = %q, %v; want %q, %v", tt.id, cc, ok, tt.cc, tt.ok)
		}
	}
}
