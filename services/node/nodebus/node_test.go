package nodebus_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/access"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/services/node"
	"github.com/dpihub/dpihub/services/node/gitfork"
	"github.com/dpihub/dpihub/services/node/internal/gittest"
	"github.com/dpihub/dpihub/services/node/kv"
	"github.com/dpihub/dpihub/services/node/nodebus"
	"github.com/dpihub/dpihub/services/node/nodegit"
	"github.com/dpihub/dpihub/services/node/provision"
)

const (
	project  = "sample-id-service"
	deadline = 20 * time.Second
	// bigDeadline is for the 5 MiB fix.
	bigDeadline = 2 * time.Minute
)

// app is the upstream file the fix changes; the fix rewrites line 20.
var app = gittest.Lines(40, func(i int) string { return fmt.Sprintf("func step%d() { return %d }", i, i) })

// world is one nats-server shared by several country nodes, each with its
// own fork of one generated upstream. Each node connects with its
// country's credentials, as a remote node does, and has the hub (here the
// admin's connection, js and b) make its buckets.
type world struct {
	t         *testing.T
	srv       *server.Server
	g         *gittest.Git
	js        jetstream.JetStream
	b         *bus.Bus
	countries map[string]bustest.Country
	verifier  *sign.Verifier
	upstream  string
	nodes     map[string]*node.Node
	consumers map[string]*bus.Consumer
	forks     map[string]node.Fork
}

