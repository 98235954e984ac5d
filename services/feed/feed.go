// Package feed is the coordinator's merged view of every country's events:
// a projection of the verified dpi.> stream into a store that answers
// searches, the fix propagation matrix, the proposals board, duplicates and
// country status.
//
// This package is the domain: types and the Store interface. Package
// sqlite implements Store; package feedbus feeds it from JetStream (live
// and by replay); package feedhttp serves it as JSON, CSV, Atom, SSE and a
// web UI; service.Run wires them.
package feed

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/dpihub/dpihub/events"
)

// Errors of the domain, by kind (see events.ErrBadInput): the edges decide
// from the kind, never from the text.
var (
	// ErrNotFound: the store does not know what was asked for (a fix id).
	// It is an events.ErrNotFound.
	ErrNotFound = events.Sentinel(events.ErrNotFound, "not found")
	// ErrBadQuery is the kind of the errors only a store can find in a
	// Query: full-text syntax it cannot run, a cursor it did not make. It
	// is an events.ErrBadInput: HTTP 400, never 500. events.Detail gives
	// what to tell the user.
	ErrBadQuery = events.Sentinel(events.ErrBadInput, "bad query")
)

// HowAdopted is the How of the assessment a store shows for a country
// that adopted a fix without assessing it first: an adoption means the
// fork has the fix, so its Verdict is events.VerdictPresent.
const HowAdopted = "adopted"

// Event is one verified event as the feed shows it. An event is
// identified by Source and ID together: CloudEvents makes ids unique per
// source only, and two countries may send the same id.
type Event struct {
	ID      string          `json:"id"`
	Seq     uint64          `json:"seq"` // stream sequence in DPI, plus the Epoch's Base once DPI was made again
	Type    string          `json:"type"`
	Source  string          `json:"source"`
	Country string          `json:"country"`
	Project string          `json:"project,omitempty"`
	Time    time.Time       `json:"time"`
	Summary string          `json:"summary"` // events.Describe
	Data    json.RawMessage `json:"data"`
}

// Query selects events. Zero fields do not filter.
//
// The filters (Country, Project, Type, Since, Until) are checked once, by
// whoever builds the Query from outside input (package feedhttp, at the
// HTTP edge): a Store trusts them to be well formed and does not check
// them again. Q and Cursor are the store's own language, so the store
// checks them and refuses what it cannot run with an ErrBadQuery.
type Query struct {
	// Q is full-text search over summaries and payloads. Besides words and
	// phrases it understands field prefixes: file:<path> (a file a fix
	// touches), patchid:<hex prefix>, cve:<CVE-id>.
	Q string
	// Country is a valid country code (events.ValidCountry), lower case.
	Country string
	// Project is a project slug (events.ValidProject).
	Project string
	// Type is a full catalog type, e.g. org.dpihub.fix.published.v1
	// (events.FullType turns a short form into it).
	Type string
	// Since and Until bound the events' time: Since <= time < Until.
	// When both are set, Since is before Until.
	Since time.Time
	Until time.Time
	// Limit is the page size: 0 means events.DefaultPageLimit, and a
	// store serves at most events.MaxPageLimit.
	Limit int
	// Cursor is opaque, from Page.Next; results are newest first.
	Cursor string
}

// Page is one page of results, newest first.
type Page struct {
	Events []Event `json:"events"`
	Next   string  `json:"next,omitempty"` // cursor of the next (older) page
}

// Fix is a published fix with its propagation across countries.
//
// A fix belongs to the country whose namespace its id is in
// (events.OriginOf: ma-… is Morocco's): only that country's fix.published
// makes it, so another country that publishes an id of Morocco's (by
// mistake or to squat it) neither makes nor replaces Morocco's fix.
type Fix struct {
	ID          string       `json:"id"` // FixPublished.FixID
	EventID     string       `json:"event_id"`
	Country     string       `json:"country"` // where it was made: the origin of ID
	Project     string       `json:"project"`
	Title       string       `json:"title"`
	PatchID     string       `json:"patch_id"`
	Files       []string     `json:"files"`
	CVEs        []string     `json:"cves,omitempty"`
	Published   time.Time    `json:"published"`
	Assessments []Assessment `json:"assessments"` // one per assessing country (never Country), latest wins
	// Seq is the stream sequence of the fix's event: where a page of fixes
	// ends (the next page is before it).
	Seq uint64 `json:"seq"`
}

