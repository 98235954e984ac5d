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
func (h *Hub) MountProposals(api http.Handler) { h.Mount(prophttp.Patterns(), api) }

// Mount serves handler at patterns on the hub's HTTP address, beside the
// feed (which answers every path no pattern claims).
func (h *Hub) Mount(patterns []string, handler http.Handler) {
	for _, p := range patterns {
		h.Mux.Handle(p, handler)
	}
}
