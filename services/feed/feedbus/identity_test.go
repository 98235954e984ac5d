package feedbus_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/services/feed/feedbus"
)

// TestTheLiveProjectionKeepsTwoCountriesEventsOfTheSameID: the
// Philippines and Sri Lanka run identical forks, so their nodes derive the
// same id for their assessments of Morocco's fix; each country signs its
// own. Both verdicts reach the matrix, from the live projector as from a
// rebuild.
func TestTheLiveProjectionKeepsTwoCountriesEventsOfTheSameID(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	p, _ := events.Sample(events.TypeFixPublished)
	fix := p.(events.FixPublished)
	squat := fix
	squat.FixID, squat.Title = "ma-x", "Disable OTP rate limiting"
	real := fix
	real.FixID = "ma-x"
	mk := func(cc string, p events.Payload, id string) event.Event {
		e, err := events.New(events.Source{Country: cc, Service: "node"}, "mosip-id-repository", p, events.WithID(id))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	assess := func(verdict string) events.FixAssessed {
		return events.FixAssessed{FixID: fix.FixID, PatchID: fix.PatchID, Verdict: verdict, Branch: "release-1.2.0", Head: fix.Commit}
	}
	for _, e := range []event.Event{
		mk("ma", fix, "fix"),
		mk("ph", assess(events.VerdictApplies), "assessment"),
		mk("lk", assess(events.VerdictNotApplicable), "assessment"),
		// Refused by the bus (not-authorized) or, where it is not, applied
		// without taking Morocco's id: either way ma-x stays Morocco's.
		mk("ph", squat, "squat"),
		mk("ma", real, "real"),
	} {
		cc, _ := e.Extensions()[events.ExtCountry].(string)
		if _, err := w.pubs[cc].Publish(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	st := openStore(t, "")
	c, err := feedbus.Project(ctx, w.bus, st, feedbus.Config{Verifier: w.v})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	last := w.lastSeq(t)
	bustest.Progressing(t, time.Minute, "the projection catches up", func() uint64 { return lastApplied(t, st) }, func() bool { return lastApplied(t, st) == last })

	f, err := st.Fix(ctx, fix.FixID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range f.Assessments {
		got = append(got, a.Country+":"+a.Verdict)
	}
	if want := []string{"lk:not-applicable", "ph:applies"}; !slices.Equal(got, want) {
		t.Errorf("matrix of %s = %v, want %v", fix.FixID, got, want)
	}
	if f, err := st.Fix(ctx, "ma-x"); err != nil || f.Country != "ma" || f.EventID != "real" {
		t.Errorf("fix ma-x = %+v, %v; want Morocco's", f, err)
	}
	t.Run("a rebuild builds the same state", func(t *testing.T) {
		rebuilt, _ := rebuild(t, w)
		if got, want := digest(t, rebuilt), digest(t, st); got != want {
			t.Errorf("rebuild %s, live projection %s", got, want)
		}
	})
}