// Assessment is one country's latest verdict on a fix.
type Assessment struct {
	Country       string            `json:"country"`
	Verdict       string            `json:"verdict"` // one of events.Verdicts()
	PresentAs     string            `json:"present_as,omitempty"`
	How           string            `json:"how,omitempty"` // events.How*, or HowAdopted
	Conflicts     []events.Conflict `json:"conflicts,omitempty"`
	ThreeWayClean *bool             `json:"three_way_clean,omitempty"`
	AssessedAt    time.Time         `json:"assessed_at"`
	AdoptedAt     *time.Time        `json:"adopted_at,omitempty"`
	TimeToAssess  Duration          `json:"time_to_assess"`          // publication -> first assessment
	TimeToAdopt   *Duration         `json:"time_to_adopt,omitempty"` // publication -> adoption
}

// Duration marshals as seconds (a float) in JSON.
type Duration time.Duration

// MarshalJSON writes the duration in seconds.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).Seconds()) }

// UnmarshalJSON reads what MarshalJSON wrote.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s float64
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*d = Duration(s * float64(time.Second))
	return nil
}

// Proposal is a roadmap proposal with its reactions. Like a Fix, it
// belongs to the country whose namespace its id is in.
//
// Each other country has at most one vote, an endorsement or an
// objection: its latest (by stream sequence) counts, so an endorsement
// followed by an objection is one objection. The proposer does not vote
// on its own proposal. Comments are all kept, the proposer's too.
type Proposal struct {
	ID           string     `json:"id"`
	Country      string     `json:"country"`
	Project      string     `json:"project"`
	Title        string     `json:"title"`
	Body         string     `json:"body"`
	Labels       []string   `json:"labels,omitempty"`
	Status       string     `json:"status"` // open, accepted, declined, withdrawn, implemented (events.ProposalStatuses): the latest change by who may make it
	Submitted    time.Time  `json:"submitted"`
	Endorsements []Reaction `json:"endorsements"`
	Objections   []Reaction `json:"objections"`
	Comments     []Reaction `json:"comments"`
	// Outlook is what the hub's governance says of the proposal under its
	// project's rules: nil from a Store, set by AddOutlooks when the feed
	// has a Governance that knows the proposal.
	Outlook *Outlook `json:"outlook,omitempty"`
}

// Governance is what the hub's proposals service says of a proposal under
// its project's rules. The feed shows it; without one the board shows no
// rules and no time left.
type Governance interface {
	Outlook(proposalID string, now time.Time) (Outlook, bool)
}

// Outlook is a proposal's standing under its project's rules.
type Outlook struct {
	Rules      string    `json:"rules"`                // the project's rules in one sentence
	Next       string    `json:"next,omitempty"`       // what would change its state next, e.g. "1 more endorsement"
	Deadline   time.Time `json:"deadline,omitzero"`    // when the next timed rule applies; zero: none
	Unanswered []string  `json:"unanswered,omitempty"` // countries whose objection the proposer has not answered
}

// AddOutlooks sets the Outlook of each proposal that g knows to what g
// says of it at now. With a nil g it changes nothing: a feed without a
// Governance shows no rules.
func AddOutlooks(ps []Proposal, g Governance, now time.Time) {
	if g == nil {
		return
	}
	for i := range ps {
		if o, ok := g.Outlook(ps[i].ID, now); ok {
			ps[i].Outlook = &o
		}
	}
}

