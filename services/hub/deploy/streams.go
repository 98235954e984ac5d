package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/access"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/subject"
)

// SiteStreamPrefix begins the name of the hub's stream that holds what a
// site's stream sends: SITE_<CC>.
const SiteStreamPrefix = "SITE_"

// SiteStream is the hub's stream of country cc's site: SITE_<CC>.
func SiteStream(cc string) string { return SiteStreamPrefix + strings.ToUpper(cc) }

// Own is the subjects of country cc's events: dpi.<cc>.>.
func Own(cc string) string { return subject.Root + "." + cc + ".>" }

// replicas is how many copies the hub keeps of each stream: one per
// member, at most three.
func (p Plan) replicas() int { return min(len(p.Hub), 3) }

// HubStreams are the hub's streams: SITE_<CC> for each country, then
// DPI and DPI_DLQ, each with a replica on up to three members.
//
// SITE_<CC> sources the site's DPI through the site's JetStream domain,
// filtered to dpi.<cc>.>; the site runs that filter, so a site could lift
// it. DPI then sources SITE_<CC>, filtered to dpi.<cc>.> again, and this
// filter runs on the hub: whatever a site sends, it reaches DPI only on
// its own subjects. DPI still captures dpi.> itself, for the hub
// services (dpi.hub.>) and for a node that connects to the hub directly.
func HubStreams(p Plan, cfg bus.Config) []jetstream.StreamConfig {
	dpi, dlq := bus.StreamConfigs(cfg)
	var out []jetstream.StreamConfig
	for _, cc := range p.Countries() {
		s := dpi
		s.Name = SiteStream(cc)
		s.Description = "what the site of " + cc + " sends; DPI takes its " + Own(cc) + " only"
		s.Subjects = nil
		s.Replicas = p.replicas()
		s.Sources = []*jetstream.StreamSource{{
			Name:          bus.Stream,
			FilterSubject: Own(cc),
			External:      &jetstream.ExternalStream{APIPrefix: "$JS." + cc + ".API"},
		}}
		out = append(out, s)
		dpi.Sources = append(dpi.Sources, &jetstream.StreamSource{Name: SiteStream(cc), FilterSubject: Own(cc)})
	}
	dpi.Replicas, dlq.Replicas = p.replicas(), p.replicas()
	return append(out, dpi, dlq)
}

// SiteStreams are country cc's site's streams: DPI, which captures the
// country's own events and sources from the hub's DPI everyone else's
// (the other countries' and the hub services'), and DPI_DLQ.
func SiteStreams(p Plan, cc string, cfg bus.Config) []jetstream.StreamConfig {
	dpi, dlq := bus.StreamConfigs(cfg)
	dpi.Subjects = []string{Own(cc)}
	dpi.Description = "dpihub events at the site of " + cc + ": its own, and the others' sourced from the hub"
	src := &jetstream.StreamSource{
		Name:     bus.Stream,
		External: &jetstream.ExternalStream{APIPrefix: "$JS." + access.HubDomain + ".API"},
	}
	for _, o := range p.Countries() {
		if o != cc {
			src.SubjectTransforms = append(src.SubjectTransforms, jetstream.SubjectTransformConfig{Source: Own(o)})
		}
	}
	src.SubjectTransforms = append(src.SubjectTransforms, jetstream.SubjectTransformConfig{Source: Own(events.HubCountry)})
	dpi.Sources = []*jetstream.StreamSource{src}
	return []jetstream.StreamConfig{dpi, dlq}
}

// ApplyStreams makes or updates every stream of the deployment through
// nc, a connection to the hub as the admin: the hub's in domain hub, each
// site's in its own domain, reached across its leaf link. In an order
// where each source finds its origin already there (a source that does
// not backs off, for up to two minutes): the hub's DPI (without sources
// if new), the sites' streams, the hub's SITE_<CC>, then DPI with its
// sources. A site that cannot be reached is reported and the others are
// still set up; run it again once it is back.
func ApplyStreams(ctx context.Context, nc *nats.Conn, p Plan, cfg bus.Config) error {
	hub, err := jetstream.NewWithDomain(nc, access.HubDomain)
	if err != nil {
		return err
	}
	streams := HubStreams(p, cfg)
	dpi, dlq := streams[len(streams)-2], streams[len(streams)-1]
	if _, err := hub.Stream(ctx, dpi.Name); errors.Is(err, jetstream.ErrStreamNotFound) {
		bare := dpi
		bare.Sources = nil
		if _, err := hub.CreateStream(ctx, bare); err != nil {
			return fmt.Errorf("hub stream %s: %w", dpi.Name, err)
		}
	} else if err != nil {
		return fmt.Errorf("hub stream %s: %w", dpi.Name, err)
	}
	if _, err := hub.CreateOrUpdateStream(ctx, dlq); err != nil {
		return fmt.Errorf("hub stream %s: %w", dlq.Name, err)
	}
	var errs []error
	for _, cc := range p.Countries() {
		js, err := jetstream.NewWithDomain(nc, cc)
		if err != nil {
			return err
		}
		for _, sc := range SiteStreams(p, cc, cfg) {
			if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
				errs = append(errs, fmt.Errorf("site %s stream %s: %w", cc, sc.Name, err))
			}
		}
	}
	for _, sc := range streams[:len(streams)-2] {
		if _, err := hub.CreateOrUpdateStream(ctx, sc); err != nil {
			errs = append(errs, fmt.Errorf("hub stream %s: %w", sc.Name, err))
		}
	}
	if _, err := hub.CreateOrUpdateStream(ctx, dpi); err != nil {
		errs = append(errs, fmt.Errorf("hub stream %s: %w", dpi.Name, err))
	}
	return errors.Join(errs...)
}
