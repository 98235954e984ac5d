package demo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"golang.org/x/sync/errgroup"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/events/subject"
	"github.com/dpihub/dpihub/services/feed/feedbus/feedgen"
	"github.com/dpihub/dpihub/services/hub"
)

// The campaign-scale demo (dpihub demo --countries N): after the story,
// N countries' history of the last 90 days is published through the
// bus, each event signed by its country's key, so that the coordinator's
// views show what a campaign looks like: 10 fixes a country, assessed by
// most of the others at each one's pace, adoptions, a proposal a country
// with its votes, each node's last heartbeat, and refused events.

// MaxCountries is the most countries --countries takes.
const MaxCountries = 60

// campaignProjects are the projects of the campaign's history: not the
// story's, which the demo's nodes fork and would assess against their
// git forks.
var campaignProjects = []string{"mosip-registration", "mojaloop-central-ledger", "openg2p-core", "x-road"}

// campaignCountries are the countries a campaign of n adds keys for.
func campaignCountries(n int) []string {
	if n <= len(Countries) {
		return nil
	}
	return feedgen.CampaignCountries(min(n, MaxCountries))
}

// playCampaign publishes the campaign's events, then forged ones, and
// waits until the feed has applied them.
func playCampaign(ctx context.Context, h *hub.Hub, n int, signers map[string]*sign.Signer, applied func() uint64, out *printer) error {
	now := time.Now().UTC()
	c := feedgen.Campaign{Countries: n, Fixes: 10 * n, Proposals: n, Seed: 16, Begin: now.Add(-90 * 24 * time.Hour), End: now.Add(-time.Minute), Projects: campaignProjects}
	evs := c.Events()
	out.f("\n* Campaign scale: %d countries, %d fixes over 90 days, their assessments, adoptions, proposals, votes and heartbeats: %d events, each signed by its country\n",
		n, c.Fixes, len(evs))
	start := time.Now()
	// One batch per country, signed with its key, several at once: the
	// store derives the same state whatever the order.
	byCountry := map[string][]event.Event{}
	for _, t := range evs {
		cc, _ := t.Event.Extensions()[events.ExtCountry].(string)
		byCountry[cc] = append(byCountry[cc], t.Event)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for cc, batch := range byCountry {
		s := signers[cc]
		if s == nil {
			return fmt.Errorf("campaign: no key for %s", cc)
		}
		g.Go(func() error {
			if err := h.Bus.Publisher(s).PublishBatch(gctx, batch); err != nil {
				return fmt.Errorf("campaign: publish %s's events: %w", cc, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	stream, err := h.JS.Stream(ctx, bus.Stream)
	if err != nil {
		return err
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return err
	}
	target := info.State.LastSeq
	// Refused events: events in a country's name signed with a key the
	// hub does not know, and events not signed at all.
	forged := 0
	ccs := feedgen.CampaignCountries(n)
	for i := range max(3, n/5) {
		victim := ccs[(i*7+1)%len(ccs)]
		e, err := events.New(events.Source{Country: victim, Service: "node"}, campaignProjects[i%len(campaignProjects)],
			&events.FixPublished{FixID: fmt.Sprintf("%s-evil-%d", victim, i), Title: "Skip the signature check on imports", Author: events.Person{Name: "Mallory"},
				Commit: strings.Repeat("e", 40), UpstreamBase: strings.Repeat("b", 40), PatchID: strings.Repeat("f", 40),
				Files: []string{"registry/Import.java"}, Diff: "--- a/x\n+++ b/x\n"})
		if err != nil {
			return err
		}
		if i%2 == 0 {
			k, err := sign.GenerateKey(victim)
			if err != nil {
				return err
			}
			rogue, err := sign.NewSigner(k)
			if err != nil {
				return err
			}
			if _, err := h.Bus.Publisher(rogue).Publish(ctx, e); err != nil {
				return err
			}
		} else {
			subj, err := subject.Of(e)
			if err != nil {
				return err
			}
			m, err := bus.Encode(subj.String(), e)
			if err != nil {
				return err
			}
			if _, err := h.JS.PublishMsg(ctx, m); err != nil {
				return err
			}
		}
		forged++
	}
	if err := waitFor(ctx, 5*time.Minute, func() bool { return applied() >= target }); err != nil {
		return fmt.Errorf("campaign: the feed did not apply the events: %w", err)
	}
	out.f("  published and applied in %s; %d forged events were published too, and refused\n", time.Since(start).Round(time.Millisecond), forged)
	return nil
}