// Support is how far a proposal's endorsements outnumber its objections
// (negative when objections do): one vote per country, so it is a count
// of countries.
func (p Proposal) Support() int { return len(p.Endorsements) - len(p.Objections) }

// Vote is one country's standing vote on a proposal: its latest
// endorsement or objection.
type Vote struct {
	Country string
	Objects bool   // an objection; otherwise an endorsement
	Text    string // the endorsement's comment or the objection's reason
	Time    time.Time
	// Unanswered: an objection whose country the Outlook names among
	// the unanswered. Always false without an Outlook, which is the only
	// source of who was answered.
	Unanswered bool
}

// Votes are the proposal's votes, one per country: endorsements, then
// objections, each in order of country code, so that the same votes
// always read the same.
func (p Proposal) Votes() []Vote {
	out := make([]Vote, 0, len(p.Endorsements)+len(p.Objections))
	for _, r := range p.Endorsements {
		out = append(out, Vote{Country: r.Country, Text: r.Text, Time: r.Time})
	}
	for _, r := range p.Objections {
		v := Vote{Country: r.Country, Objects: true, Text: r.Text, Time: r.Time}
		v.Unanswered = p.Outlook != nil && slices.Contains(p.Outlook.Unanswered, r.Country)
		out = append(out, v)
	}
	slices.SortStableFunc(out, func(a, b Vote) int {
		if a.Objects != b.Objects {
			if b.Objects {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.Country, b.Country)
	})
	return out
}

// ProposalOrder is an order in which the board and the API list
// proposals.
type ProposalOrder string

// The orders of proposals.
const (
	// BySupport lists the most supported first: by Support, then by more
	// endorsements (three for and two against before one for and none
	// against: more countries engaged), then the older first (it has
	// waited longer). The default.
	BySupport ProposalOrder = "support"
	// ByNewest lists the most recently submitted first.
	ByNewest ProposalOrder = "newest"
)

// ProposalOrders are the orders, the default first.
func ProposalOrders() []ProposalOrder { return []ProposalOrder{BySupport, ByNewest} }

// ParseProposalOrder returns the order named s; "" is BySupport. Any
// other name is an events.ErrBadInput that names the orders.
func ParseProposalOrder(s string) (ProposalOrder, error) {
	if s == "" {
		return BySupport, nil
	}
	if o := ProposalOrder(s); slices.Contains(ProposalOrders(), o) {
		return o, nil
	}
	return "", events.Errorf(events.ErrBadInput, "sort %q is not an order of proposals: use %s or %s", s, BySupport, ByNewest)
}

// SortProposals sorts ps in order o (an order not of ProposalOrders sorts
// as BySupport). Proposals that the order does not tell apart go by id,
// so that a list never reorders between two reads of the same state.
func SortProposals(ps []Proposal, o ProposalOrder) {
	slices.SortFunc(ps, func(a, b Proposal) int {
		var c int
		switch o {
		case ByNewest:
			c = b.Submitted.Compare(a.Submitted)
		default:
			c = cmp.Or(
				cmp.Compare(b.Support(), a.Support()),
				cmp.Compare(len(b.Endorsements), len(a.Endorsements)),
				a.Submitted.Compare(b.Submitted),
			)
		}
		return cmp.Or(c, cmp.Compare(a.ID, b.ID))
	})
}

// Reaction is one country's endorsement, objection or comment.
type Reaction struct {
	Country string    `json:"country"`
	Text    string    `json:"text,omitempty"`
	Time    time.Time `json:"time"`
}

// Duplicate is a duplicate found by the dedup service: forks, fixes or
// proposals.
type Duplicate struct {
	EventID    string    `json:"event_id"`
	Kind       string    `json:"kind"` // fork, fix, proposal
	Project    string    `json:"project"`
	A          string    `json:"a"` // "<country>" or "<country>/<id>"
	B          string    `json:"b"`
	Similarity float64   `json:"similarity"`
	Detail     string    `json:"detail,omitempty"`
	Time       time.Time `json:"time"`
}

// CountryStatus is what the feed knows of one country's node.
type CountryStatus struct {
	Country       string     `json:"country"`
	Events        int        `json:"events"`
	LastEvent     time.Time  `json:"last_event"`
	LastHeartbeat *time.Time `json:"last_heartbeat,omitempty"`
	Lag           Duration   `json:"lag"` // receive time minus event time of its last event
}

// Record is one verified event as it arrived from the stream: what Apply
// takes, bundled so that stores can apply many in one transaction (see
// sqlite.Store.ApplyBatch, used by rebuilds).
type Record struct {
	Event    event.Event
	Seq      uint64    // stream sequence in DPI
	Received time.Time // when JetStream stored it, so replays are deterministic
	// Admitted is set by who passed Event through bus.Admit in this
	// process (the live projector, a rebuild): verified, valid, and
	// authorized by events.Authorize. A store then does not check the
	// authority table again; false, it does.
	Admitted bool
	// Payload is Event's data as events.Decode gives it, when the caller
	// decoded it already (the projector does, on every core); nil, the
	// store decodes.
	Payload events.Payload
}

// Admit returns r admitted: Admitted set and the payload decoded (nil
// when the data does not decode; the store then tries again and keeps the
// event undescribed). Only for an event bus.Admit passed.
func (r Record) Admit() Record {
	r.Admitted = true
	if p, err := events.Decode(r.Event); err == nil {
		r.Payload = p
	}
	return r
}

// Store keeps the projection. Apply is idempotent by event, that is by
// source and id: applying the same events again, in any order, leaves the
// same state, so the projection can always be rebuilt by replaying the
// stream.
//
// Every event is listed and searchable. The derived views (fixes and
// their assessments, proposals with status and votes, duplicates, a
// country's heartbeat) take only what events.Authorize allows: the rules
// the bus enforces, checked again by the store, which cannot know that
// its events all came through a bus that had them (a stream older than
// the rules, a bug).
type Store interface {
	// Apply projects one verified event that arrived with stream sequence
	// seq at time received.
	Apply(ctx context.Context, e event.Event, seq uint64, received time.Time) error
	// LastSeq is the highest stream sequence applied (0 when empty).
	LastSeq(ctx context.Context) (uint64, error)

	Events(ctx context.Context, q Query) (Page, error)
	Fix(ctx context.Context, id string) (Fix, error)
	// FixesByID reads the fixes of these ids that are stored, with their
	// assessments, in no set order: the live projector's one read per
	// batch.
	FixesByID(ctx context.Context, ids []string) ([]Fix, error)
	// Fixes lists fixes of a project ("" for all), newest first, with their
	// assessments: the countries x fixes matrix. before > 0 lists only
	// those older than the fix of stream sequence before (Fix.Seq): the
	// next page.
	Fixes(ctx context.Context, project string, before uint64, limit int) ([]Fix, error)
	Proposals(ctx context.Context, project string) ([]Proposal, error)
	Duplicates(ctx context.Context) ([]Duplicate, error)
	Countries(ctx context.Context) ([]CountryStatus, error)
	Projects(ctx context.Context) ([]string, error)
	// MatrixStore: the campaign-scale views (campaign.go).
	MatrixStore

	// Digest is a hash of every table's content, for checking that two
	// replays built the same state.
	Digest(ctx context.Context) (string, error)
	Close() error
}

// Epoch says which incarnation of stream DPI a store's sequences come
// from. A stream that is deleted and made again starts its sequences
// over at 1, while the store keeps what it had: events of the new stream
// are stored at Base + their stream sequence, so that a store's
// sequences (Event.Seq, the order of its pages, the SSE ids) only ever
// grow. Base is 0 for the stream a store first read.
type Epoch struct {
	// Created is when the stream was made (JetStream's StreamInfo.Created).
	Created time.Time
	// Base is added to this stream's sequences to make a store's.
	Base uint64
}
