// Package service runs the dedup service: the detector rebuilt from the
// stream at start and fed live, its findings published signed as
// urn:dpihub:hub:dedup, and its report on HTTP. dpihub serve and the demo
// run it inside the hub; several instances split the projects between
// them (Config.Projects).
package service

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"go.uber.org/zap"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/problem"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/services/dedup"
	"github.com/dpihub/dpihub/services/dedup/dedupbus"
)

// Config configures Start. Bus, Verifier and Signer are required.
type Config struct {
	Bus      *bus.Bus
	Verifier *sign.Verifier
	// Signer signs the findings: a key of the trust list's country hub.
	Signer *sign.Signer
	// Threshold is the similarity from which pairs are reported (0:
	// dedup.DefaultThreshold).
	Threshold float64
	// Projects this instance serves (none: all). Instances with disjoint
	// lists split the work; each has its own durable consumer.
	Projects []string
	Logger   *zap.Logger // nil: no logs
}

// Service is the running dedup service.
type Service struct {
	mu      sync.Mutex
	det     *dedup.Detector
	pub     *dedupbus.Publisher
	cons    *bus.Consumer
	log     *zap.Logger
	pending []dedup.Finding // findings whose publication failed: tried again
	cancel  context.CancelFunc
	done    chan struct{}
	once    sync.Once
	name    string
}

// ConsumerName is the durable consumer of an instance serving projects.
func ConsumerName(projects []string) string {
	if len(projects) == 0 {
		return "dedup"
	}
	p := append([]string(nil), projects...)
	sort.Strings(p)
	name := "dedup-" + strings.Join(p, "-")
	if len(name) > 64 {
		name = name[:64]
	}
	return name
}

// Start rebuilds the detector from the stream, up to where its consumer
// got, and starts consuming.
func Start(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Bus == nil || cfg.Verifier == nil || cfg.Signer == nil {
		return nil, errors.New("dedup: Bus, Verifier and Signer are required")
	}
	for _, p := range cfg.Projects {
		if !events.ValidProject(p) {
			return nil, fmt.Errorf("dedup: %q is not a project slug", p)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	pub, err := dedupbus.NewPublisher(cfg.Bus, cfg.Signer)
	if err != nil {
		return nil, err
	}
	s := &Service{det: dedup.New(cfg.Threshold), pub: pub, log: cfg.Logger, done: make(chan struct{}), name: ConsumerName(cfg.Projects)}
	subjects := dedupbus.Subjects(cfg.Projects)
	js := cfg.Bus.JetStream()
	floor, err := bus.AckFloor(ctx, js, s.name)
	if err != nil {
		return nil, fmt.Errorf("dedup: %w", err)
	}
	start := time.Now()
	n, err := bus.Replay(ctx, js, cfg.Verifier, subjects, floor, func(e event.Event, m bus.Message) {
		if in, err := dedupbus.Input(e, m); err == nil {
			_, _ = s.det.Apply(in) // findings of then were published then
		}
	})
	if err != nil {
		return nil, fmt.Errorf("dedup: %w", err)
	}
	cfg.Logger.Info("dedup index rebuilt from the stream", zap.Uint64("up_to_seq", floor), zap.Int("events", n), zap.Duration("took", time.Since(start)))
	s.cons, err = cfg.Bus.Consume(ctx, bus.ConsumerConfig{Name: s.name, Subjects: subjects, Verifier: cfg.Verifier,
		StartSeq: floor + 1, Workers: 1}, s.handle)
	if err != nil {
		return nil, fmt.Errorf("dedup: %w", err)
	}
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	go s.retryLoop(lctx)
	return s, nil
}

// handle applies one event and publishes what it finds.
func (s *Service) handle(ctx context.Context, e event.Event) error {
	m, _ := bus.MessageFrom(ctx)
	in, err := dedupbus.Input(e, m)
	if err != nil {
		return bus.Permanent(err)
	}
	s.mu.Lock()
	found, err := s.det.Apply(in)
	for _, f := range found {
		s.det.MarkReported(f.ID)
	}
	s.mu.Unlock()
	if err != nil {
		return bus.Permanent(err)
	}
	for _, f := range found {
		s.publish(ctx, f)
	}
	return nil
}

func (s *Service) publish(ctx context.Context, f dedup.Finding) {
	if err := s.pub.Publish(ctx, f); err != nil {
		s.log.Warn("dedup: publish a finding; will try again", zap.String("id", f.ID), zap.Error(err))
		s.mu.Lock()
		s.pending = append(s.pending, f)
		s.mu.Unlock()
		return
	}
	s.log.Info("duplicate found", zap.String("id", f.ID), zap.String("project", f.Project), zap.String("type", events.ShortType(f.Payload.EventType())))
}

// retryLoop publishes again the findings whose publication failed.
func (s *Service) retryLoop(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		todo := s.pending
		s.pending = nil
		s.mu.Unlock()
		for _, f := range todo {
			s.publish(ctx, f)
		}
	}
}

// Digest is the detector's digest (dedup.Detector.Digest): a service
// rebuilt from the stream has the same as the one that ran live.
func (s *Service) Digest() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.det.Digest()
}

// Report returns project p's clusters and upstream candidates.
func (s *Service) Report(p string) dedup.Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.det.Report(p)
}

// Handler serves GET /api/v1/dedup/projects and
// GET /api/v1/dedup/projects/{project}: the projects seen, and one
// project's report.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/dedup/projects", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		ps := s.det.Projects()
		s.mu.Unlock()
		problem.WriteJSON(w, http.StatusOK, map[string]any{"projects": ps})
	})
	mux.HandleFunc("GET /api/v1/dedup/projects/{project}", func(w http.ResponseWriter, r *http.Request) {
		p := r.PathValue("project")
		if !events.ValidProject(p) {
			problem.Error(w, r, s.log, events.Errorf(events.ErrBadInput, "%q is not a project slug", p))
			return
		}
		problem.WriteJSON(w, http.StatusOK, s.Report(p))
	})
	return mux
}

// Patterns are the routes of Handler, for a mux that mounts it beside
// others.
func Patterns() []string { return []string{"GET /api/v1/dedup/"} }

// Close stops the consumer and the retries. It is idempotent.
func (s *Service) Close(ctx context.Context) error {
	var err error
	s.once.Do(func() {
		s.cancel()
		select {
		case <-s.done:
		case <-ctx.Done():
			err = ctx.Err()
		}
		s.cons.Stop()
	})
	return err
}
