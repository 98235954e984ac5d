package feed

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/dpihub/dpihub/events"
)

// MatrixStore answers the coordinator's cross-country questions at
// campaign scale (fifty countries, thousands of fixes): a page of the
// fix matrix under filters, the fixes a country lacks, and a fix's full
// content. Every answer is computed by the store, so a page costs what it
// shows, not what the store holds.
type MatrixStore interface {
	// FixMatrix is one page of fixes selected by f, newest first, with
	// their assessments, and how many fixes f selects in all.
	FixMatrix(ctx context.Context, f FixFilter) (FixPage, error)
	// FixesLacking lists the fixes country lacks (of project, "" for
	// all), ranked as LackingOrder says, at most limit of them, and how
	// many it lacks in all.
	FixesLacking(ctx context.Context, country, project string, limit int) ([]LackingFix, int, error)
	// FixContent is what the fix's publication carried beyond the
	// matrix: message, author, commit, diff, and the other fixes with its
	// patch-id.
	FixContent(ctx context.Context, id string) (FixContent, error)
	// PropagationSamples are the times each country took to have each
	// fix (of project, "" for all) made elsewhere.
	PropagationSamples(ctx context.Context, project string) ([]PropagationSample, error)
	// LongestOpen lists the fixes (of project, "" for all) that some
	// country has not assessed, the oldest first, at most limit.
	LongestOpen(ctx context.Context, project string, limit int) ([]OpenFix, error)
	// NodeStates says, of each country that sent anything, its node's
	// latest heartbeat and its assessment backlog.
	NodeStates(ctx context.Context) (map[string]NodeState, error)
}

// NodeState is what the feed knows of a country's node beyond its
// events: its latest heartbeat, and how many fixes made elsewhere it has
// neither assessed nor adopted (its backlog).
type NodeState struct {
	Heartbeat *events.NodeHeartbeat `json:"heartbeat,omitempty"`
	Backlog   int                   `json:"backlog"`
}

// FixFilter selects the fixes of a matrix page. Zero fields do not
// filter; like Query's, they are checked by whoever builds the filter from
// outside input (feedhttp), except Cursor, the store's own.
type FixFilter struct {
	Project string
	// Country is where the fixes were made (their origin).
	Country string
	// Verdict keeps the fixes whose cell in some country's column is in
	// this state: one of events.Verdicts(), or events.VerdictPending (some
	// country has not assessed the fix).
	Verdict string
	// PublishedBefore keeps the fixes published before it (the "age"
	// filter: open for at least so long).
	PublishedBefore time.Time
	// CVE keeps the fixes that name this CVE, or, as CVEAny, any CVE.
	CVE    string
	Cursor string // from FixPage.Next
	Limit  int    // 0: events.DefaultPageLimit; at most events.MaxPageLimit
}

// CVEAny as FixFilter.CVE keeps the fixes that name at least one CVE.
const CVEAny = "any"

// FixPage is one page of the fix matrix.
type FixPage struct {
	Fixes []Fix  `json:"fixes"`
	Total int    `json:"total"`          // fixes the filter selects, on every page
	Next  string `json:"next,omitempty"` // cursor of the next (older) page
}

// LackingFix is a fix that a country does not have although it could:
// the fix applies to its fork (and it has not adopted it), conflicts, or
// the country has not assessed it yet.
type LackingFix struct {
	ID        string    `json:"id"`
	Country   string    `json:"country"` // where it was made
	Project   string    `json:"project"`
	Title     string    `json:"title"`
	CVEs      []string  `json:"cves,omitempty"`
	Published time.Time `json:"published"`
	// State is the lacking country's cell: events.VerdictApplies,
	// events.VerdictConflicts or events.VerdictPending.
	State string `json:"state"`
	// Carriers is how many countries have the fix: where it was made,
	// and every country whose fork has it (present, or adopted).
	Carriers int `json:"carriers"`
}

// LackingOrder ranks the fixes a country lacks: those that more
// countries already carry first (the most proven), then those that name
// a CVE, then the oldest, then by id so that the order never changes
// between two reads of the same state.
func LackingOrder(a, b LackingFix) int {
	return cmp.Or(
		cmp.Compare(b.Carriers, a.Carriers),
		cmp.Compare(min(len(b.CVEs), 1), min(len(a.CVEs), 1)),
		a.Published.Compare(b.Published),
		cmp.Compare(a.ID, b.ID),
	)
}

// LackingCountry is a country that does not have a fix although it
// could.
type LackingCountry struct {
	Country string `json:"country"`
	// State is events.VerdictApplies (not adopted), events.VerdictConflicts
	// or events.VerdictPending.
	State string `json:"state"`
	// Since is when the country last said where it stands (its
	// assessment), or, pending, when the fix was published.
	Since time.Time `json:"since"`
	// Conflicts are the hunks that fail, when State is conflicts.
	Conflicts []events.Conflict `json:"conflicts,omitempty"`
}

// CountriesLacking are the countries among countries (the matrix's
// columns) that lack f, the longest waiting first: pending since
// publication, then by the time of their assessment. The origin, the
// countries whose fork has the fix (present or adopted) and those the fix
// is not applicable to do not lack it.
func CountriesLacking(f Fix, countries []string) []LackingCountry {
	by := map[string]Assessment{}
	for _, a := range f.Assessments {
		by[a.Country] = a
	}
	var out []LackingCountry
	for _, cc := range countries {
		if cc == f.Country || cc == events.HubCountry {
			continue
		}
		a, ok := by[cc]
		switch {
		case !ok:
			out = append(out, LackingCountry{Country: cc, State: events.VerdictPending, Since: f.Published})
		case a.AdoptedAt != nil:
		case a.Verdict == events.VerdictApplies || a.Verdict == events.VerdictConflicts:
			out = append(out, LackingCountry{Country: cc, State: a.Verdict, Since: a.AssessedAt, Conflicts: a.Conflicts})
		}
	}
	slices.SortStableFunc(out, func(a, b LackingCountry) int {
		return cmp.Or(a.Since.Compare(b.Since), cmp.Compare(a.Country, b.Country))
	})
	return out
}

// FixContent is what a fix's publication carried beyond what the matrix
// shows. Only the fix's own page and API carry it: lists never inline a
// body.
type FixContent struct {
	Message      string             `json:"message,omitempty"`
	Author       events.Person      `json:"author"`
	Commit       string             `json:"commit"`
	UpstreamBase string             `json:"upstream_base"`
	Diff         string             `json:"diff,omitempty"`
	DiffRef      *events.DiffRef    `json:"diff_ref,omitempty"` // the diff is in the hub's object store
	References   *events.References `json:"references,omitempty"`
	SamePatch    []SamePatch        `json:"same_patch,omitempty"`
}

// SamePatch is another fix with the same patch-id: the same change,
// published again elsewhere.
type SamePatch struct {
	ID        string    `json:"id"`
	Country   string    `json:"country"`
	Project   string    `json:"project"`
	Published time.Time `json:"published"`
}
