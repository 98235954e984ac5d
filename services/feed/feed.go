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
	"context"
	"encoding/json"
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
	Seq     uint64          `json:"seq"` // stream sequence in DPI
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
	// Fixes lists fixes of a project ("" for all), newest first, with their
	// assessments: the countries x fixes matrix.
	Fixes(ctx context.Context, project string, limit int) ([]Fix, error)
	Proposals(ctx context.Context, project string) ([]Proposal, error)
	Duplicates(ctx context.Context) ([]Duplicate, error)
	Countries(ctx context.Context) ([]CountryStatus, error)
	Projects(ctx context.Context) ([]string, error)

	// Digest is a hash of every table's content, for checking that two
	// replays built the same state.
	Digest(ctx context.Context) (string, error)
	Close() error
}
