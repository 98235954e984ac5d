package events

import "time"

// Person names the author of a change.
type Person struct {
	Name  string `json:"name"`
	Email string `json:"email,omitempty"`
}

// ForkRef names one country's fork of a project.
type ForkRef struct {
	Country string `json:"country"`
	Branch  string `json:"branch,omitempty"`
}

// ForkRegistered: a node registered a fork. Type TypeForkRegistered.
type ForkRegistered struct {
	Upstream string `json:"upstream"`           // upstream repository URL
	Fork     string `json:"fork"`               // the country's fork repository URL
	Branch   string `json:"branch"`             // the fork's branch that the country deploys
	Platform string `json:"platform,omitempty"` // e.g. "MOSIP", "Mojaloop"
}

// ForkSnapshot: a fork's state. Type TypeForkSnapshot.
type ForkSnapshot struct {
	Branch         string    `json:"branch"`
	Head           string    `json:"head"`
	MergeBase      string    `json:"merge_base"`
	Ahead          int       `json:"ahead"`
	Behind         int       `json:"behind"`
	PatchIDs       []string  `json:"patch_ids"`                 // stable patch-ids of fork-only commits
	Commits        []string  `json:"commits,omitempty"`         // the commit of each patch-id, in the same order
	MinHash        []uint32  `json:"minhash,omitempty"`         // MinHash signature of the fork-only changed lines
	MinHashVersion int       `json:"minhash_version,omitempty"` // events/minhash.Version that made MinHash; other versions do not compare
	Files          []string  `json:"files,omitempty"`           // files changed by fork-only commits
	TakenAt        time.Time `json:"taken_at"`
}

