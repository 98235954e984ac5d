package deploy_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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

// deployBusConfig is the streams' configuration in the tests: the
// defaults.
var deployBusConfig = bus.Config{}

// catchUp is how long a source may take to catch up once its origin is
// reachable again: its retries back off up to two minutes.
const catchUp = 150 * time.Second

// loopback starts a deployment of a three-member hub and a site per
// country, every server on 127.0.0.1 on free ports, from the
// configurations deploy.Write wrote, and sets up its streams.
func loopback(t *testing.T, countries ...string) *deployment {
	t.Helper()
	bin := natsServer(t)
	dir := t.TempDir()
	if keep := os.Getenv("DPIHUB_TEST_KEEP"); keep != "" {
		// To read the servers' logs after a failure.
		dir = filepath.Join(keep, t.Name())
		_ = os.RemoveAll(dir)
	}
	var plan deploy.Plan
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("hub-%d", i)
		plan.Hub = append(plan.Hub, deploy.Member{Name: name, Host: "127.0.0.1", Listen: "127.0.0.1",
			Client: freePort(t), Cluster: freePort(t), Leaf: freePort(t), Store: filepath.Join(dir, "data", name)})
	}
	for _, cc := range countries {
		if err := plan.AddSite(deploy.Site{Country: cc, Host: "127.0.0.1", Listen: "127.0.0.1", Client: freePort(t),
			Store: filepath.Join(dir, "data", "site-"+cc)}); err != nil {
			t.Fatal(err)
		}
	}
	d := start(t, bin, dir, plan, nil, nil)
	d.applyStreams()
	return d
}

// start writes the deployment directory for plan and starts its servers
// but those named in skip, each in the namespace ns names for it (if
// any). The test's clients reach a server through its dialer, if it has
// one. The streams are not set up yet: applyStreams.
func start(t *testing.T, bin, dir string, plan deploy.Plan, ns map[string]string, dialers map[string]nats.CustomDialer, skip ...string) *deployment {
	t.Helper()
	if err := deploy.Write(dir, plan); err != nil {
		t.Fatal(err)
	}
	if plan.Dir == "" {
		plan.Dir = dir
	}
	d := &deployment{t: t, dir: dir, plan: plan, site: map[string]*proc{}, dialer: dialers}
	for _, m := range plan.Hub {
		d.hub = append(d.hub, startProc(t, bin, dir, m.Name, ns[m.Name]))
	}
	for _, s := range plan.Sites {
		if !slices.Contains(skip, s.Name) {
			d.site[s.Country] = startProc(t, bin, dir, s.Name, ns[s.Name])
		}
	}
	return d
}

// fixes are n signed fix.published events of cc, ids unique.
func fixes(t testing.TB, cc string, n int, tag string) []event.Event {
	t.Helper()
	p, ok := events.Sample(events.TypeFixPublished)
	if !ok {
		t.Fatal("no sample fix.published")
	}
	base, ok := p.(events.FixPublished)
	if !ok {
		t.Fatalf("sample fix.published is a %T", p)
	}
	out := make([]event.Event, n)
	for i := range out {
		f := base
		f.FixID = fmt.Sprintf("%s-%s-%06d", cc, tag, i)
		e, err := events.New(events.Source{Country: cc, Service: "node"}, "mosip-id-repository", &f)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = e
	}
	return out
}

// attach is the bus of a connection, on the streams already there.
func attach(t testing.TB, nc *nats.Conn, domain string) *bus.Bus {
	t.Helper()
	var js jetstream.JetStream
	var err error
	if domain == "" {
		js, err = jetstream.New(nc)
	} else {
		js, err = jetstream.NewWithDomain(nc, domain)
	}
	if err != nil {
		t.Fatal(err)
	}
	b, err := bus.Open(context.Background(), js, bus.Config{Attach: true})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// bySubject counts the messages of stream on js per subject filter,
// reading the stream's state (by sequence, never by a fetch loop).
func count(t testing.TB, js jetstream.JetStream, stream, filter string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return 0
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return 0
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n
}

// ids reads every message of stream on js by sequence, from the first to
// the last, and returns the Nats-Msg-Id of each with its subject.
func ids(t testing.TB, js jetstream.JetStream, stream string) (msgIDs []string, subjects []string) {
	t.Helper()
	for _, m := range bustest.Messages(t, js, stream) {
		msgIDs = append(msgIDs, m.Header.Get(jetstream.MsgIDHeader))
		subjects = append(subjects, m.Subject)
	}
	return msgIDs, subjects
}

func jsOf(t testing.TB, nc *nats.Conn, domain string) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.NewWithDomain(nc, domain)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func signers(t testing.TB, codes ...string) (map[string]*sign.Signer, *sign.TrustList) {
	t.Helper()
	cs, tl := bustest.Countries(t, codes...)
	out := map[string]*sign.Signer{}
	for cc, c := range cs {
		out[cc] = c.Signer
	}
	return out, tl
}

func TestASiteEventsReachTheHubOnceAndTheOtherSites(t *testing.T) {
	d := loopback(t, "ma", "ph", "lk")
	ctx := context.Background()
	s, _ := signers(t, "ma", "ph", events.HubCountry)

	ma := attach(t, d.connect("site-ma", access.Country("ma")), "")
	if err := ma.Publisher(s["ma"]).PublishBatch(ctx, fixes(t, "ma", 50, "first")); err != nil {
		t.Fatal(err)
	}
	hubJS := jsOf(t, d.connectHub(access.Observer), access.HubDomain)
	bustest.Eventually(t, catchUp, "ma's 50 fixes in the hub's DPI", func() bool {
		return count(t, hubJS, bus.Stream, deploy.Own("ma")) == 50
	})
	phJS := jsOf(t, d.connect("site-ph", access.Observer), "ph")
	bustest.Eventually(t, catchUp, "ma's 50 fixes at ph's site", func() bool {
		return count(t, phJS, bus.Stream, deploy.Own("ma")) == 50
	})
	lkJS := jsOf(t, d.connect("site-lk", access.Observer), "lk")
	bustest.Eventually(t, catchUp, "ma's 50 fixes at lk's site", func() bool {
		return count(t, lkJS, bus.Stream, deploy.Own("ma")) == 50
	})
	maJS := jsOf(t, d.connect("site-ma", access.Observer), "ma")
	if n := count(t, maJS, bus.Stream, ">"); n != 50 {
		t.Errorf("ma's site holds %d events, want its own 50 and nothing back from the hub", n)
	}
	msgIDs, _ := ids(t, hubJS, bus.Stream)
	slices.Sort(msgIDs)
	if len(slices.Compact(msgIDs)) != 50 || len(msgIDs) != 50 {
		t.Errorf("the hub's DPI holds %d messages, want 50 distinct", len(msgIDs))
	}
}
