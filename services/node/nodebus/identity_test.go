package nodebus_test

import (
	"context"
	"sync"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/events/subject"
	"github.com/dpihub/dpihub/services/node"
	"github.com/dpihub/dpihub/services/node/internal/gittest"
)

// Identity is (source, id): two countries whose forks are identical (same
// branch name, same head) state the same verdict on the same fix, and
// each statement is an event of its own, stored and handled.
func TestTwoCountriesWithIdenticalForksPublishTwoAssessmentsOfOneFix(t *testing.T) {
	w := newWorld(t, "ma", "ph", "lk")
	ctx := context.Background()
	maDir := w.fork("ma")
	w.g.Commit(maDir, "Return the right value from step20\n", map[string]string{"src/app.go": gittest.Edit(app, 20, "func step20() { return 2000 }")})
	for _, cc := range []string{"ph", "lk"} {
		dir := w.g.Clone(w.upstream, "release")
		w.forks[cc] = node.Fork{Project: project, Upstream: "file://" + w.upstream, Dir: dir, Branch: "release"}
	}
	for _, cc := range []string{"ma", "ph", "lk"} {
		w.start(cc)
	}
	// A consumer of every assessment, as the feed's projection is one.
	var mu sync.Mutex
	var handled []event.Event
	c, err := w.b.Consume(ctx, bus.ConsumerConfig{Name: "matrix", Subjects: []string{subject.Filter("", "fix", "assessed", "")}, Verifier: w.verifier},
		func(_ context.Context, e event.Event) error {
			mu.Lock()
			defer mu.Unlock()
			handled = append(handled, e)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)

	fp, err := w.nodes["ma"].PublishFix(ctx, node.PublishRequest{Project: project, Commit: "ma-main"})
	if err != nil {
		t.Fatal(err)
	}
	key := node.FixKey("ma", fp.FixID)
	ph := w.waitVerdict(t, "ph", key, events.VerdictApplies)
	lk := w.waitVerdict(t, "lk", key, events.VerdictApplies)
	if ph.Head != lk.Head || ph.Branch != lk.Branch {
		t.Fatalf("the forks differ: ph %s at %s, lk %s at %s", ph.Branch, ph.Head, lk.Branch, lk.Head)
	}

	stored := w.published(subject.Filter("", "fix", "assessed", ""))
	if len(stored) != 2 {
		t.Fatalf("the stream holds %d fix.assessed, want one per country", len(stored))
	}
	if stored[0].ID() == stored[1].ID() || stored[0].Source() == stored[1].Source() {
		t.Errorf("two countries' assessments share an id: %s from %s, %s from %s",
			stored[0].ID(), stored[0].Source(), stored[1].ID(), stored[1].Source())
	}
	bustest.Eventually(t, deadline, "the consumer handles both assessments", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(handled) == 2
	})
}
