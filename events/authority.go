package events

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"
)

// Authority: who may emit each event type about what. A signature proves
// who spoke; this table says whether they may say it. It is written once,
// here; the bus runs it in every consumer (bus.Authorize) and
// docs/security.md prints it (generated from Authorities and Rules).
//
// Objects carry their origin in their id: a fix id and a proposal id begin
// with the publishing country's code and a dash (ma-1a2b3c4d5e6f,
// lk-2026-07), so (country, id) is the id itself and a reference names its
// origin. A fork is (country, project, branch): the events that describe
// one (fork.registered, fork.snapshot, fix.assessed, fix.adopted) name a
// branch of the sender's own fork by construction.

// The hub's services that speak with authority of their own. They sign
// with keys of the trust list's country "hub".
const (
	// ServiceProposals is the hub's governance service,
	// urn:dpihub:hub:proposals: it accepts and rejects proposals, and marks
	// them implemented on the maintainer's behalf.
	ServiceProposals = "proposals"
	// ServiceDedup is the hub's de-duplication service, urn:dpihub:hub:dedup.
	ServiceDedup = "dedup"
)

// Names of the authority rules. They are stable: dead-letter details, logs
// and docs name them.
const (
	RuleCountryOnly          = "country-only"
	RuleOwnNamespace         = "own-namespace"
	RuleNamesOrigin          = "names-origin"
	RuleOthersFix            = "others-fix"
	RuleOthersProposal       = "others-proposal"
	RuleProposerWithdraws    = "proposer-withdraws"
	RuleGovernanceDecides    = "governance-decides"
	RuleMaintainerImplements = "maintainer-implements"
	RuleNoReopen             = "no-reopen"
	RuleHubService           = "hub-service"
)

// AuthorityError is an event that breaks a rule of the authority table.
// Callers switch on the type and Rule, never on the text.
type AuthorityError struct {
	Type   string // the event's type
	Source string // the event's source
	Rule   string // the rule broken, e.g. RuleOthersProposal
	Reason string // what was wrong, in the sender's terms
}

func (e *AuthorityError) Error() string {
	return fmt.Sprintf("not authorized: %s from %s breaks rule %s: %s", ShortType(e.Type), e.Source, e.Rule, e.Reason)
}

// Unwrap lets errors.Is(err, ErrForbidden) hold.
func (e *AuthorityError) Unwrap() error { return ErrForbidden }

// OriginOf returns the country a fix or proposal id belongs to: the code
// before its first dash (ma-1a2b3c4d5e6f is Morocco's). ok is false for an
// id that names no country (fix-1, MA-1, hub-1).
func OriginOf(id string) (cc string, ok bool) {
	cc, rest, found := strings.Cut(id, "-")
	if !found || rest == "" || !countryRE.MatchString(cc) {
		return "", false
	}
	return cc, true
}

// Rule is one rule of the authority table.
type Rule struct {
	Name string // stable name, e.g. RuleOthersFix
	Says string // the rule in one sentence
}

// Authority is the row of the table for one event type.
type Authority struct {
	Type string
	// Who may emit events of the type, in a few words.
	Who string
	// Rules are the names of the rules the type's events keep, in the
	// order Authorize checks them.
	Rules []string
}

// claim is what the rules look at: the sender and the few payload fields
// that name objects. Decoding these alone keeps Authorize cheap on a fix
// with a large diff.
type claim struct {
	spec Spec
	src  Source
	d    claimData
}

type claimData struct {
	FixID      string   `json:"fix_id"`
	ProposalID string   `json:"proposal_id"`
	To         string   `json:"to"`
	A          claimRef `json:"a"`
	B          claimRef `json:"b"`
}

type claimRef struct {
	Country    string `json:"country"`
	FixID      string `json:"fix_id"`
	ProposalID string `json:"proposal_id"`
}

// objectID is the fix or proposal the event is about, by its kind.
func (c claim) objectID() (what, id string) {
	if c.spec.Kind == "proposal" {
		return "proposal", c.d.ProposalID
	}
	return "fix", c.d.FixID
}

func (c claim) fromHubService(service string) bool { return c.src == hubSource(service) }

func hubSource(service string) Source { return Source{Country: HubCountry, Service: service} }

// rule is a Rule with its check: check returns why the claim breaks the
// rule, or "" when it keeps it.
type rule struct {
	Rule
	check func(c claim) string
}

