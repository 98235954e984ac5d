package access

import "github.com/dpihub/dpihub/events/bus"

// HubDomain is the JetStream domain of the hub cluster in a multi-site
// deployment; each country's site is the domain named by its code.
const HubDomain = "hub"

// site: the leafnode link of country cc's site, as the hub sees it. On a
// leafnode connection, publish is what the site may send into the hub and
// subscribe what the hub may send to the site. The link carries no event
// subject at all: events cross only by JetStream sourcing, the site's
// stream into the hub and the hub's into the site, so each arrives by one
// path, once, and the hub decides by its own sources' filters what it
// takes (a site's own permissions do not cover what the hub pulls in).
//
// What sourcing sends, in both directions (nats-server stream.go): the
// sourcing side asks the other's JetStream API for a consumer
// (CONSUMER.CREATE) and gets the answer on $JSC.R.<…>; the consumer
// delivers on $JS.S.<…> with heartbeats and flow control, answered on
// $JS.FC.<…>. Without $JSC.R a source stays inactive and nothing says
// why.
//
// The hub may call the whole JetStream API of the site's domain: it
// sources from it, and the deployment's admin sets up the site's
// streams through it (deploy streams). The site may only make the
// consumers that source DPI from the hub's domain; NATS cannot tell a
// source's consumer (JS_SRC_<hash>) from another name, so a site could
// also rewrite another consumer of the hub's DPI: docs/security.md says
// what that leaves open.
func site(cc string) Permissions {
	hubAPI := "$JS." + HubDomain + ".API."
	return Permissions{
		Publish: []string{
			// Answers to the hub's API requests: only the admin, which
			// sets up the site's streams, asks on _INBOX (every other
			// identity has an inbox prefix of its own).
			"_INBOX.>",
			"$JSC.R.>",
			"$JS.S.>",
			"$JS.FC.>",
			// One filter: CREATE.DPI.<name>.<filter>; more: CREATE.DPI.
			hubAPI + "CONSUMER.CREATE." + bus.Stream,
			hubAPI + "CONSUMER.CREATE." + bus.Stream + ".>",
		},
		Subscribe: []string{
			"$JS." + cc + ".API.>",
			"$JSC.R.>",
			"$JS.S.>",
			"$JS.FC.>",
		},
	}
}
