package sqlite

import (
	"fmt"

	"github.com/dpihub/dpihub/events"
)

// describe is events.Describe for a payload decoded already: Apply
// decodes each payload once, and Describe would decode it again (a fifth
// of the cost of projecting an event). TestDescribeIsEventsDescribe keeps
// the two the same.
func describe(p events.Payload) string {
	switch p := p.(type) {
	case *events.FixPublished:
		return fmt.Sprintf("fix %s %q (patch-id %.12s)", p.FixID, p.Title, p.PatchID)
	case *events.FixAssessed:
		s := fmt.Sprintf("fix %s: %s", p.FixID, p.Verdict)
		if p.PresentAs != "" {
			s += fmt.Sprintf(" as %.12s (by %s)", p.PresentAs, p.How)
		}
		for _, c := range p.Conflicts {
			s += fmt.Sprintf(" [%s hunk %d]", c.File, c.Hunk)
		}
		return s
	case *events.FixAdopted:
		return fmt.Sprintf("fix %s adopted as %.12s", p.FixID, p.Commit)
	case *events.ProposalSubmitted:
		return fmt.Sprintf("proposal %s %q", p.ProposalID, p.Title)
	case *events.ProposalEndorsed:
		return fmt.Sprintf("endorses %s", p.ProposalID)
	case *events.ProposalObjected:
		return fmt.Sprintf("objects to %s: %s", p.ProposalID, p.Reason)
	case *events.ProposalCommented:
		return fmt.Sprintf("comments on %s", p.ProposalID)
	case *events.ProposalStatusChanged:
		return fmt.Sprintf("proposal %s: %s -> %s", p.ProposalID, p.From, p.To)
	case *events.ForkRegistered:
		return fmt.Sprintf("fork %s (%s)", p.Fork, p.Branch)
	case *events.ForkSnapshot:
		return fmt.Sprintf("%s at %.12s, %d ahead, %d behind", p.Branch, p.Head, p.Ahead, p.Behind)
	case *events.ForkDuplicateDetected:
		return fmt.Sprintf("forks of %s and %s are %.0f%% alike", p.A.Country, p.B.Country, 100*p.Similarity)
	case *events.FixDuplicateDetected:
		return fmt.Sprintf("fixes %s/%s and %s/%s are %.0f%% alike", p.A.Country, p.A.FixID, p.B.Country, p.B.FixID, 100*p.Similarity)
	case *events.ProposalDuplicateDetected:
		return fmt.Sprintf("proposals %s/%s and %s/%s are %.0f%% alike", p.A.Country, p.A.ProposalID, p.B.Country, p.B.ProposalID, 100*p.Similarity)
	case *events.NodeHeartbeat:
		return fmt.Sprintf("node %s alive, %d forks", p.Version, p.Forks)
	}
	return ""
}
