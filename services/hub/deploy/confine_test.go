package deploy_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/access"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/services/hub/deploy"
)

// violations collects the permission violations the server reports to
// a connection (a refused publish is silent to the publisher otherwise).
func violations() (nats.Option, <-chan error) {
	ch := make(chan error, 16)
	return nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		if errors.Is(err, nats.ErrPermissionViolation) {
			select {
			case ch <- err:
			default:
			}
		}
	}), ch
}

func TestACountryCannotSpeakForAnother(t *testing.T) {
	d := loopback(t, "ma", "ph")
	ctx := context.Background()
	s, tl := signers(t, "ma", "ph")
	hubAdmin := d.connectHub(access.Admin)
	hubJS, err := jetstream.New(hubAdmin)
	if err != nil {
		t.Fatal(err)
	}
	// marker publishes one fix of ma's at its site and waits until the
	// hub's DPI holds it: what ma sent before it has been through.
	ma := attach(t, d.connect("site-ma", access.Country("ma")), "")
	markers := 0
	marker := func(t *testing.T) {
		t.Helper()
		markers++
		e := fixes(t, "ma", 1, "marker-"+string(rune('a'+markers)))
		if err := ma.Publisher(s["ma"]).PublishBatch(ctx, e); err != nil {
			t.Fatal(err)
		}
		bustest.Eventually(t, catchUp, "ma's marker in the hub's DPI", func() bool {
			st, err := hubJS.Stream(ctx, bus.Stream)
			if err != nil {
				return false
			}
			m, err := st.GetLastMsgForSubject(ctx, deploy.Own("ma"))
			return err == nil && m.Header.Get(jetstream.MsgIDHeader) == bus.MsgID(e[0])
		})
	}

	t.Run("ma's credentials publishing on ph's subjects are refused and logged, at its site and at the hub", func(t *testing.T) {
		for _, server := range []string{"site-ma", "hub-1"} {
			opt, refused := violations()
			nc := d.connect(server, access.Country("ma"), opt)
			if err := nc.Publish("dpi.ph.fix.published.mosip-id-repository", []byte("{}")); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-refused:
				if !strings.Contains(err.Error(), "dpi.ph.") {
					t.Errorf("%s: violation %v does not name the subject", server, err)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("%s: no permission violation reported to ma's connection", server)
			}
			p := d.site["ma"]
			if server == "hub-1" {
				p = d.hub[0]
			}
			bustest.Eventually(t, 30*time.Second, server+" logs the violation", func() bool {
				for _, l := range p.logLines("Publish Violation") {
					if strings.Contains(l, "dpi.ph.fix.published") {
						return true
					}
				}
				return false
			})
		}
	})

	t.Run("a site that widens its stream cannot put ph's subjects into the hub", func(t *testing.T) {
		siteAdmin := d.connect("site-ma", access.Admin)
		siteJS, err := jetstream.New(siteAdmin)
		if err != nil {
			t.Fatal(err)
		}
		cfg := deploy.SiteStreams(d.plan, "ma", deployBusConfig)[0]
		cfg.Subjects = []string{"dpi.>"}
		cfg.Sources = nil
		if _, err := siteJS.UpdateStream(ctx, cfg); err != nil {
			t.Fatal(err)
		}
		// The consumer that serves the hub's source runs at the site with
		// the filter dpi.ma.>; a site cannot change it through the API (a
		// source's consumer is internal), but a site that ran a modified
		// server could: then SITE_MA would hold what it sent, and DPI,
		// whose own source filters it again on the hub, still not.
		evil := fixes(t, "ph", 1, "evil")[0]
		if err := s["ph"].Sign(&evil); err != nil { // even with ph's own key
			t.Fatal(err)
		}
		m, err := bus.Encode("dpi.ph.fix.published.mosip-id-repository", evil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := siteJS.PublishMsg(ctx, m); err != nil {
			t.Fatalf("the widened site stream did not take dpi.ph.*: %v", err)
		}
		marker(t)
		for _, st := range []string{deploy.SiteStream("ma"), bus.Stream} {
			if n := count(t, hubJS, st, "dpi.ph.>"); n != 0 {
				t.Fatalf("the hub's %s holds %d events on ph's subjects, sent by ma's site", st, n)
			}
		}
		if n := count(t, hubJS, bus.Stream, "dpi.ph.>"); n != 0 {
			t.Fatalf("the hub's DPI holds %d events on ph's subjects, sent by ma's site", n)
		}
		// Put the site back as it was.
		for _, sc := range deploy.SiteStreams(d.plan, "ma", deployBusConfig)[:1] {
			if _, err := siteJS.UpdateStream(ctx, sc); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("an event claiming ph on ma's subjects is dead-lettered at the hub", func(t *testing.T) {
		claim := fixes(t, "ph", 1, "claim")[0]
		if err := s["ph"].Sign(&claim); err != nil {
			t.Fatal(err)
		}
		m, err := bus.Encode("dpi.ma.fix.published.mosip-id-repository", claim)
		if err != nil {
			t.Fatal(err)
		}
		siteJS, err := jetstream.New(d.connect("site-ma", access.Country("ma")))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := siteJS.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
		marker(t)
		v, err := sign.NewVerifier(tl)
		if err != nil {
			t.Fatal(err)
		}
		b, err := bus.Open(ctx, hubJS, bus.Config{Attach: true})
		if err != nil {
			t.Fatal(err)
		}
		handled := make(chan event.Event, 64)
		c, err := b.Consume(ctx, bus.ConsumerConfig{Name: "audit", Verifier: v}, func(_ context.Context, e event.Event) error {
			handled <- e
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Stop()
		var dl []bus.DeadLetter
		bustest.Eventually(t, time.Minute, "a dead letter of the audit consumer", func() bool {
			dl = deadLetters(hubJS, "audit")
			return len(dl) > 0
		})
		if dl[0].Reason != string(sign.ReasonSubjectMismatch) || !strings.HasPrefix(dl[0].Subject, "dpi.ma.") {
			t.Errorf("dead letter %s on %s: %s; want %s on ma's subjects", dl[0].Reason, dl[0].Subject, dl[0].Detail, sign.ReasonSubjectMismatch)
		}
		for range markers {
			select {
			case e := <-handled:
				if src, _ := events.ParseSource(e.Source()); src.Country != "ma" {
					t.Errorf("the consumer handled %s from %s", e.ID(), e.Source())
				}
			case <-time.After(time.Minute):
				t.Fatal("ma's own markers were not handled")
			}
		}
	})
}
