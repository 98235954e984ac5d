// Package node is the domain of one country's OSPO node: the forks it
// keeps of upstream projects, the fixes other countries publish, and the
// verdict of each fix against each fork.
//
// The package holds the node's rules (Node) and the small interfaces they
// need, and imports no adapter. Package gitfork reads forks with git,
// package assess judges a fix against a fork, package nodegit gives both
// to the Node; package nodebus runs the node on the event fabric, package
// kv keeps its state, package nodehttp serves its API, and package
// service wires them into Start and Run.
package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/dpihub/dpihub/events"
)

// Errors of the node. They are wrapped with detail; test with errors.Is.
var (
	// ErrInvalid is wrapped by errors for input that breaks the rules (a
	// bad project slug, a commit that is not a commit, a merge commit to
	// publish, ...). It is an events.ErrBadInput: HTTP answers it with 400.
	ErrInvalid = events.Sentinel(events.ErrBadInput, "invalid input")
	// ErrNotFound is wrapped by errors for a fork or fix the node does not
	// know. It is an events.ErrNotFound: HTTP answers it with 404.
	ErrNotFound = events.Sentinel(events.ErrNotFound, "not found")
	// ErrMalformedFix is wrapped by errors for a received fix that cannot
	// ever be assessed: its diff is not a patch, does not match its
	// patch-id, or its stored copy does not match its checksum. The bus
	// dead-letters such events instead of retrying them.
	ErrMalformedFix = errors.New("malformed fix")
)

// Invalid returns an error wrapping ErrInvalid with a reason.
func Invalid(format string, args ...any) error {
	return events.Errorf(ErrInvalid, format, args...)
}

// DefaultUpstreamRef is the ref that tracks upstream in a fork's local
// repository when Fork.UpstreamRef is empty: what `git clone` of the
// upstream leaves behind.
const DefaultUpstreamRef = "origin/HEAD"

// Fork is one of the country's forks of an upstream project: the local git
// repository that holds it and the branch the country deploys.
type Fork struct {
	// Project is the upstream project slug, e.g. "mosip-id-repository".
	Project string `json:"project"`
	// Upstream is the upstream repository URL (https://, ssh:// or
	// file://).
	Upstream string `json:"upstream"`
	// UpstreamRef is the ref in Dir that tracks upstream (default
	// DefaultUpstreamRef); the fork's merge-base is taken against it.
	UpstreamRef string `json:"upstream_ref,omitempty"`
	// URL is the fork repository's URL as others can reach it; empty means
	// file://Dir.
	URL string `json:"url,omitempty"`
	// Dir is the local git repository (work tree or bare) of the fork.
	Dir string `json:"dir"`
	// Branch is the fork's branch that the country deploys.
	Branch string `json:"branch"`
	// Platform is the DPI platform, e.g. "MOSIP" (optional).
	Platform string `json:"platform,omitempty"`
}

// ReadForks reads a JSON list of forks, the file of -forks / --forks.
func ReadForks(path string) ([]Fork, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var forks []Fork
	if err := json.Unmarshal(b, &forks); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return forks, nil
}

// Key identifies a fork within a node: project and branch.
func (f Fork) Key() string { return f.Project + "@" + f.Branch }

// Ref returns the upstream ref, defaulted.
func (f Fork) Ref() string {
	if f.UpstreamRef == "" {
		return DefaultUpstreamRef
	}
	return f.UpstreamRef
}

// Validate checks the fields a fork needs. It does not look at the
// repository.
func (f Fork) Validate() error {
	switch {
	case !events.ValidProject(f.Project):
		return Invalid("project %q is not a slug ([a-z0-9][a-z0-9-]*)", f.Project)
	case f.Upstream == "":
		return Invalid("fork of %s: upstream URL is required", f.Project)
	case f.Dir == "":
		return Invalid("fork of %s: dir (the local repository) is required", f.Project)
	case f.Branch == "" || strings.ContainsAny(f.Branch, " ~^:?*[\\") || strings.HasPrefix(f.Branch, "-"):
		return Invalid("fork of %s: branch %q is not a branch name", f.Project, f.Branch)
	}
	return nil
}

// ForkState is a registered fork and the last snapshot taken of it.
type ForkState struct {
	Fork
	// Snapshot is nil until the fork has been read once.
	Snapshot *events.ForkSnapshot `json:"snapshot,omitempty"`
	// Error says why the last snapshot failed, if it did.
	Error string `json:"error,omitempty"`
}

// FixKey is the node-wide identifier of a received fix: the publishing
// country and its fix id, "<cc>:<fix_id>". A country never contains ':',
// so the key splits at its first colon.
func FixKey(country, fixID string) string { return country + ":" + fixID }

