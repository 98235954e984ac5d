// Package demo plays the dpihub story on a throw-away embedded hub: three
// countries publish signed events, each country's node receives the
// others', and a forged event is refused and dead-lettered with its reason.
package demo

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"go.uber.org/zap"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/services/hub"
)

// Config configures Run.
type Config struct {
	Out      io.Writer   // the story (default stdout)
	HTTPAddr string      // coordinator HTTP (default 127.0.0.1:8080)
	NATSPort int         // default -1: any free port
	DataDir  string      // default: a temp dir removed at the end
	Exit     bool        // return after the story instead of serving until ctx ends
	Logger   *zap.Logger // nil: quiet
}

// Countries of the demo.
var Countries = []struct{ Code, Name string }{{"ma", "Morocco"}, {"ph", "the Philippines"}, {"lk", "Sri Lanka"}}

const project = "mosip-id-repository"

// Result is what the demo observed, for tests.
type Result struct {
	Received    map[string][]string // country -> "type from cc" lines its node handled
	DeadLetters []bus.DeadLetter
	NATSURL     string
	HTTPAddr    string
}

// Run plays the story and, unless cfg.Exit, serves until ctx is cancelled.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	if cfg.NATSPort == 0 {
		cfg.NATSPort = -1
	}
	if cfg.DataDir == "" {
		dir, err := os.MkdirTemp("", "dpihub-demo-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		cfg.DataDir = dir
	}
	out := &printer{w: cfg.Out}
	h, err := hub.Start(ctx, hub.Config{DataDir: cfg.DataDir, ServerName: "dpihub-demo", NATSPort: cfg.NATSPort, HTTPAddr: cfg.HTTPAddr, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		h.Close(sctx)
	}()
	res := &Result{Received: map[string][]string{}, NATSURL: h.NATSURL(), HTTPAddr: h.HTTPAddr}
	out.f("dpihub demo: embedded NATS with JetStream at %s, data in %s\n\n", h.NATSURL(), cfg.DataDir)

	// Every country has its own ed25519 key; one trust list names them all.
	trust := &sign.TrustList{}
	signers := map[string]*sign.Signer{}
	for _, c := range Countries {
		k, err := sign.GenerateKey(c.Code)
		if err != nil {
			return nil, err
		}
		trust.Add(sign.Trusted(k, time.Now().Add(-time.Hour), time.Time{}))
		if signers[c.Code], err = sign.NewSigner(k); err != nil {
			return nil, err
		}
		out.f("  %s  %-16s signs with key %s\n", c.Code, c.Name, k.KeyID)
	}
	verifier, err := sign.NewVerifier(trust) // one per process: each event is verified once
	if err != nil {
		return nil, err
	}

	// Each country's node consumes every other country's events.
	var mu sync.Mutex
	handled := 0
	for _, c := range Countries {
		cc := c.Code
		cons, err := h.Bus.Consume(ctx, bus.ConsumerConfig{Name: "node-" + cc, Verifier: verifier},
			func(_ context.Context, e event.Event) error {
				from, _ := e.Extensions()[events.ExtCountry].(string)
				if from == cc {
					mu.Lock()
					handled++
					mu.Unlock()
					return nil
				}
				line := fmt.Sprintf("%s from %s", shortType(e.Type()), from)
				mu.Lock()
				res.Received[cc] = append(res.Received[cc], line)
				handled++
				mu.Unlock()
				out.f("  [%s node] received %-22s from %s: %s\n", cc, shortType(e.Type()), from, events.Describe(e))
				return nil
			})
		if err != nil {
			return nil, err
		}
		h.OnClose(func(context.Context) { cons.Stop() })
	}

	// The story.
	fix := mustSample[events.FixPublished](events.TypeFixPublished)
	steps := []struct {
		cc, say string
		p       events.Payload
	}{
		{"ma", "Morocco publishes a fix it made in its MOSIP fork", &fix},
		{"ph", "the Philippines' node finds that the fix applies to its fork", &events.FixAssessed{FixID: fix.FixID, PatchID: fix.PatchID, Verdict: events.VerdictApplies, Branch: "release-1.2.0-ph", Head: "3f1c0a9d2b7e4c6a8f0e1d2c3b4a59687766554a"}},
		{"lk", "Sri Lanka's node finds it already cherry-picked it", &events.FixAssessed{FixID: fix.FixID, PatchID: fix.PatchID, Verdict: events.VerdictPresent, PresentAs: "9a8b7c6d5e4f30211f0e9d8c7b6a594837261504", How: "patch-id", Branch: "release-1.2.0-lk", Head: "0b1c2d3e4f5061728394a5b6c7d8e9f00112233a"}},
		{"lk", "Sri Lanka proposes a roadmap item upstream", &events.ProposalSubmitted{ProposalID: "lk-2026-07", Title: "Offline biometric authentication for rural enrolment centres", Body: "Enrolment centres with intermittent links need local 1:1 matching."}},
		{"ma", "Morocco endorses it", &events.ProposalEndorsed{ProposalID: "lk-2026-07", Comment: "Same need in the Atlas regions."}},
		{"ph", "the Philippines endorses it", &events.ProposalEndorsed{ProposalID: "lk-2026-07"}},
	}
	out.f("\nThe story:\n")
	published := 0
	for _, s := range steps {
		e, err := events.New(events.Source{Country: s.cc, Service: "node"}, project, s.p)
		if err != nil {
			return nil, err
		}
		if _, err := h.Bus.Publisher(signers[s.cc]).Publish(ctx, e); err != nil {
			return nil, err
		}
		published++
		out.f("\n* %s (%s, signed by %s)\n", s.say, shortType(e.Type()), s.cc)
		want := published * len(Countries)
		if err := waitFor(ctx, 10*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return handled >= want }); err != nil {
			return nil, fmt.Errorf("nodes did not receive %q: %w", s.say, err)
		}
	}

	// A forger with a key of its own claims to be Morocco.
	out.f("\n* someone without Morocco's key publishes a fix claiming to come from Morocco\n")
	rogue, _ := sign.GenerateKey("ma")
	forger, _ := sign.NewSigner(rogue)
	forged, err := events.New(events.Source{Country: "ma", Service: "node"}, project,
		&events.FixPublished{FixID: "ma-evil-1", Title: "Disable OTP rate limiting", Author: events.Person{Name: "Mallory"},
			Commit: strings.Repeat("e", 40), UpstreamBase: strings.Repeat("b", 40), PatchID: strings.Repeat("d", 40),
			Files: []string{"auth/OtpRateLimiter.java"}, Diff: "--- a/x\n+++ b/x\n"})
	if err != nil {
		return nil, err
	}
	if _, err := h.Bus.Publisher(forger).Publish(ctx, forged); err != nil {
		return nil, err
	}
	if err := waitFor(ctx, 10*time.Second, func() bool { return len(deadLetters(ctx, h)) >= len(Countries) }); err != nil {
		return nil, fmt.Errorf("forged event not dead-lettered: %w", err)
	}
	res.DeadLetters = deadLetters(ctx, h)
	for _, dl := range res.DeadLetters {
		out.f("  [%s] refused it, reason %s (%s)\n", dl.Consumer, dl.Reason, dl.Detail)
	}
	out.f("\nNo node acted on the forged event; it sits in the dead-letter stream %s with its reason.\n", bus.DLQStream)
	out.f("\nWhat each node received from the others:\n")
	cs := make([]string, 0, len(res.Received))
	for cc := range res.Received {
		cs = append(cs, cc)
	}
	sort.Strings(cs)
	for _, cc := range cs {
		out.f("  %s: %s\n", cc, strings.Join(res.Received[cc], "; "))
	}
	if cfg.Exit {
		return res, nil
	}
	out.f("\nThe hub keeps running:\n  health   http://%s/healthz\n  metrics  http://%s/metrics\n  events   dpihub tail --server %s --all\n  refused  dpihub tail --server %s --dlq --all\nPress Ctrl-C to stop.\n",
		h.HTTPAddr, h.HTTPAddr, h.NATSURL(), h.NATSURL())
	<-ctx.Done()
	out.f("\nstopping\n")
	return res, nil
}

func mustSample[T events.Payload](typ string) T {
	p, ok := events.Sample(typ)
	if !ok {
		panic("no sample for " + typ)
	}
	return p.(T)
}

func deadLetters(ctx context.Context, h *hub.Hub) []bus.DeadLetter {
	dls, err := bus.ReadDeadLetters(ctx, h.JS)
	if err != nil {
		return nil
	}
	return dls
}

func waitFor(ctx context.Context, d time.Duration, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

func shortType(t string) string {
	return strings.TrimSuffix(strings.TrimPrefix(t, "org.dpihub."), ".v1")
}

type printer struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *printer) f(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format, args...)
}
