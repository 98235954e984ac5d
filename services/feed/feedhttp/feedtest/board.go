package feedtest

import (
	"time"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/services/feed"
)

// Board is more proposals for the board, to apply after Story (with its
// base): one in every status, with Markdown bodies and a country that
// changed its vote. Its events have ids of their own, so both fit in one
// store. It has
//
//   - ph-2026-11 of Project, open: Kenya objected, then endorsed (one
//     vote, the endorsement); Morocco and Sri Lanka endorse: support +3.
//     Its body has headings, a list, a table, strikethrough and a bare
//     URL;
//   - ke-2026-02 of Project2, open: the Philippines endorse, Morocco and
//     Sri Lanka object with their reasons: support -1;
//   - lk-2026-09, declined by the hub's governance service;
//   - ma-prop-0009, withdrawn by Morocco;
//   - ph-2025-31, accepted and then implemented.
//
// With Story's lk-2026-07 (open, support +1) and ma-prop-0007 (accepted),
// the open ones by support are ph-2026-11, lk-2026-07, ke-2026-02, and by
// newest ke-2026-02, ph-2026-11, lk-2026-07.
func Board(base time.Time) ([]Step, error) {
	b := &builder{base: base.UTC(), ids: boardIDs}
	ma, ph, lk, ke := node("ma"), node("ph"), node("lk"), node("ke")
	governance := events.Source{Country: events.HubCountry, Service: events.ServiceProposals}

	t := 62 * time.Minute
	b.add(ph, Project, t, &events.ProposalSubmitted{ProposalID: "ph-2026-11", Title: "Consent receipts for every authentication transaction",
		Body: ConsentBody, Labels: []string{"consent", "privacy"}})
	b.add(ke, Project, t+2*time.Minute, &events.ProposalObjected{ProposalID: "ph-2026-11", Reason: "Receipts kept for 90 days are more personal data to protect."})
	b.add(ma, Project, t+4*time.Minute, &events.ProposalEndorsed{ProposalID: "ph-2026-11"})
	b.add(lk, Project, t+6*time.Minute, &events.ProposalEndorsed{ProposalID: "ph-2026-11", Comment: "Residents ask us for exactly this."})
	b.add(ke, Project, t+20*time.Minute, &events.ProposalEndorsed{ProposalID: "ph-2026-11", Comment: "Answered: receipts hold no biometric data."})

	t = 75 * time.Minute
	b.add(ke, Project2, t, &events.ProposalSubmitted{ProposalID: "ke-2026-02", Title: "Contract tests for the partner onboarding APIs",
		Body:   "Partners break on every release because the APIs drift.\n\n1. publish an OpenAPI contract per release\n2. run the contract tests in each country's CI",
		Labels: []string{"partners", "testing"}})
	b.add(ph, Project2, t+3*time.Minute, &events.ProposalEndorsed{ProposalID: "ke-2026-02"})
	b.add(ma, Project2, t+5*time.Minute, &events.ProposalObjected{ProposalID: "ke-2026-02", Reason: "The partner APIs change every release; contract tests would freeze them too early."})
	b.add(lk, Project2, t+8*time.Minute, &events.ProposalObjected{ProposalID: "ke-2026-02", Reason: "Our CI has no internet access: the tests must run offline."})

	t = 85 * time.Minute
	b.add(lk, Project, t, &events.ProposalSubmitted{ProposalID: "lk-2026-09", Title: "Retire the legacy SOAP authentication adapter",
		Body: "No country has called it since 1.1.5."})
	b.add(ph, Project, t+2*time.Minute, &events.ProposalObjected{ProposalID: "lk-2026-09", Reason: "Two of our partners still call it."})
	b.add(governance, Project, t+30*time.Minute, &events.ProposalStatusChanged{ProposalID: "lk-2026-09", From: events.ProposalOpen, To: events.ProposalDeclined,
		Reason: "An objection stayed unanswered for 21 days."})

	t = 95 * time.Minute
	b.add(ma, Project, t, &events.ProposalSubmitted{ProposalID: "ma-prop-0009", Title: "Publish enrolment statistics as open data",
		Body: "Monthly counts per region, without personal data."})
	b.add(ma, Project, t+10*time.Minute, &events.ProposalStatusChanged{ProposalID: "ma-prop-0009", From: events.ProposalOpen, To: events.ProposalWithdrawn,
		Reason: "Moved to the national open data portal."})

	t = 100 * time.Minute
	b.add(ph, Project, t, &events.ProposalSubmitted{ProposalID: "ph-2025-31", Title: "Configurable retention for audit logs",
		Body: "Let each country set how long audit logs are kept, within `30..3650` days."})
	b.add(lk, Project, t+time.Minute, &events.ProposalEndorsed{ProposalID: "ph-2025-31"})
	b.add(governance, Project, t+20*time.Minute, &events.ProposalStatusChanged{ProposalID: "ph-2025-31", From: events.ProposalOpen, To: events.ProposalAccepted})
	b.add(governance, Project, t+40*time.Minute, &events.ProposalStatusChanged{ProposalID: "ph-2025-31", From: events.ProposalAccepted, To: events.ProposalImplemented,
		Reason: "Merged upstream for 1.3.0."})
	return b.steps, b.err
}