// rules are every rule, in the order docs list them.
var rules = []rule{
	{Rule{RuleCountryOnly, "The sender is a country (`urn:dpihub:<cc>:…`), not the hub: a country speaks of its own forks, fixes, proposals and votes."},
		func(c claim) string {
			if c.src.Country == HubCountry {
				return fmt.Sprintf("only a country sends %s; the hub's services do not", ShortType(c.spec.Type))
			}
			return ""
		}},
	{Rule{RuleOwnNamespace, "The new object's id begins with the sender's country code and a dash (`ma-…`): no country creates an id in another's namespace."},
		func(c claim) string {
			what, id := c.objectID()
			if cc, ok := OriginOf(id); !ok || cc != c.src.Country {
				return fmt.Sprintf("%s id %q is not in %s's namespace (%s-…)", what, id, c.src.Country, c.src.Country)
			}
			return ""
		}},
	{Rule{RuleNamesOrigin, "Every fix or proposal the event refers to is named by an id that begins with its origin country; where the reference also gives the country, the two agree."},
		func(c claim) string {
			check := func(id, country string) string {
				cc, ok := OriginOf(id)
				switch {
				case !ok:
					return fmt.Sprintf("id %q names no origin country", id)
				case country != "" && country != cc:
					return fmt.Sprintf("reference says country %q of id %q, whose origin is %q", country, id, cc)
				}
				return ""
			}
			switch c.spec.Type {
			case TypeFixDuplicateDetected:
				if r := check(c.d.A.FixID, c.d.A.Country); r != "" {
					return "a: " + r
				}
				return prefix("b: ", check(c.d.B.FixID, c.d.B.Country))
			case TypeProposalDuplicateDetected:
				if r := check(c.d.A.ProposalID, c.d.A.Country); r != "" {
					return "a: " + r
				}
				return prefix("b: ", check(c.d.B.ProposalID, c.d.B.Country))
			}
			_, id := c.objectID()
			return check(id, "")
		}},
	{Rule{RuleOthersFix, "The fix is another country's: a country assesses and adopts others' fixes against its own fork, never its own fix."},
		func(c claim) string {
			if cc, _ := OriginOf(c.d.FixID); cc == c.src.Country {
				return fmt.Sprintf("fix %s is %s's own", c.d.FixID, cc)
			}
			return ""
		}},
	{Rule{RuleOthersProposal, "The proposal is another country's: a country endorses or objects to others' proposals, never its own. One vote per country, the latest counting, is the projection's job."},
		func(c claim) string {
			if cc, _ := OriginOf(c.d.ProposalID); cc == c.src.Country {
				return fmt.Sprintf("proposal %s is %s's own", c.d.ProposalID, cc)
			}
			return ""
		}},
	{Rule{RuleProposerWithdraws, "Only the proposer withdraws a proposal (`to` = `withdrawn`)."},
		func(c claim) string {
			if ProposalStatus(c.d.To) != ProposalWithdrawn {
				return ""
			}
			if cc, _ := OriginOf(c.d.ProposalID); cc != c.src.Country {
				return fmt.Sprintf("proposal %s is withdrawn by its proposer %s only", c.d.ProposalID, cc)
			}
			return ""
		}},
	{Rule{RuleGovernanceDecides, "Only the hub's governance service `urn:dpihub:hub:proposals` accepts or declines a proposal."},
		func(c claim) string {
			if to := ProposalStatus(c.d.To); (to == ProposalAccepted || to == ProposalDeclined) && !c.fromHubService(ServiceProposals) {
				return fmt.Sprintf("a proposal is %s by %s only", to, hubSource(ServiceProposals))
			}
			return ""
		}},
	{Rule{RuleMaintainerImplements, "Only the hub's proposals service, on the upstream maintainer's behalf, marks a proposal implemented (until maintainers have identities of their own)."},
		func(c claim) string {
			if ProposalStatus(c.d.To) == ProposalImplemented && !c.fromHubService(ServiceProposals) {
				return fmt.Sprintf("a proposal is marked implemented by %s only, for the maintainer", hubSource(ServiceProposals))
			}
			return ""
		}},
	{Rule{RuleNoReopen, "Nobody reopens a proposal (`to` = `open`): no rule yet says who may."},
		func(c claim) string {
			if ProposalStatus(c.d.To) == ProposalOpen {
				return "no one may reopen a proposal"
			}
			return ""
		}},
	{Rule{RuleHubService, "The sender is the hub's dedup service `urn:dpihub:hub:dedup`, signing with a `hub` key of the trust list."},
		func(c claim) string {
			if !c.fromHubService(ServiceDedup) {
				return fmt.Sprintf("%s comes from %s only", ShortType(c.spec.Type), hubSource(ServiceDedup))
			}
			return ""
		}},
}

