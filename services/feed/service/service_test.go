package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/access"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/services/feed"
	"github.com/dpihub/dpihub/services/feed/feedbus"
	"github.com/dpihub/dpihub/services/feed/feedhttp"
	"github.com/dpihub/dpihub/services/feed/feedhttp/feedtest"
	"github.com/dpihub/dpihub/services/feed/service"
)

// world is a real embedded NATS with the story's countries and a running
// feed service on a loopback port. The feed connects as the hub service
// "feed" and runs the consumer that identity owns, as a feed apart from
// the hub does; events are published on the hub's connection. Options
// change the feed's Config.
type world struct {
	bus      *bus.Bus
	verifier *sign.Verifier
	pubs     map[string]*bus.Publisher
	svc      *service.Service
	url      string
	steps    []feedtest.Step
}

func newWorld(t *testing.T, opts ...func(*service.Config)) *world {
	t.Helper()
	srv := bustest.Server(t, "")
	_, js := bustest.Connect(t, srv)
	b := bustest.Open(t, js)
	cs, tl := bustest.Countries(t, "ma", "ph", "lk", "ke", events.HubCountry)
	v, err := sign.NewVerifier(tl)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	feedID := access.Service("feed")
	_, fjs := bustest.ConnectAs(t, srv, feedID)
	fb, err := bus.Open(ctx, fjs, bus.Config{Attach: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg := service.Config{
		Bus: fb, Verifier: v, DBPath: filepath.Join(t.TempDir(), "feed.db"), Consumer: feedID.Consumer(),
		HTTPAddr: "127.0.0.1:0", Registerer: prometheus.NewRegistry(),
	}
	for _, o := range opts {
		o(&cfg)
	}
	svc, err := service.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := svc.Close(sctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	steps, err := feedtest.Story(time.Now().Add(-3 * time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	w := &world{bus: b, verifier: v, pubs: map[string]*bus.Publisher{}, svc: svc, url: "http://" + svc.Addr(), steps: steps}
	for cc, c := range cs {
		w.pubs[cc] = b.Publisher(c.Signer)
	}
	return w
}

// publish signs and publishes steps through the bus, as nodes do.
func (w *world) publish(t *testing.T, steps []feedtest.Step) {
	t.Helper()
	for _, s := range steps {
		cc, _ := s.Event.Extensions()[events.ExtCountry].(string)
		if _, err := w.pubs[cc].Publish(context.Background(), s.Event); err != nil {
			t.Fatalf("publish %s: %v", s.Event.Type(), err)
		}
	}
}

// waitApplied waits until the feed has applied n events.
func (w *world) waitApplied(t *testing.T, n uint64) {
	t.Helper()
	bustest.Eventually(t, 15*time.Second, "the feed applies the published events", func() bool {
		seq, err := w.svc.Store().LastSeq(context.Background())
		return err == nil && seq >= n
	})
}

func TestPublishedEventsReachTheFeedAPI(t *testing.T) {
	w := newWorld(t)
	w.publish(t, w.steps)
	w.waitApplied(t, uint64(len(w.steps)))
	res, err := http.Get(w.url + "/api/v1/fixes/ma-fix-0042")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("fix: %s", res.Status)
	}
	res, err = http.Get(w.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("metrics: %s", res.Status)
	}
}

// The feed shows what the Governance of its Config says of each proposal,
// and nothing of the kind without one.
func TestConfigGovernanceReachesTheProposalsAPI(t *testing.T) {
	outlooks := func(w *world) map[string]*feed.Outlook {
		t.Helper()
		w.publish(t, w.steps)
		w.waitApplied(t, uint64(len(w.steps)))
		res, err := http.Get(w.url + "/api/v1/proposals")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var ps []feed.Proposal
		if err := json.NewDecoder(res.Body).Decode(&ps); err != nil {
			t.Fatal(err)
		}
		out := map[string]*feed.Outlook{}
		for _, p := range ps {
			out[p.ID] = p.Outlook
		}
		return out
	}
	with := outlooks(newWorld(t, func(c *service.Config) { c.Governance = feedtest.BoardGovernance() }))
	if o := with["lk-2026-07"]; o == nil || o.Rules != feedtest.ProjectRules || o.Deadline.IsZero() {
		t.Fatalf("with a governance, lk-2026-07's outlook is %+v", o)
	}
	without := outlooks(newWorld(t))
	if len(without) != 2 || without["lk-2026-07"] != nil || without["ma-prop-0007"] != nil {
		t.Fatalf("without a governance, outlooks %v", without)
	}
}

// TestBrowserShowsAnEventPublishedWhileThePageIsOpen goes end to end: a
// country signs and publishes on real JetStream, the feed's projector
// verifies and applies it, the broadcaster wakes the page's stream, and
// the open page shows the event without a reload.
func TestBrowserShowsAnEventPublishedWhileThePageIsOpen(t *testing.T) {
	ctx := feedtest.Browser(t)
	w := newWorld(t)
	last := len(w.steps) - 1
	w.publish(t, w.steps[:last])
	w.waitApplied(t, uint64(last))

	if err := chromedp.Do(ctx,
		chromedp.Navigate(w.url+"/"),
		chromedp.WaitVisible(chromedp.CSS("#events li.event")),
		chromedp.Evaluate[chromedp.Void](`window.__sameDocument = true`),
	); err != nil {
		t.Fatal(err)
	}
	feedtest.WaitJS(t, ctx, "the page's live stream is connected", `document.querySelector("#live-status").dataset.state === "on"`)
	before := feedtest.JS[int](t, ctx, `document.querySelectorAll("#events li.event").length`)
	if before != last {
		t.Fatalf("page lists %d events, want %d", before, last)
	}
	bustestWaitSubscribed(t, w)

	// A new assessment arrives while the page is open.
	fresh, err := events.New(events.Source{Country: "ke", Service: "node"}, feedtest.Project,
		&events.FixAssessed{FixID: "lk-fix-0107", PatchID: "8e41c2a9b07d3f5e6c1a2b3d4e5f60718293a4b5", Verdict: events.VerdictApplies, Branch: "ke-main", Head: "77aa0c3e5b19d2f4e6a8c0b2d4f6a8c0e2b4d6f8"})
	if err != nil {
		t.Fatal(err)
	}
	w.publish(t, []feedtest.Step{{Event: fresh}})

	feedtest.WaitJS(t, ctx, "the new event appears at the top of the list",
		`(document.querySelector("#events li.event .event-summary") || {}).textContent === "fix lk-fix-0107: applies" &&
		 document.querySelector("#events li.event").classList.contains("is-new")`)
	if !feedtest.JS[bool](t, ctx, `window.__sameDocument === true`) {
		t.Fatal("the page was reloaded")
	}
	if n := feedtest.JS[int](t, ctx, `document.querySelectorAll("#events li.event").length`); n != before+1 {
		t.Fatalf("page lists %d events, want %d", n, before+1)
	}
	if cc := feedtest.JS[string](t, ctx, `document.querySelector("#events li.event .cc").textContent`); cc != "KE" {
		t.Fatalf("new event's country %q", cc)
	}
	link := feedtest.JS[string](t, ctx, `document.querySelector("#events li.event .event-summary a").getAttribute("href")`)
	if link != "/fixes/lk-fix-0107" {
		t.Fatalf("new event links to %q", link)
	}
}

func TestRunStopsOnCancelEvenWithAnOpenStream(t *testing.T) {
	srv := bustest.Server(t, "")
	_, js := bustest.Connect(t, srv)
	b := bustest.Open(t, js)
	_, tl := bustest.Countries(t, "ma")
	v, _ := sign.NewVerifier(tl)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	cfg := service.Config{Bus: b, Verifier: v, DBPath: filepath.Join(t.TempDir(), "feed.db"), HTTPAddr: "127.0.0.1:0"}
	// Start, not Run, so the test knows the port; Close is what Run calls.
	svc, err := service.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.Get("http://" + svc.Addr() + "/api/v1/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	go func() {
		sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
		defer c()
		done <- svc.Close(sctx)
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("close: %v", err)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("Close waits for the open stream")
	}

	// Run itself returns nil when its context ends.
	rctx, rcancel := context.WithCancel(context.Background())
	cfg.DBPath = filepath.Join(t.TempDir(), "feed2.db")
	go func() { done <- service.Run(rctx, cfg) }()
	rcancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v, want nil: a cancelled feed stops cleanly", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run does not return after cancel")
	}
}

func bustestWaitSubscribed(t *testing.T, w *world) {
	t.Helper()
	bustest.Eventually(t, 10*time.Second, "the page's stream subscribes", func() bool { return w.svc.Broadcaster().Subscribers() >= 1 })
}

// TestCancellingTheStartIsACleanStop: a feed whose ctx is cancelled while
// it starts, at whatever moment, stops as if it had run: Run returns nil,
// Start returns a running feed or an error that is context.Canceled, and
// afterwards nothing listens on the port or holds the database.
func TestCancellingTheStartIsACleanStop(t *testing.T) {
	w := newWorld(t)
	w.publish(t, w.steps)           // work in hand for a projector that started
	reg := prometheus.NewRegistry() // each start registers its metrics again
	config := func(t *testing.T) service.Config {
		return service.Config{
			Bus: w.bus, Verifier: w.verifier, DBPath: filepath.Join(t.TempDir(), "feed.db"),
			Listener: bustest.Listen(t), Registerer: reg,
		}
	}
	// cancelled returns a context cancelled after d; before it is
	// returned when d is negative.
	cancelled := func(t *testing.T, d time.Duration) context.Context {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		if d < 0 {
			cancel()
		} else {
			time.AfterFunc(d, cancel)
		}
		return ctx
	}
	// nothingLeft: the feed let go of its listener (asked of the listener:
	// on a busy machine another process may already listen on a freed
	// port) and of its database files.
	nothingLeft := func(t *testing.T, cfg service.Config) {
		t.Helper()
		if !cfg.Listener.(*bustest.Listener).Closed() {
			t.Fatalf("the feed did not close its listener on %s", cfg.Listener.Addr())
		}
		if n, ok := openFiles(cfg.DBPath); ok && n > 0 {
			t.Fatalf("the database is still open: %d files of %s", n, filepath.Base(cfg.DBPath))
		}
	}
	delays := []time.Duration{-1, 0, 50 * time.Microsecond, 200 * time.Microsecond, 500 * time.Microsecond,
		time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond,
		20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond}
	name := func(d time.Duration) string {
		if d < 0 {
			return "before it starts"
		}
		return "after " + d.String()
	}
	for _, d := range delays {
		t.Run("Run returns nil when cancelled "+name(d), func(t *testing.T) {
			cfg := config(t)
			done := make(chan error, 1)
			go func() { done <- service.Run(cancelled(t, d), cfg) }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Run: %v, want nil", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("Run does not return after cancel")
			}
			nothingLeft(t, cfg)
		})
		t.Run("Start stops what it started when cancelled "+name(d), func(t *testing.T) {
			cfg := config(t)
			svc, err := service.Start(cancelled(t, d), cfg)
			switch {
			case err == nil && d < 0:
				t.Fatal("Start with a cancelled ctx returned a running feed")
			case err == nil:
				sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if err := svc.Close(sctx); err != nil {
					t.Fatalf("close: %v", err)
				}
			case !errors.Is(err, context.Canceled):
				t.Fatalf("Start: %v, want an error that is context.Canceled", err)
			}
			nothingLeft(t, cfg)
		})
	}
	// A feed started on a file that a cancelled start left gets every
	// event: the cut-short start broke nothing.
	t.Run("a feed started afterwards on the same file gets every event", func(t *testing.T) {
		cfg := config(t)
		if err := service.Run(cancelled(t, 2*time.Millisecond), cfg); err != nil {
			t.Fatal(err)
		}
		svc, _ := w.startFeed(t, cfg.DBPath)
		waitAll(t, svc, len(w.steps))
	})
}

// openFiles counts the files this process holds open whose path starts
// with prefix (a database, its -wal and -shm); ok is false where the
// system does not say (no /proc/self/fd).
func openFiles(prefix string) (n int, ok bool) {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, false
	}
	for _, fd := range fds {
		if l, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n, true
}

// TestALiveBatchFitsInAStreamsBuffer: the fan-out hands each live stream
// a whole applied batch at once, so a projector batch larger than a
// stream's buffer would drop every stream that reads, at every full batch.
func TestALiveBatchFitsInAStreamsBuffer(t *testing.T) {
	if feedbus.DefaultBatchSize > feedhttp.DefaultStreamBuffer {
		t.Fatalf("feedbus.DefaultBatchSize %d > feedhttp.DefaultStreamBuffer %d", feedbus.DefaultBatchSize, feedhttp.DefaultStreamBuffer)
	}
}