// ParseFixKey splits a FixKey.
func ParseFixKey(key string) (country, fixID string, err error) {
	cc, id, ok := strings.Cut(key, ":")
	if !ok || !events.ValidCountry(cc) || id == "" {
		return "", "", Invalid("fix id %q is not <country>:<fix_id>", key)
	}
	return cc, id, nil
}

// Assessment is the verdict of one received fix against one fork at one
// head, as published in fix.assessed.
type Assessment struct {
	Project string `json:"project"`
	Branch  string `json:"branch"`
	Head    string `json:"head"`
	// Verdict is one of events.VerdictPresent, VerdictApplies,
	// VerdictConflicts, VerdictNotApplicable.
	Verdict       string            `json:"verdict"`
	PresentAs     string            `json:"present_as,omitempty"`
	How           string            `json:"how,omitempty"`
	Conflicts     []events.Conflict `json:"conflicts,omitempty"`
	ThreeWayClean *bool             `json:"three_way_clean,omitempty"`
	AssessedAt    time.Time         `json:"assessed_at"`
	// Adopted is set once fix.adopted was published for this fork: the
	// fork carries a commit with the fix's patch-id (or naming it in a
	// cherry-pick trailer).
	Adopted bool `json:"adopted,omitempty"`
}

// Open reports whether the assessment may change when the fork moves:
// every verdict but present.
func (a Assessment) Open() bool { return a.Verdict != events.VerdictPresent }

// ReceivedFix is a fix another country published for a project this node
// forks, with this node's assessments of it.
type ReceivedFix struct {
	// ID is FixKey(Country, Fix.FixID).
	ID         string    `json:"id"`
	Country    string    `json:"country"`
	Project    string    `json:"project"`
	EventID    string    `json:"event_id"`
	ReceivedAt time.Time `json:"received_at"`
	// Fix is the payload as published. Its diff is kept inline, or as the
	// reference to the object store it came by.
	Fix events.FixPublished `json:"fix"`
	// Assessments holds one entry per fork of the project, by fork branch.
	Assessments []Assessment `json:"assessments"`
}

// Assessment returns the assessment for branch, if any.
func (r *ReceivedFix) Assessment(branch string) (Assessment, bool) {
	for _, a := range r.Assessments {
		if a.Branch == branch {
			return a, true
		}
	}
	return Assessment{}, false
}

// SetAssessment adds or replaces the assessment of a.Branch.
func (r *ReceivedFix) SetAssessment(a Assessment) {
	for i := range r.Assessments {
		if r.Assessments[i].Branch == a.Branch {
			r.Assessments[i] = a
			return
		}
	}
	r.Assessments = append(r.Assessments, a)
}

// PublishRequest asks the node to publish a commit of one of its forks as a
// fix.
type PublishRequest struct {
	Project string `json:"project"`
	// Repo is the Dir of the registered fork of Project that holds
	// Commit; empty means the project's first registered fork. The node
	// refuses any other repository: it publishes only commits of its
	// registered forks.
	Repo string `json:"repo,omitempty"`
	// Commit is a commit id or any revision git understands in Repo.
	Commit string `json:"commit"`
}

// Service is what a node does, as its API offers it.
type Service interface {
	// Forks lists the registered forks with their last snapshots.
	Forks(ctx context.Context) ([]ForkState, error)
	// RegisterFork registers (or updates) a fork, takes its snapshot and
	// announces it.
	RegisterFork(ctx context.Context, f Fork) (ForkState, error)
	// Fixes lists the received fixes with their assessments.
	Fixes(ctx context.Context) ([]ReceivedFix, error)
	// Fix returns one received fix by FixKey.
	Fix(ctx context.Context, id string) (ReceivedFix, error)
	// PublishFix publishes a commit as a fix and returns what was
	// published.
	PublishFix(ctx context.Context, req PublishRequest) (events.FixPublished, error)
	// Refresh re-reads the forks of project (all forks for ""), and for
	// each fork that moved redoes the open assessments.
	Refresh(ctx context.Context, project string) error
	// Export returns a received fix as a `git am`-ready mbox.
	Export(ctx context.Context, id string) ([]byte, error)
}

// Store keeps a node's forks and received fixes across restarts.
type Store interface {
	PutFork(ctx context.Context, f ForkState) error
	Forks(ctx context.Context) ([]ForkState, error)
	PutFix(ctx context.Context, f ReceivedFix) error
	// Fix returns the fix with key id, or an error wrapping ErrNotFound.
	Fix(ctx context.Context, id string) (ReceivedFix, error)
	Fixes(ctx context.Context) ([]ReceivedFix, error)
}