func prefix(p, reason string) string {
	if reason == "" {
		return ""
	}
	return p + reason
}

var ruleByName = func() map[string]rule {
	m := make(map[string]rule, len(rules))
	for _, r := range rules {
		m[r.Name] = r
	}
	return m
}()

// authorities are the rows of the table, one per catalog type.
var authorities = []Authority{
	{TypeForkRegistered, "a country, of its own fork", []string{RuleCountryOnly}},
	{TypeForkSnapshot, "a country, of its own fork", []string{RuleCountryOnly}},
	{TypeForkDuplicateDetected, "the hub's dedup service", []string{RuleHubService}},
	{TypeFixPublished, "a country, of a fix in its namespace", []string{RuleCountryOnly, RuleOwnNamespace}},
	{TypeFixAssessed, "a country, of another country's fix, against its own fork", []string{RuleCountryOnly, RuleNamesOrigin, RuleOthersFix}},
	{TypeFixAdopted, "a country, of another country's fix, in its own fork", []string{RuleCountryOnly, RuleNamesOrigin, RuleOthersFix}},
	{TypeFixDuplicateDetected, "the hub's dedup service", []string{RuleHubService, RuleNamesOrigin}},
	{TypeProposalSubmitted, "a country, of a proposal in its namespace", []string{RuleCountryOnly, RuleOwnNamespace}},
	{TypeProposalEndorsed, "a country, of another country's proposal", []string{RuleCountryOnly, RuleNamesOrigin, RuleOthersProposal}},
	{TypeProposalObjected, "a country, of another country's proposal", []string{RuleCountryOnly, RuleNamesOrigin, RuleOthersProposal}},
	{TypeProposalCommented, "a country, of any proposal", []string{RuleCountryOnly, RuleNamesOrigin}},
	{TypeProposalStatusChanged, "the proposer (withdrawn); the hub's governance service (accepted, declined; implemented for the maintainer)",
		[]string{RuleNamesOrigin, RuleProposerWithdraws, RuleGovernanceDecides, RuleMaintainerImplements, RuleNoReopen}},
	{TypeProposalDuplicateDetected, "the hub's dedup service", []string{RuleHubService, RuleNamesOrigin}},
	{TypeNodeHeartbeat, "a country, of its own node", []string{RuleCountryOnly}},
}

var authorityByType = func() map[string]Authority {
	m := make(map[string]Authority, len(authorities))
	for _, a := range authorities {
		m[a.Type] = a
	}
	return m
}()

// Authorities returns the authority table, one row per catalog type in
// catalog order.
func Authorities() []Authority {
	out := make([]Authority, 0, len(catalog))
	for _, s := range catalog {
		a := authorityByType[s.Type]
		a.Rules = append([]string(nil), a.Rules...)
		out = append(out, a)
	}
	return out
}

// Rules returns every authority rule, in a stable order.
func Rules() []Rule {
	out := make([]Rule, len(rules))
	for i, r := range rules {
		out[i] = r.Rule
	}
	return out
}

// Authorize checks e against the authority table: whether its sender may
// emit its type about the objects it names. It expects an event that
// passed Validate (the bus verifies and validates first). A violation is
// an *AuthorityError naming the rule; an event Validate would refuse is a
// *ValidationError.
func Authorize(e event.Event) error {
	spec, ok := Lookup(e.Type())
	if !ok {
		return invalid("type", "%q is not in the dpihub catalog", e.Type())
	}
	a, ok := authorityByType[spec.Type]
	if !ok {
		// A catalog type without a row: a test keeps this from happening,
		// and refusing is the safe answer if it does.
		return &AuthorityError{Type: e.Type(), Source: e.Source(), Rule: "unlisted", Reason: "the authority table has no row for this type"}
	}
	src, err := ParseSource(e.Source())
	if err != nil {
		return err
	}
	c := claim{spec: spec, src: src}
	if spec.Kind == "fix" || spec.Kind == "proposal" {
		if err := json.Unmarshal(e.Data(), &c.d); err != nil {
			return invalid("data", "%v", err)
		}
	}
	for _, name := range a.Rules {
		if reason := ruleByName[name].check(c); reason != "" {
			return &AuthorityError{Type: e.Type(), Source: e.Source(), Rule: name, Reason: reason}
		}
	}
	return nil
}
