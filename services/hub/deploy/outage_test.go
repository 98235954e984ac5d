package deploy_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
	feedsvc "github.com/dpihub/dpihub/services/feed/service"
	"github.com/dpihub/dpihub/services/hub/deploy"
	"github.com/dpihub/dpihub/services/node"
	"github.com/dpihub/dpihub/services/node/gitfork"
	nodesvc "github.com/dpihub/dpihub/services/node/service"
)

// The outage: ma's site runs in a network namespace of its own, joined to
// the hub's by a veth pair; the hub cluster and ph's site run in the
// other. The link is cut by taking ma's end down; while it is down ma's
// node works on, and ma's server is restarted once.
func TestASiteCutOffKeepsWorkingAndTheHubGetsEachOfItsEventsOnceAfter(t *testing.T) {
	needNetns(t)
	bin := natsServer(t)
	const outage = 10000
	dir := t.TempDir()
	if keep := os.Getenv("DPIHUB_TEST_KEEP"); keep != "" {
		dir = filepath.Join(keep, t.Name())
		_ = os.RemoveAll(dir)
	}
	hubNS, maNS := newNetns(t, "hub"), newNetns(t, "ma")
	const hubIP, maIP = "10.201.77.1", "10.201.77.2"
	_, maEnd := link(t, hubNS, maNS, hubIP, maIP)

	var plan deploy.Plan
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("hub-%d", i)
		plan.Hub = append(plan.Hub, deploy.Member{Name: name, Host: "127.0.0.1", LeafHost: hubIP, Listen: "0.0.0.0",
			Client: freePort(t), Cluster: freePort(t), Leaf: freePort(t), Store: filepath.Join(dir, "data", name)})
	}
	for _, s := range []deploy.Site{
		{Country: "ma", Host: maIP, Listen: "0.0.0.0", Client: freePort(t), Store: filepath.Join(dir, "data", "site-ma")},
		{Country: "ph", Host: "127.0.0.1", Listen: "127.0.0.1", Client: freePort(t), Store: filepath.Join(dir, "data", "site-ph")},
	} {
		if err := plan.AddSite(s); err != nil {
			t.Fatal(err)
		}
	}
	ns := map[string]string{"site-ma": string(maNS)}
	dialers := map[string]nats.CustomDialer{"site-ma": dialer{maNS}}
	for _, n := range []string{"hub-1", "hub-2", "hub-3", "site-ph"} {
		ns[n] = string(hubNS)
		dialers[n] = dialer{hubNS}
	}
	d := start(t, bin, dir, plan, ns, dialers)
	d.applyStreams()
	ctx := context.Background()
	s, tl := signers(t, "ma", "ph")
	v, err := sign.NewVerifier(tl)
	if err != nil {
		t.Fatal(err)
	}
	hubJS, err := jetstream.New(d.connectHub(access.Observer))
	if err != nil {
		t.Fatal(err)
	}

	// The feed runs against the hub, as the hub service feed.
	feedBus := attach(t, d.connectHub(access.Service("feed")), "")
	fd, err := feedsvc.Start(ctx, feedsvc.Config{Bus: feedBus, Verifier: v, DBPath: filepath.Join(t.TempDir(), "feed.db"),
		Consumer: access.Service("feed").Consumer()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = fd.Close(cctx)
	})

	// Before the cut: a real fix of ph's (a commit in ph's fork of an
	// upstream that ma forked too) reaches ma's site.
	up, phDir, maDir := forks(t)
	fp, err := gitfork.Fix(ctx, phDir, node.DefaultUpstreamRef, "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	fp.FixID = "ph-before-000000"
	phFixEvent, err := events.New(events.Source{Country: "ph", Service: "node"}, "mosip-id-repository", &fp)
	if err != nil {
		t.Fatal(err)
	}
	ph := attach(t, d.connect("site-ph", access.Country("ph")), "")
	if err := ph.Publisher(s["ph"]).PublishBatch(ctx, []event.Event{phFixEvent}); err != nil {
		t.Fatal(err)
	}
	maNC := d.connect("site-ma", access.Country("ma"))
	maJS, err := jetstream.New(maNC)
	if err != nil {
		t.Fatal(err)
	}
	bustest.Eventually(t, catchUp, "ph's fix at ma's site", func() bool { return count(t, maJS, bus.Stream, "dpi.ph.>") == 1 })

	// The cut.
	cutMark := map[string]int64{"site-ma": d.site["ma"].logSize()}
	for _, p := range d.hub {
		cutMark[p.name] = p.logSize()
	}
	ip(t, "-n", string(maNS), "link", "set", maEnd, "down")
	cut := time.Now()

	// Cut off, ma's node (the real one, with git and ma's fork) starts,
	// assesses the fix its site already had, and publishes its verdict.
	ma := attach(t, maNC, "")
	pub := ma.Publisher(s["ma"])
	// Its buckets are made by its site's admin (as dpihub serve --site
	// does), which answers at the site while the hub is out of reach.
	stopProvisioning, err := nodesvc.ServeProvisioning(attach(t, d.connect("site-ma", access.Admin), ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopProvisioning)
	maNode, err := nodesvc.Start(ctx, nodesvc.Config{Country: "ma", Bus: ma, Signer: s["ma"], Verifier: v,
		Forks:        []node.Fork{{Project: "mosip-id-repository", Upstream: "file://" + up, Dir: maDir, Branch: "main"}},
		PollInterval: -1, HeartbeatInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = maNode.Close(cctx)
	})
	bustest.Eventually(t, time.Minute, "ma's node assesses ph's fix while cut off", func() bool {
		return count(t, maJS, bus.Stream, "dpi.ma.fix.assessed.>") == 1
	})
	if got := assessedVerdicts(t, maJS); len(got) != 1 || got["ph-before-000000"] != events.VerdictApplies {
		t.Fatalf("ma's node assessed %v while cut off, want ph-before-000000: %s", got, events.VerdictApplies)
	}

	// And publishes 10,000 fixes, each acknowledged by its site.
	load := fixes(t, "ma", outage, "outage")
	if err := pub.PublishBatch(ctx, load); err != nil {
		t.Fatal(err)
	}
	if n := count(t, maJS, bus.Stream, "dpi.ma.fix.published.>"); n != outage {
		t.Fatalf("ma's site holds %d fixes of its own, want %d", n, outage)
	}
	if n := count(t, hubJS, bus.Stream, "dpi.ma.>"); n != 0 {
		t.Fatalf("the hub got %d of ma's events through a cut link", n)
	}
	// The link stays cut until both ends have dropped it (the pings
	// configured: about 30s), so that what follows is a reconnection and
	// the sources set themselves up again, not a TCP retransmission.
	bustest.Eventually(t, 2*time.Minute, "ma's site and the hub drop the leaf link", func() bool {
		hubDropped := false
		for _, p := range d.hub {
			hubDropped = hubDropped || p.loggedSince(cutMark[p.name], "Leafnode connection closed")
		}
		return hubDropped && d.site["ma"].loggedSince(cutMark["site-ma"], "Leafnode connection closed")
	})
	// And ma's server restarts while cut off (an upgrade, a power cut):
	// its stream and the hub's source's position must survive it.
	d.site["ma"].stop()
	d.site["ma"].start()
	bustest.Eventually(t, time.Minute, "ma's site holds its 10,000 fixes after its restart", func() bool {
		return count(t, maJS, bus.Stream, "dpi.ma.fix.published.>") == outage
	})
	t.Logf("cut for %s; 10,000 fixes and one assessment published at ma's site meanwhile, and its server restarted", time.Since(cut).Round(time.Millisecond))

	// The link returns.
	ip(t, "-n", string(maNS), "link", "set", maEnd, "up")
	back := time.Now()
	bustest.Eventually(t, catchUp+time.Minute, "ma's 10,000 fixes and its assessment in the hub's DPI", func() bool {
		return count(t, hubJS, bus.Stream, "dpi.ma.>") >= outage+1
	})
	t.Logf("the hub caught up %s after the link returned", time.Since(back).Round(time.Millisecond))

	want := map[string]bool{}
	for _, e := range load {
		want[bus.MsgID(e)] = true
	}
	got, subjects := ids(t, hubJS, bus.Stream)
	seen := map[string]int{}
	fixesAtHub, assessments := 0, 0
	for i, id := range got {
		seen[id]++
		switch {
		case want[id]:
			fixesAtHub++
		case subjects[i] == "dpi.ma.fix.assessed.mosip-id-repository":
			assessments++
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s is stored %d times in the hub's DPI", id, n)
		}
	}
	if fixesAtHub != outage || assessments != 1 {
		t.Errorf("the hub's DPI holds %d of the %d fixes and %d assessments (want 1), read by sequence", fixesAtHub, outage, assessments)
	}

	// And the feed, through its API: each of the 10,000 once.
	loadIDs := map[string]bool{}
	for _, e := range load {
		loadIDs[e.ID()] = true
	}
	var rows [][]string
	bustest.Eventually(t, 3*time.Minute, "the feed lists ma's 10,000 fixes", func() bool {
		rec := httptest.NewRecorder()
		fd.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/events.csv?country=ma&type="+events.TypeFixPublished, nil))
		if rec.Code != http.StatusOK {
			return false
		}
		rows, err = csv.NewReader(rec.Body).ReadAll()
		return err == nil && len(rows) >= outage+1
	})
	inFeed := map[string]int{}
	for _, r := range rows[1:] {
		if loadIDs[r[0]] {
			inFeed[r[0]]++
		}
	}
	if len(rows)-1 != outage || len(inFeed) != outage {
		t.Errorf("the feed lists %d fixes of ma's, %d of the %d distinct", len(rows)-1, len(inFeed), outage)
	}
}

// forks makes an upstream repository and two clones of it, ph's with a
// fix committed on main and ma's without it.
func forks(t *testing.T) (up, phDir, maDir string) {
	t.Helper()
	root := t.TempDir()
	git := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.org", "GIT_COMMITTER_NAME=t",
			"GIT_COMMITTER_EMAIL=t@example.org", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	var lines []string
	for i := range 40 {
		lines = append(lines, fmt.Sprintf("func step%d() { return %d }", i, i))
	}
	write := func(dir string, ls []string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "app.go"), []byte(strings.Join(ls, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	up = filepath.Join(root, "upstream")
	if err := os.Mkdir(up, 0o755); err != nil {
		t.Fatal(err)
	}
	git(up, "init", "-q", "-b", "main")
	write(up, lines)
	git(up, "add", ".")
	git(up, "commit", "-q", "-m", "upstream")
	phDir, maDir = filepath.Join(root, "ph"), filepath.Join(root, "ma")
	git(root, "clone", "-q", up, phDir)
	git(root, "clone", "-q", up, maDir)
	fixed := slices.Clone(lines)
	fixed[20] = "func step20() { return 2000 }"
	write(phDir, fixed)
	git(phDir, "commit", "-q", "-am", "Return the right value from step20")
	return up, phDir, maDir
}

// assessedVerdicts reads the fix.assessed events of js's DPI: verdict by
// fix id.
func assessedVerdicts(t *testing.T, js jetstream.JetStream) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range bustest.Messages(t, js, bus.Stream) {
		if !strings.HasPrefix(m.Subject, "dpi.ma.fix.assessed.") {
			continue
		}
		e, err := bus.Decode(m.Header, m.Data)
		if err != nil {
			t.Fatal(err)
		}
		p, err := events.DecodeValue(e)
		if err != nil {
			t.Fatal(err)
		}
		if a, ok := p.(events.FixAssessed); ok {
			out[a.FixID] = a.Verdict
		}
	}
	return out
}
