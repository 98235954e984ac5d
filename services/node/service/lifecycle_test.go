package service_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/services/node"
	"github.com/dpihub/dpihub/services/node/internal/gittest"
	"github.com/dpihub/dpihub/services/node/service"
)

// oneNode is the configuration of one country node with one fork, on a
// fresh embedded server.
func oneNode(t *testing.T) service.Config {
	t.Helper()
	srv := bustest.Server(t, "")
	_, js := bustest.Connect(t, srv)
	countries, tl := bustest.Countries(t, "ma")
	v, err := sign.NewVerifier(tl)
	if err != nil {
		t.Fatal(err)
	}
	g := gittest.New(t)
	up := g.Init()
	g.Commit(up, "initial", map[string]string{"ledger.txt": ledger})
	dir := g.Clone(up, "ma-main")
	return service.Config{
		Country: "ma", Bus: bustest.Open(t, js), Signer: countries["ma"].Signer, Verifier: v,
		Forks:        []node.Fork{{Project: project, Upstream: "file://" + up, Dir: dir, Branch: "ma-main"}},
		TokenFile:    filepath.Join(t.TempDir(), "node-ma.token"),
		Registerer:   prometheus.NewRegistry(),
		PollInterval: 10 * time.Millisecond,
	}
}

// nodeGoroutines lists the goroutines running the node's code: its
// consumer, its HTTP server, its poll.
func nodeGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, mark := range []string{
			"dpihub/services/node/service.(*Service)", "dpihub/services/node/service.Start",
			"dpihub/services/node/nodebus.", "dpihub/services/node.(*Node)",
			"dpihub/events/bus.(*Consumer)", "dpihub/events/bus.(*Bus).Consume",
			"net/http.(*Server).Serve", "net/http.(*conn).serve",
		} {
			if strings.Contains(g, mark) {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

// nothingLeft checks that no node goroutine runs and the node let go of
// its listener.
func nothingLeft(t *testing.T, ln *bustest.Listener) {
	t.Helper()
	if !ln.Closed() {
		t.Errorf("the node did not close its listener on %s", ln.Addr())
	}
	var left []string
	bustest.Eventually(t, 10*time.Second, "the node's goroutines end", func() bool {
		left = nodeGoroutines()
		return len(left) == 0
	})
	if len(left) > 0 {
		t.Errorf("goroutines left:\n%s", strings.Join(left, "\n\n"))
	}
}

func TestRunServesUntilCancelledThenStopsAndReturnsNil(t *testing.T) {
	cfg := oneNode(t)
	ln := bustest.Listen(t)
	cfg.Listener = ln
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- service.Run(ctx, cfg) }()
	bustest.Eventually(t, 20*time.Second, "the node answers /healthz", func() bool {
		resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v after a cancel, want nil", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return within 20s of the cancel")
	}
	nothingLeft(t, ln)
}

// cancelAfter cancels a context d after now: at once for 0.
func cancelAfter(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if d == 0 {
		cancel()
	} else {
		stop := time.AfterFunc(d, cancel)
		t.Cleanup(func() { stop.Stop() })
	}
	return ctx
}

// startUpMoments are delays that land a cancel at moments of start-up
// from before the first step to after the last, on a fast or a busy
// machine.
var startUpMoments = []time.Duration{
	0, 50 * time.Microsecond, 200 * time.Microsecond, time.Millisecond, 2 * time.Millisecond,
	5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond, time.Second,
}

func TestACancelAtAnyMomentOfStartUpIsACleanStop(t *testing.T) {
	cfg := oneNode(t)
	t.Run("Start says it was cancelled and leaves nothing running", func(t *testing.T) {
		for _, d := range startUpMoments {
			t.Run(fmt.Sprintf("cancelled after %v", d), func(t *testing.T) {
				cfg := cfg
				ln := bustest.Listen(t)
				cfg.Listener = ln
				s, err := service.Start(cancelAfter(t, d), cfg)
				switch {
				case err == nil:
					t.Log("the node started before the cancel; Close stops it")
					if err := s.Close(context.Background()); err != nil {
						t.Fatalf("Close: %v", err)
					}
				case !errors.Is(err, context.Canceled):
					t.Fatalf("Start: %v, want an error wrapping context.Canceled", err)
				case s != nil:
					t.Fatal("a failed Start returned a service")
				}
				nothingLeft(t, ln)
			})
		}
	})
	t.Run("Run returns nil and leaves nothing running", func(t *testing.T) {
		for _, d := range startUpMoments {
			t.Run(fmt.Sprintf("cancelled after %v", d), func(t *testing.T) {
				cfg := cfg
				ln := bustest.Listen(t)
				cfg.Listener = ln
				if err := service.Run(cancelAfter(t, d), cfg); err != nil {
					t.Fatalf("Run: %v, want nil", err)
				}
				nothingLeft(t, ln)
			})
		}
	})
	t.Run("a cancel from inside a step of Start", func(t *testing.T) {
		cfg := cfg
		ln := bustest.Listen(t)
		cfg.Listener = ln
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// The metrics are registered between opening the state and
		// registering the forks.
		cfg.Registerer = cancelOnRegister{Registry: prometheus.NewRegistry(), cancel: cancel}
		s, err := service.Start(ctx, cfg)
		if !errors.Is(err, context.Canceled) || s != nil {
			t.Fatalf("Start = %v, %v; want no service and an error wrapping context.Canceled", s, err)
		}
		nothingLeft(t, ln)
	})
}

// cancelOnRegister is a registry that cancels a context when a collector
// is registered.
type cancelOnRegister struct {
	*prometheus.Registry
	cancel context.CancelFunc
}

func (r cancelOnRegister) Register(c prometheus.Collector) error {
	r.cancel()
	return r.Registry.Register(c)
}

func TestStartRefusesAConfigurationItCannotRunAndClosesTheListener(t *testing.T) {
	cfg := oneNode(t)
	for name, mutate := range map[string]func(*service.Config){
		"without a bus":                    func(c *service.Config) { c.Bus = nil },
		"without a verifier":               func(c *service.Config) { c.Verifier = nil },
		"with a signer of another country": func(c *service.Config) { c.Country = "ph" },
		"with HTTP but no token file":      func(c *service.Config) { c.TokenFile = "" },
		"with a token file it cannot make": func(c *service.Config) { c.TokenFile = filepath.Join(t.TempDir(), "no", "dir", "x.token") },
		"with a fork it cannot read": func(c *service.Config) {
			c.Forks = []node.Fork{{Project: project, Upstream: "file:///u", Dir: t.TempDir(), Branch: "main"}}
		},
	} {
		t.Run(name, func(t *testing.T) {
			c := cfg
			mutate(&c)
			ln := bustest.Listen(t)
			c.Listener = ln
			if s, err := service.Start(context.Background(), c); err == nil || s != nil {
				t.Fatalf("Start = %v, %v; want an error", s, err)
			}
			nothingLeft(t, ln)
		})
	}
}