// DiffRef points at a diff too large to travel inline, kept in the JetStream
// object store.
type DiffRef struct {
	Bucket string `json:"bucket"`
	Object string `json:"object"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// References are the identifiers a fix names in its trailers.
type References struct {
	Fixes []string `json:"fixes,omitempty"` // "Fixes:" trailers
	CVEs  []string `json:"cves,omitempty"`  // CVE-YYYY-NNNN ids
}

// FixPublished: a country published a fix. Type TypeFixPublished. Exactly one
// of Diff and DiffRef is set.
type FixPublished struct {
	FixID        string      `json:"fix_id"`
	Title        string      `json:"title"`
	Message      string      `json:"message,omitempty"`
	Author       Person      `json:"author"`
	Commit       string      `json:"commit"`        // the commit in the publishing fork
	UpstreamBase string      `json:"upstream_base"` // upstream commit the fix applies to
	PatchID      string      `json:"patch_id"`      // git patch-id --stable
	Files        []string    `json:"files"`
	Diff         string      `json:"diff,omitempty"`
	DiffRef      *DiffRef    `json:"diff_ref,omitempty"`
	References   *References `json:"references,omitempty"`
}

// Conflict names one hunk of a fix that fails to apply.
type Conflict struct {
	File   string `json:"file"`
	Hunk   int    `json:"hunk"`
	Reason string `json:"reason,omitempty"`
}

// FixAssessed: a node assessed a fix against its fork. Type TypeFixAssessed.
type FixAssessed struct {
	FixID         string     `json:"fix_id"`
	PatchID       string     `json:"patch_id"`
	Verdict       string     `json:"verdict"` // VerdictPresent, VerdictApplies, VerdictConflicts or VerdictNotApplicable
	PresentAs     string     `json:"present_as,omitempty"`
	How           string     `json:"how,omitempty"` // HowPatchID, HowTrailer or HowContent
	Conflicts     []Conflict `json:"conflicts,omitempty"`
	ThreeWayClean *bool      `json:"three_way_clean,omitempty"`
	Branch        string     `json:"branch"`
	Head          string     `json:"head"`
}

// FixAdopted: a fix's patch-id appeared in a fork. Type TypeFixAdopted.
type FixAdopted struct {
	FixID   string `json:"fix_id"`
	PatchID string `json:"patch_id"`
	Commit  string `json:"commit"`
	Branch  string `json:"branch"`
}

// FixRef names one published fix.
type FixRef struct {
	Country string `json:"country"`
	FixID   string `json:"fix_id"`
}

// FixDuplicateDetected: two fixes make nearly the same change. Type
// TypeFixDuplicateDetected.
type FixDuplicateDetected struct {
	A          FixRef  `json:"a"`
	B          FixRef  `json:"b"`
	Similarity float64 `json:"similarity"`
	Jaccard    float64 `json:"jaccard"`
}

// ForkDuplicateDetected: two forks carry largely the same changes. Type
// TypeForkDuplicateDetected.
type ForkDuplicateDetected struct {
	A              ForkRef  `json:"a"`
	B              ForkRef  `json:"b"`
	Similarity     float64  `json:"similarity"` // MinHash estimate
	Jaccard        float64  `json:"jaccard"`    // exact, over fork-only changes
	SharedPatchIDs int      `json:"shared_patch_ids"`
	Files          []string `json:"files,omitempty"`
	Suggestion     string   `json:"suggestion,omitempty"`
}

// ProposalSubmitted: a roadmap proposal. Type TypeProposalSubmitted.
type ProposalSubmitted struct {
	ProposalID string   `json:"proposal_id"`
	Title      string   `json:"title"`
	Body       string   `json:"body"`
	Labels     []string `json:"labels,omitempty"`
}

// ProposalEndorsed: a country endorsed a proposal. Type TypeProposalEndorsed.
type ProposalEndorsed struct {
	ProposalID string `json:"proposal_id"`
	Comment    string `json:"comment,omitempty"`
}

// ProposalObjected: a country objected to a proposal. Type
// TypeProposalObjected.
type ProposalObjected struct {
	ProposalID string `json:"proposal_id"`
	Reason     string `json:"reason"`
}

// ProposalCommented: a comment on a proposal. Type TypeProposalCommented.
type ProposalCommented struct {
	ProposalID string `json:"proposal_id"`
	Comment    string `json:"comment"`
}

// Proposal statuses. A proposal is open when submitted; the hub's
// proposals service accepts or declines it under its project's rules and
// marks it implemented for the upstream maintainer; its proposer may
// withdraw it. Declined, withdrawn and implemented are final.
const (
	ProposalOpen        = "open"
	ProposalAccepted    = "accepted"
	ProposalDeclined    = "declined"
	ProposalWithdrawn   = "withdrawn"
	ProposalImplemented = "implemented"
)

// The names of declined and implemented in events sent before 2026-11-29.
// The schema still admits them; ProposalStatus reads them as the current
// names.
const (
	proposalRejected = "rejected"
	proposalMerged   = "merged"
)

// ProposalStatuses are the statuses, in the order of a proposal's life.
func ProposalStatuses() []string {
	return []string{ProposalOpen, ProposalAccepted, ProposalDeclined, ProposalWithdrawn, ProposalImplemented}
}

// ProposalStatus returns the current name of status s: s itself, or
// declined for rejected and implemented for merged (their names before
// 2026-11-29).
func ProposalStatus(s string) string {
	switch s {
	case proposalRejected:
		return ProposalDeclined
	case proposalMerged:
		return ProposalImplemented
	}
	return s
}

// ProposalStatusChanged: a proposal moved to a new status. Type
// TypeProposalStatusChanged.
type ProposalStatusChanged struct {
	ProposalID string `json:"proposal_id"`
	From       string `json:"from"`
	To         string `json:"to"`
	Reason     string `json:"reason,omitempty"`
}

// ProposalRef names one proposal.
type ProposalRef struct {
	Country    string `json:"country"`
	ProposalID string `json:"proposal_id"`
}

// ProposalDuplicateDetected: two proposals ask for nearly the same thing.
// Type TypeProposalDuplicateDetected.
type ProposalDuplicateDetected struct {
	A          ProposalRef `json:"a"`
	B          ProposalRef `json:"b"`
	Similarity float64     `json:"similarity"`
}

// NodeHeartbeat: a node is alive. Type TypeNodeHeartbeat.
type NodeHeartbeat struct {
	Version   string    `json:"version"`
	StartedAt time.Time `json:"started_at"`
	Services  []string  `json:"services,omitempty"`
	Forks     int       `json:"forks"`
	// Lag is how many events of the hub's stream the node had yet to
	// process (pending and unacknowledged) when it sent the heartbeat.
	Lag int `json:"lag,omitempty"`
}

func (ForkRegistered) EventType() string            { return TypeForkRegistered }
func (ForkSnapshot) EventType() string              { return TypeForkSnapshot }
func (ForkDuplicateDetected) EventType() string     { return TypeForkDuplicateDetected }
func (FixPublished) EventType() string              { return TypeFixPublished }
func (FixAssessed) EventType() string               { return TypeFixAssessed }
func (FixAdopted) EventType() string                { return TypeFixAdopted }
func (FixDuplicateDetected) EventType() string      { return TypeFixDuplicateDetected }
func (ProposalSubmitted) EventType() string         { return TypeProposalSubmitted }
func (ProposalEndorsed) EventType() string          { return TypeProposalEndorsed }
func (ProposalObjected) EventType() string          { return TypeProposalObjected }
func (ProposalCommented) EventType() string         { return TypeProposalCommented }
func (ProposalStatusChanged) EventType() string     { return TypeProposalStatusChanged }
func (ProposalDuplicateDetected) EventType() string { return TypeProposalDuplicateDetected }
func (NodeHeartbeat) EventType() string             { return TypeNodeHeartbeat }
