package events

import (
	"reflect"
	"strings"
)

// Spec describes one event type of the catalog.
type Spec struct {
	Type    string // org.dpihub.<kind>.<verb>.v1
	Kind    string // "fix", "fork", "proposal", "node"
	Verb    string // "published", "duplicate.detected", ...
	Project bool   // the event is about one project: subject is its slug
	Summary string // one sentence for docs and AsyncAPI
	payload reflect.Type
}

// New returns a pointer to a new, zero payload of the spec's type.
func (s Spec) New() Payload { return reflect.New(s.payload).Interface().(Payload) }

// PayloadType is the Go type of the spec's payload (a struct).
func (s Spec) PayloadType() reflect.Type { return s.payload }

// Event type names. The version suffix changes only on incompatible changes
// to the payload.
const (
	TypeForkRegistered            = "org.dpihub.fork.registered.v1"
	TypeForkSnapshot              = "org.dpihub.fork.snapshot.v1"
	TypeForkDuplicateDetected     = "org.dpihub.fork.duplicate.detected.v1"
	TypeFixPublished              = "org.dpihub.fix.published.v1"
	TypeFixAssessed               = "org.dpihub.fix.assessed.v1"
	TypeFixAdopted                = "org.dpihub.fix.adopted.v1"
	TypeFixDuplicateDetected      = "org.dpihub.fix.duplicate.detected.v1"
	TypeProposalSubmitted         = "org.dpihub.proposal.submitted.v1"
	TypeProposalEndorsed          = "org.dpihub.proposal.endorsed.v1"
	TypeProposalObjected          = "org.dpihub.proposal.objected.v1"
	TypeProposalCommented         = "org.dpihub.proposal.commented.v1"
	TypeProposalStatusChanged     = "org.dpihub.proposal.status.changed.v1"
	TypeProposalDuplicateDetected = "org.dpihub.proposal.duplicate.detected.v1"
	TypeNodeHeartbeat             = "org.dpihub.node.heartbeat.v1"
)

var catalog = []Spec{
	spec[ForkRegistered](TypeForkRegistered, true, "A country registered a fork of an upstream project with its node."),
	spec[ForkSnapshot](TypeForkSnapshot, true, "A fork's state: head, merge-base with upstream, ahead/behind counts, patch-ids and fingerprint of its own commits."),
	spec[ForkDuplicateDetected](TypeForkDuplicateDetected, true, "The dedup service found two countries' forks that carry largely the same changes."),
	spec[FixPublished](TypeFixPublished, true, "A country published a fix made in its fork, with its diff and patch-id."),
	spec[FixAssessed](TypeFixAssessed, true, "A country's node assessed a published fix against its own fork."),
	spec[FixAdopted](TypeFixAdopted, true, "A published fix's patch-id appeared in a country's fork."),
	spec[FixDuplicateDetected](TypeFixDuplicateDetected, true, "The dedup service found two fixes that make nearly the same change."),
	spec[ProposalSubmitted](TypeProposalSubmitted, true, "A country submitted a roadmap proposal for an upstream project."),
	spec[ProposalEndorsed](TypeProposalEndorsed, true, "A country endorsed a roadmap proposal."),
	spec[ProposalObjected](TypeProposalObjected, true, "A country objected to a roadmap proposal, with its reason."),
	spec[ProposalCommented](TypeProposalCommented, true, "A country commented on a roadmap proposal."),
	spec[ProposalStatusChanged](TypeProposalStatusChanged, true, "A roadmap proposal moved to a new status."),
	spec[ProposalDuplicateDetected](TypeProposalDuplicateDetected, true, "The dedup service found two roadmap proposals that ask for nearly the same thing."),
	spec[NodeHeartbeat](TypeNodeHeartbeat, false, "A country's node is alive; sent periodically."),
}

func spec[P any](typ string, project bool, summary string) Spec {
	parts := strings.Split(strings.TrimPrefix(typ, "org.dpihub."), ".")
	return Spec{
		Type:    typ,
		Kind:    parts[0],
		Verb:    strings.Join(parts[1:len(parts)-1], "."),
		Project: project,
		Summary: summary,
		payload: reflect.TypeFor[P](),
	}
}

var byType = func() map[string]Spec {
	m := make(map[string]Spec, len(catalog))
	for _, s := range catalog {
		m[s.Type] = s
	}
	return m
}()

// Catalog returns every event type, in a stable order.
func Catalog() []Spec { return append([]Spec(nil), catalog...) }

// Lookup returns the spec of an event type.
func Lookup(typ string) (Spec, bool) {
	s, ok := byType[typ]
	return s, ok
}
