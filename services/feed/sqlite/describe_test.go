package sqlite

import (
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/services/feed/feedbus/feedgen"
)

func TestDescribeIsEventsDescribe(t *testing.T) {
	var evs []event.Event
	for _, spec := range events.Catalog() {
		p, _ := events.Sample(spec.Type)
		cc := "ma"
		if spec.Kind != "node" && (spec.Verb == "duplicate.detected") {
			cc = events.HubCountry
		}
		svc := map[bool]string{true: "dedup", false: "node"}[cc == events.HubCountry]
		proj := "mosip-id-repository"
		if !spec.Project {
			proj = ""
		}
		e, err := events.New(events.Source{Country: cc, Service: svc}, proj, p)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, e)
	}
	evs = append(evs, feedgen.Events(5000, 7)...)
	seen := map[string]bool{}
	for _, e := range evs {
		p, err := decode(e)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := describe(p), events.Describe(e); got != want || want == "" {
			t.Errorf("%s: describe %q, events.Describe %q", e.Type(), got, want)
		}
		seen[e.Type()] = true
	}
	if len(seen) != len(events.Catalog()) {
		t.Errorf("covered %d types of %d", len(seen), len(events.Catalog()))
	}
}