// ConsentBody is the Markdown body of ph-2026-11.
const ConsentBody = `## Why

Residents cannot see **who** authenticated them, or when. A signed receipt
for each transaction lets them check.

## What changes

- the authentication service issues a receipt per transaction
- receipts are kept for 90 days, then deleted
- ~~SMS notifications~~ are replaced by the receipt

| Channel | Receipt |
|:--|:--|
| OTP | signed JSON |
| Biometric | signed JSON |

Prior art: https://docs.mosip.io/1.2.0/id-authentication
`

// GovernanceFunc is a feed.Governance made of a function: a fake for
// tests.
type GovernanceFunc func(proposalID string, now time.Time) (feed.Outlook, bool)

// Outlook calls f.
func (f GovernanceFunc) Outlook(proposalID string, now time.Time) (feed.Outlook, bool) {
	return f(proposalID, now)
}

// Rules of Project and Project2 as BoardGovernance says them.
const (
	ProjectRules  = "Accepted once 3 countries endorse and every objection has its proposer's answer; declined 21 days after submission otherwise."
	Project2Rules = "Accepted by a majority of the countries that run it after 14 days of review."
)

// BoardGovernance says of the open and accepted proposals of Story and
// Board what the hub's proposals service might, with deadlines counted
// from the time asked about, so that the time left is the same whenever
// a test runs:
//
//   - lk-2026-07: 1 more endorsement and an answer to Kenya, 3 days and
//     4 hours left, Kenya unanswered;
//   - ph-2026-11: 5 h 20 min left;
//   - ke-2026-02: its deadline passed 2 hours ago, Sri Lanka unanswered
//     (Morocco was answered);
//   - ma-prop-0007 (accepted): rules and what comes next, no deadline.
//
// It knows nothing of the others.
func BoardGovernance() feed.Governance {
	return GovernanceFunc(func(id string, now time.Time) (feed.Outlook, bool) {
		switch id {
		case "lk-2026-07":
			return feed.Outlook{Rules: ProjectRules, Next: "1 more endorsement, and an answer to Kenya's objection",
				Deadline: now.Add(3*24*time.Hour + 4*time.Hour), Unanswered: []string{"ke"}}, true
		case "ph-2026-11":
			return feed.Outlook{Rules: ProjectRules, Next: "accepted when the review ends without a new objection",
				Deadline: now.Add(5*time.Hour + 20*time.Minute)}, true
		case "ke-2026-02":
			return feed.Outlook{Rules: Project2Rules, Next: "an answer to Sri Lanka's objection",
				Deadline: now.Add(-2 * time.Hour), Unanswered: []string{"lk"}}, true
		case "ma-prop-0007":
			return feed.Outlook{Rules: ProjectRules, Next: "implemented when the upstream maintainers merge it"}, true
		}
		return feed.Outlook{}, false
	})
}
