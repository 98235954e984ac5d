package events

import (
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"
)

// Describe is a one-line human description of an event's payload, for
// logs, the CLI, the demo and the feed. It returns "" for data it cannot
// decode.
func Describe(e event.Event) string {
	p, err := Decode(e)
	if err != nil {
		return ""
	}
	return DescribePayload(p)
}

// DescribePayload is Describe for a payload decoded already (by Decode),
// for callers that need the payload anyway and should not decode twice.
func DescribePayload(p Payload) string {
	switch p := p.(type) {
	case *FixPublished:
		return fmt.Sprintf("fix %s %q (patch-id %.12s)", p.FixID, p.Title, p.PatchID)
	case *FixAssessed:
		s := fmt.Sprintf("fix %s: %s", p.FixID, p.Verdict)
		if p.PresentAs != "" {
			s += fmt.Sprintf(" as %.12s (by %s)", p.PresentAs, p.How)
		}
		for _, c := range p.Conflicts {
			s += fmt.Sprintf(" [%s hunk %d]", c.File, c.Hunk)
		}
		return s
	case *FixAdopted:
		return fmt.Sprintf("fix %s adopted as %.12s", p.FixID, p.Commit)
	case *ProposalSubmitted:
		return fmt.Sprintf("proposal %s %q", p.ProposalID, p.Title)
	case *ProposalEndorsed:
		return fmt.Sprintf("endorses %s", p.ProposalID)
	case *ProposalObjected:
		return fmt.Sprintf("objects to %s: %s", p.ProposalID, p.Reason)
	case *ProposalCommented:
		return fmt.Sprintf("comments on %s", p.ProposalID)
	case *ProposalStatusChanged:
		return fmt.Sprintf("proposal %s: %s -> %s", p.ProposalID, p.From, p.To)
	case *ForkRegistered:
		return fmt.Sprintf("fork %s (%s)", p.Fork, p.Branch)
	case *ForkSnapshot:
		return fmt.Sprintf("%s at %.12s, %d ahead, %d behind", p.Branch, p.Head, p.Ahead, p.Behind)
	case *ForkDuplicateDetected:
		return fmt.Sprintf("forks of %s and %s are %.0f%% alike", p.A.Country, p.B.Country, 100*p.Similarity)
	case *FixDuplicateDetected:
		return fmt.Sprintf("fixes %s/%s and %s/%s are %.0f%% alike", p.A.Country, p.A.FixID, p.B.Country, p.B.FixID, 100*p.Similarity)
	case *ProposalDuplicateDetected:
		return fmt.Sprintf("proposals %s/%s and %s/%s are %.0f%% alike", p.A.Country, p.A.ProposalID, p.B.Country, p.B.ProposalID, 100*p.Similarity)
	case *NodeHeartbeat:
		s := fmt.Sprintf("node %s alive, %d forks", p.Version, p.Forks)
		if p.Forks == 1 {
			s = fmt.Sprintf("node %s alive, 1 fork", p.Version)
		}
		switch {
		case p.Lag == 1:
			s += ", 1 event behind"
		case p.Lag > 1:
			s += fmt.Sprintf(", %d events behind", p.Lag)
		}
		return s
	}
	return ""
}