func newWorld(t *testing.T, codes ...string) *world {
	t.Helper()
	srv := bustest.Server(t, "")
	_, js := bustest.Connect(t, srv)
	countries, tl := bustest.Countries(t, codes...)
	v, err := sign.NewVerifier(tl)
	if err != nil {
		t.Fatal(err)
	}
	g := gittest.New(t)
	up := g.Init()
	g.Commit(up, "initial import", map[string]string{"src/app.go": app, "README.md": "sample\n"})
	b := bustest.Open(t, js)
	stop, err := provision.Serve(b, func(ctx context.Context, cc string) error {
		if _, err := kv.Open(ctx, js, cc); err != nil {
			return err
		}
		_, err := nodebus.OpenPatches(ctx, b, cc)
		return err
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return &world{
		t: t, srv: srv, g: g, js: js, b: b, countries: countries, verifier: v,
		upstream: up, nodes: map[string]*node.Node{}, consumers: map[string]*bus.Consumer{}, forks: map[string]node.Fork{},
	}
}

// fork clones upstream for cc on branch "<cc>-main" with one commit of
// the country's own.
func (w *world) fork(cc string) string {
	w.t.Helper()
	dir := w.g.Clone(w.upstream, cc+"-main")
	w.g.Commit(dir, cc+": local settings", map[string]string{"conf/" + cc + ".properties": "country=" + cc + "\n"})
	w.forks[cc] = node.Fork{Project: project, Upstream: "file://" + w.upstream, Dir: dir, Branch: cc + "-main"}
	return dir
}

// start starts cc's node on its own connection as country cc, with its
// state in the country's KV bucket and its large diffs in its object
// store, and registers its fork.
func (w *world) start(cc string) *node.Node {
	w.t.Helper()
	ctx := context.Background()
	_, js := bustest.ConnectAs(w.t, w.srv, access.Country(cc))
	b, err := bus.Open(ctx, js, bus.Config{Attach: true})
	if err != nil {
		w.t.Fatal(err)
	}
	if err := provision.Request(ctx, b, cc); err != nil {
		w.t.Fatal(err)
	}
	store, err := kv.Bind(ctx, js, cc)
	if err != nil {
		w.t.Fatal(err)
	}
	patches, err := nodebus.BindPatches(ctx, b, cc)
	if err != nil {
		w.t.Fatal(err)
	}
	n, err := node.New(node.Config{
		Country: cc, Store: store, Publisher: nodebus.NewPublisher(b, w.countries[cc].Signer),
		Diffs: patches, Git: nodegit.Git{}, Assessor: nodegit.Git{},
	})
	if err != nil {
		w.t.Fatal(err)
	}
	if f, ok := w.forks[cc]; ok {
		if _, err := n.RegisterFork(ctx, f); err != nil {
			w.t.Fatal(err)
		}
	}
	c, err := nodebus.Consume(ctx, b, w.verifier, n)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(c.Stop)
	w.nodes[cc], w.consumers[cc] = n, c
	return n
}

// assessment returns cc's assessment of fix id, once there is one.
func (w *world) assessment(cc, id string) (node.Assessment, bool) {
	rf, err := w.nodes[cc].Fix(context.Background(), id)
	if err != nil || len(rf.Assessments) == 0 {
		return node.Assessment{}, false
	}
	return rf.Assessments[0], true
}

// waitVerdict waits until cc has assessed fix id with verdict.
func (w *world) waitVerdict(t testing.TB, cc, id, verdict string) node.Assessment {
	t.Helper()
	return w.waitVerdictWithin(t, deadline, cc, id, verdict)
}

func (w *world) waitVerdictWithin(t testing.TB, d time.Duration, cc, id, verdict string) node.Assessment {
	t.Helper()
	var last node.Assessment
	bustest.Eventually(t, d, cc+" assesses "+id+" as "+verdict, func() bool {
		a, ok := w.assessment(cc, id)
		last = a
		return ok && a.Verdict == verdict
	})
	return last
}

// published reads every event on the stream that matches filter: as many
// as the stream counts on the filter's subjects when it is called.
func (w *world) published(filter string) []event.Event {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := w.js.Stream(ctx, bus.Stream)
	if err != nil {
		panic(err) // the server is gone: nothing else can pass
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		panic(err)
	}
	want := 0
	for _, n := range info.State.Subjects {
		want += int(n)
	}
	c, err := w.js.OrderedConsumer(ctx, bus.Stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		panic(err)
	}
	out := make([]event.Event, 0, want)
	for len(out) < want {
		batch, err := c.Fetch(want-len(out), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			panic(err)
		}
		before := len(out)
		for m := range batch.Messages() {
			e, err := bus.Decode(m.Headers(), m.Data())
			if err != nil {
				panic(fmt.Sprintf("undecodable event on the stream: %v", err))
			}
			out = append(out, e)
		}
		if err := batch.Error(); err != nil || len(out) == before {
			panic(fmt.Sprintf("read %s: %d of the %d events the stream counts (%v)", filter, len(out), want, err))
		}
	}
	return out
}

// payloads decodes the events of type T that cc published on filter.
func payloads[T any](w *world, filter, cc string) []T {
	var out []T
	for _, e := range w.published(filter) {
		if got, _ := e.Extensions()[events.ExtCountry].(string); got != cc {
			continue
		}
		p, err := events.Decode(e)
		if err != nil {
			panic(fmt.Sprintf("undecodable payload on the stream: %v", err))
		}
		out = append(out, *any(p).(*T))
	}
	return out
}

func TestAFixTravelsToEveryNodeAndEachSaysWhatItMeansForItsFork(t *testing.T) {
	w := newWorld(t, "ma", "ph", "lk", "ke")
	g := w.g
	ctx := context.Background()

	maDir := w.fork("ma")
	fixCommit := g.Commit(maDir, "Return the right value from step20\n\nstep20 returned 20 for every caller.\n\nFixes: SAMPLE-42\n",
		map[string]string{"src/app.go": gittest.Edit(app, 20, "func step20() { return 2000 }")})
	phDir := w.fork("ph")
	lkDir := w.fork("lk")
	g.Run(lkDir, "fetch", "-q", maDir, "ma-main")
	g.Run(lkDir, "cherry-pick", fixCommit)
	lkPick := g.Run(lkDir, "rev-parse", "HEAD")
	keDir := w.fork("ke")
	// Kenya rewrote the lines around the fix: its context no longer matches.
	g.Commit(keDir, "ke: rename steps 19 and 21", map[string]string{"src/app.go": gittest.Edit(gittest.Edit(app, 19, "func stepNineteen() { return 19 }"), 21, "func stepTwentyOne() { return 21 }")})

	for _, cc := range []string{"ma", "ph", "lk", "ke"} {
		w.start(cc)
	}

	fp, err := w.nodes["ma"].PublishFix(ctx, node.PublishRequest{Project: project, Commit: "ma-main"})
	if err != nil {
		t.Fatal(err)
	}
	if fp.Commit != fixCommit || fp.DiffRef != nil || fp.References == nil || fp.References.Fixes[0] != "SAMPLE-42" {
		t.Fatalf("published %+v", fp)
	}
	id := node.FixKey("ma", fp.FixID)

	t.Run("the Philippines finds that it applies", func(t *testing.T) {
		a := w.waitVerdict(t, "ph", id, events.VerdictApplies)
		if want := g.Run(phDir, "rev-parse", "ph-main"); a.Head != want || a.Branch != "ph-main" {
			t.Errorf("assessed %s at %s, want ph-main at %s", a.Branch, a.Head, want)
		}
	})
	t.Run("Sri Lanka finds it present by patch-id, as its cherry-pick", func(t *testing.T) {
		a := w.waitVerdict(t, "lk", id, events.VerdictPresent)
		if a.How != "patch-id" || a.PresentAs != lkPick {
			t.Errorf("present how=%s as %s, want patch-id as %s", a.How, a.PresentAs, lkPick)
		}
		bustest.Eventually(t, deadline, "lk publishes fix.adopted", func() bool {
			for _, ad := range payloads[events.FixAdopted](w, "dpi.lk.fix.adopted.*", "lk") {
				if ad.FixID == fp.FixID && ad.Commit == lkPick && ad.Branch == "lk-main" {
					return true
				}
			}
			return false
		})
	})
	t.Run("Kenya's changed context conflicts, naming the file and hunk", func(t *testing.T) {
		a := w.waitVerdict(t, "ke", id, events.VerdictConflicts)
		if len(a.Conflicts) != 1 || a.Conflicts[0].File != "src/app.go" || a.Conflicts[0].Hunk != 1 {
			t.Errorf("conflicts = %+v, want src/app.go hunk 1", a.Conflicts)
		}
		if a.ThreeWayClean == nil {
			t.Error("three_way_clean not said")
		}
	})
	t.Run("every verdict is on the bus as fix.assessed", func(t *testing.T) {
		want := map[string]string{"ph": events.VerdictApplies, "lk": events.VerdictPresent, "ke": events.VerdictConflicts}
		for cc, verdict := range want {
			bustest.Eventually(t, deadline, cc+" publishes fix.assessed "+verdict, func() bool {
				for _, fa := range payloads[events.FixAssessed](w, "dpi."+cc+".fix.assessed."+project, cc) {
					if fa.FixID == fp.FixID && fa.Verdict == verdict && fa.PatchID == fp.PatchID {
						return true
					}
				}
				return false
			})
		}
	})
	t.Run("the publishing country does not assess its own fix", func(t *testing.T) {
		fixes, err := w.nodes["ma"].Fixes(ctx)
		if err != nil || len(fixes) != 0 {
			t.Errorf("ma received %d fixes (%v), want none", len(fixes), err)
		}
	})
	t.Run("when the Philippines takes the fix and refreshes, it is present and adopted", func(t *testing.T) {
		mbox, err := w.nodes["ph"].Export(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		g.RunStdin(phDir, mbox, "am", "-q")
		taken := g.Run(phDir, "rev-parse", "HEAD")
		if err := w.nodes["ph"].Refresh(ctx, ""); err != nil {
			t.Fatal(err)
		}
		a, _ := w.assessment("ph", id)
		if a.Verdict != events.VerdictPresent || a.How != "patch-id" || a.PresentAs != taken || a.Head != taken {
			t.Fatalf("after refresh: %+v, want present by patch-id as %s", a, taken)
		}
		bustest.Eventually(t, deadline, "ph publishes fix.adopted and a new snapshot", func() bool {
			adopted := false
			for _, ad := range payloads[events.FixAdopted](w, "dpi.ph.fix.adopted.*", "ph") {
				adopted = adopted || ad.FixID == fp.FixID && ad.Commit == taken
			}
			snapped := false
			for _, s := range payloads[events.ForkSnapshot](w, "dpi.ph.fork.snapshot.*", "ph") {
				snapped = snapped || s.Head == taken && s.Ahead == 2
			}
			return adopted && snapped
		})
	})
	t.Run("a refresh of a fork that did not move republishes nothing", func(t *testing.T) {
		before := len(w.published("dpi.ke.>"))
		if err := w.nodes["ke"].Refresh(ctx, project); err != nil {
			t.Fatal(err)
		}
		if after := len(w.published("dpi.ke.>")); after != before {
			t.Errorf("ke published %d events on a refresh of an unmoved fork", after-before)
		}
	})
	t.Run("a malformed patch from a trusted country ends in the DLQ with its reason", func(t *testing.T) {
		bad := events.FixPublished{
			FixID: "ma-broken-1", Title: "A fix whose diff is broken", Author: events.Person{Name: "Mallory"},
			Commit: strings.Repeat("a", 40), UpstreamBase: strings.Repeat("b", 40), PatchID: strings.Repeat("c", 40),
			Files: []string{"src/app.go"},
			// The hunk header promises three lines and delivers two.
			Diff: "diff --git a/src/app.go b/src/app.go\n--- a/src/app.go\n+++ b/src/app.go\n" +
				"@@ -20,3 +20,3 @@\n-func step20() { return 20 }\n+func step20() { return 2000 }\n",
		}
		e, err := events.New(events.Source{Country: "ma", Service: "node"}, project, bad)
		if err != nil {
			t.Fatalf("the broken fix must pass the schema: %v", err)
		}
		if _, err := w.b.Publisher(w.countries["ma"].Signer).Publish(ctx, e); err != nil {
			t.Fatal(err)
		}
		var dl bus.DeadLetter
		bustest.Eventually(t, deadline, "ph dead-letters the broken fix", func() bool {
			for _, d := range bustest.DeadLetters(t, w.js) {
				if d.Consumer == "node-ph" && strings.Contains(d.Detail, "ma-broken-1") {
					dl = d
					return true
				}
			}
			return false
		})
		t.Logf("dead letter: reason %s, detail %s", dl.Reason, dl.Detail)
		if dl.Reason != bus.ReasonHandlerRejected || !strings.Contains(dl.Detail, "malformed fix") ||
			!strings.Contains(dl.Detail, "not a patch") {
			t.Errorf("dead letter reason %q detail %q", dl.Reason, dl.Detail)
		}
		if _, err := w.nodes["ph"].Fix(ctx, node.FixKey("ma", "ma-broken-1")); err == nil {
			t.Error("ph kept the broken fix")
		}
	})
	t.Run("a diff whose patch-id is wrong is refused too", func(t *testing.T) {
		wrong := fp
		wrong.FixID, wrong.PatchID = "ma-wrong-id", strings.Repeat("d", 40)
		e, err := events.New(events.Source{Country: "ma", Service: "node"}, project, wrong)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.b.Publisher(w.countries["ma"].Signer).Publish(ctx, e); err != nil {
			t.Fatal(err)
		}
		bustest.Eventually(t, deadline, "lk dead-letters the mismatched fix", func() bool {
			for _, d := range bustest.DeadLetters(t, w.js) {
				if d.Consumer == "node-lk" && strings.Contains(d.Detail, "ma-wrong-id") && strings.Contains(d.Detail, "hashes to patch-id "+fp.PatchID) {
					return true
				}
			}
			return false
		})
	})
	t.Run("a 200 KiB diff travels inline and is kept byte-identical", func(t *testing.T) {
		var mid bytes.Buffer
		for i := 0; mid.Len() < 200<<10; i++ {
			fmt.Fprintf(&mid, "<entry id=\"%d\">&amp; List<Map<String, Object>></entry>\n", i)
		}
		g.Commit(maDir, "Add the entry schema", map[string]string{"schema/entries.xml": mid.String()})
		fp, err := w.nodes["ma"].PublishFix(ctx, node.PublishRequest{Project: project, Commit: "HEAD"})
		if err != nil {
			t.Fatal(err)
		}
		if fp.DiffRef != nil || len(fp.Diff) < 200<<10 {
			t.Fatalf("diff ref = %+v, inline %d bytes; want inline", fp.DiffRef, len(fp.Diff))
		}
		id := node.FixKey("ma", fp.FixID)
		w.waitVerdict(t, "ph", id, events.VerdictApplies)
		got, err := w.nodes["ph"].Diff(ctx, id)
		if err != nil || string(got) != fp.Diff {
			t.Fatalf("ph's copy: %d bytes (%v), published %d", len(got), err, len(fp.Diff))
		}
	})
	t.Run("a 5 MiB patch goes through the object store and round-trips byte-identical", func(t *testing.T) {
		var big bytes.Buffer
		for i := 0; big.Len() < 5<<20; i++ {
			fmt.Fprintf(&big, "record %08d: the quick brown fox jumps over the lazy dog\n", i)
		}
		g.Commit(maDir, "Add the reference data set", map[string]string{"data/reference.txt": big.String()})
		fp, err := w.nodes["ma"].PublishFix(ctx, node.PublishRequest{Project: project, Commit: "HEAD"})
		if err != nil {
			t.Fatal(err)
		}
		if fp.DiffRef == nil || fp.Diff != "" || fp.DiffRef.Size < 5<<20 || fp.DiffRef.Bucket != access.PatchBucket("ma") {
			t.Fatalf("diff ref = %+v, inline %d bytes", fp.DiffRef, len(fp.Diff))
		}
		want, err := gitfork.Fix(ctx, maDir, "origin/HEAD", "HEAD")
		if err != nil {
			t.Fatal(err)
		}
		id := node.FixKey("ma", fp.FixID)
		// Parsing, hashing and applying 5 MiB three times over takes about a
		// second; under -race on a busy machine, ten times that.
		w.waitVerdictWithin(t, bigDeadline, "ph", id, events.VerdictApplies)
		got, err := w.nodes["ph"].Diff(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, []byte(want.Diff)) {
			t.Fatalf("ph got %d bytes, ma published %d; not identical", len(got), len(want.Diff))
		}
		mbox, err := w.nodes["ph"].Export(ctx, id)
		if err != nil || !bytes.Equal(mbox, got) {
			t.Fatalf("export: %d bytes, %v", len(mbox), err)
		}
	})
}

func TestANodeKeepsItsStateAcrossARestartAndCatchesUp(t *testing.T) {
	w := newWorld(t, "ma", "ph")
	ctx := context.Background()
	maDir := w.fork("ma")
	w.fork("ph")
	w.g.Commit(maDir, "Fix step 3", map[string]string{"src/app.go": gittest.Edit(app, 3, "func step3() { return 33 }")})
	ma := w.start("ma")
	w.start("ph")

	first, err := ma.PublishFix(ctx, node.PublishRequest{Project: project, Commit: "HEAD"})
	if err != nil {
		t.Fatal(err)
	}
	w.waitVerdict(t, "ph", node.FixKey("ma", first.FixID), events.VerdictApplies)
	w.consumers["ph"].Stop()

	w.g.Commit(maDir, "Fix step 30", map[string]string{"src/app.go": gittest.Edit(gittest.Edit(app, 3, "func step3() { return 33 }"), 30, "func step30() { return 3 }")})
	second, err := ma.PublishFix(ctx, node.PublishRequest{Project: project, Commit: "HEAD"})
	if err != nil {
		t.Fatal(err)
	}

	delete(w.forks, "ph") // the restarted node knows its fork from its store
	w.start("ph")
	forks, err := w.nodes["ph"].Forks(ctx)
	if err != nil || len(forks) != 1 || forks[0].Branch != "ph-main" {
		t.Fatalf("forks after restart: %+v, %v", forks, err)
	}
	w.waitVerdict(t, "ph", node.FixKey("ma", second.FixID), events.VerdictApplies)
	if a, ok := w.assessment("ph", node.FixKey("ma", first.FixID)); !ok || a.Verdict != events.VerdictApplies {
		t.Errorf("first fix after restart: %+v", a)
	}
	if n := len(payloads[events.FixAssessed](w, "dpi.ph.fix.assessed.*", "ph")); n != 2 {
		t.Errorf("ph published %d assessments, want 2 (nothing handled twice)", n)
	}
}

func TestRegisterForkRefusesWhatItCannotRead(t *testing.T) {
	w := newWorld(t, "ma")
	n := w.start("ma")
	dir := w.fork("ma")
	ctx := context.Background()
	notRepo := t.TempDir()
	if err := os.WriteFile(filepath.Join(notRepo, "x"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]node.Fork{
		"a bad project slug":         {Project: "Bad Slug", Upstream: "file:///u", Dir: dir, Branch: "ma-main"},
		"an upstream that is no URI": {Project: project, Upstream: "not a uri", Dir: dir, Branch: "ma-main"},
		"a directory without git":    {Project: project, Upstream: "file:///u", Dir: notRepo, Branch: "main"},
		"an unknown branch":          {Project: project, Upstream: "file:///u", Dir: dir, Branch: "nope"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := n.RegisterFork(ctx, f); err == nil || !strings.Contains(err.Error(), "invalid") {
				t.Fatalf("err = %v, want an invalid-input error", err)
			}
		})
	}
}
