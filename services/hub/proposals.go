package hub

import (
	"net/http"
	"time"

	"github.com/dpihub/dpihub/services/feed"
	"github.com/dpihub/dpihub/services/proposals"
	"github.com/dpihub/dpihub/services/proposals/prophttp"
)

// FeedGovernance lets the feed show what the proposals service's rules
// say of each proposal.
func FeedGovernance(g *proposals.Governor) feed.Governance { return feedGovernance{g} }

type feedGovernance struct{ g *proposals.Governor }

func (f feedGovernance) Outlook(id string, now time.Time) (feed.Outlook, bool) {
	o, ok := f.g.Outlook(id, now)
	return feed.Outlook{Rules: o.Rules, Next: o.Next, Deadline: o.Deadline, Unanswered: o.Unanswered}, ok
}

// MountProposals serves the proposals service's API on the hub's HTTP
// address, beside the feed.
func (h *Hub) MountProposals(api http.Handler) {
	for _, p := range prophttp.Patterns() {
		h.Mux.Handle(p, api)
	}
}
