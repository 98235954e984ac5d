// Package service runs the proposals service: the Governor rebuilt from
// the stream and fed live (propbus), the loop that publishes its
// decisions, the webhook deliveries to upstream maintainers, and the HTTP
// API (prophttp). dpihub serve and the demo run it inside the hub.
package service

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/services/proposals"
	"github.com/dpihub/dpihub/services/proposals/governance"
	"github.com/dpihub/dpihub/services/proposals/propbus"
	"github.com/dpihub/dpihub/services/proposals/prophttp"
	"github.com/dpihub/dpihub/services/proposals/webhook"
)

// Config configures Start. Bus, Verifier and Signer are required.
type Config struct {
	Bus      *bus.Bus
	Verifier *sign.Verifier
	// Signer signs the decisions: a key of the trust list's country hub.
	Signer *sign.Signer
	// Rules are the projects' rules (nil: governance.Defaults).
	Rules *governance.RuleBook
	// AdminToken may act for every project (the hub operator's); empty:
	// only maintainers' tokens from the rules.
	AdminToken string
	// DecideEvery is how often the timed rules are looked at (default
	// 30s); every event applied is looked at at once too.
	DecideEvery time.Duration
	// Webhooks configures the deliveries to maintainers' webhooks
	// (package webhook); nil: no webhooks, the subscription endpoints
	// answer 404.
	Webhooks *webhook.Config
	Now      func() time.Time // nil: time.Now
	Logger   *zap.Logger      // nil: no logs
	// Registerer receives the service's metrics (nil: none).
	Registerer prometheus.Registerer
}

// Service is the running proposals service.
type Service struct {
	gov      *proposals.Governor
	hooks    *webhook.Dispatcher
	cons     *propbus.Consumer
	handler  *prophttp.Handler
	log      *zap.Logger
	kick     chan struct{}
	cancel   context.CancelFunc
	done     chan struct{}
	closeErr error
	once     sync.Once
}

// Start rebuilds the board from the stream and starts the service. A
// cancelled ctx stops whatever was started.
func Start(ctx context.Context, cfg Config) (*Service, error) {
	switch {
	case cfg.Bus == nil || cfg.Verifier == nil || cfg.Signer == nil:
		return nil, errors.New("proposals: Bus, Verifier and Signer are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.DecideEvery <= 0 {
		cfg.DecideEvery = 30 * time.Second
	}
	pub, err := propbus.NewPublisher(cfg.Bus, cfg.Signer)
	if err != nil {
		return nil, err
	}
	var admin []byte
	if cfg.AdminToken != "" {
		sum := sha256.Sum256([]byte(cfg.AdminToken))
		admin = sum[:]
	}
	gov := proposals.New(proposals.Config{Rules: cfg.Rules, Publisher: pub, Now: cfg.Now, Logger: cfg.Logger, AdminTokenSHA256: admin})
	s := &Service{gov: gov, log: cfg.Logger, kick: make(chan struct{}, 1), done: make(chan struct{})}
	s.cons, err = propbus.Start(ctx, propbus.Config{Bus: cfg.Bus, Verifier: cfg.Verifier, Governor: gov, Logger: cfg.Logger, Decided: s.Kick})
	if err != nil {
		return nil, fmt.Errorf("proposals: %w", err)
	}
	var subs prophttp.Subscriptions
	if cfg.Webhooks != nil {
		wc := *cfg.Webhooks
		if wc.Logger == nil {
			wc.Logger = cfg.Logger.Named("webhook")
		}
		if wc.Registerer == nil {
			wc.Registerer = cfg.Registerer
		}
		if s.hooks, err = webhook.New(cfg.Bus, cfg.Verifier, wc); err == nil {
			err = s.hooks.Start(ctx)
		}
		if err != nil {
			s.cons.Stop()
			return nil, fmt.Errorf("proposals: webhooks: %w", err)
		}
		subs = webhooks{s.hooks}
	}
	s.handler = prophttp.New(prophttp.Config{Governor: gov, Subscriptions: subs, JetStream: cfg.Bus.JetStream(),
		Verifier: cfg.Verifier, Logger: cfg.Logger})
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	go s.decideLoop(lctx, cfg.DecideEvery)
	if ctx.Err() != nil {
		s.Close(context.Background())
		return nil, ctx.Err()
	}
	s.Kick()
	return s, nil
}

// Governor is the service's domain.
func (s *Service) Governor() *proposals.Governor { return s.gov }

// Handler serves the API (prophttp).
func (s *Service) Handler() http.Handler { return s.handler }

// Kick asks the service to look at the rules soon.
func (s *Service) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// decideLoop publishes the rules' decisions when kicked and every every,
// once the consumer has caught up with the stream.
func (s *Service) decideLoop(ctx context.Context, every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.kick:
		}
		ok, err := s.cons.CaughtUp(ctx)
		if err != nil || !ok {
			if err != nil && ctx.Err() == nil {
				s.log.Warn("proposals: is the board caught up?", zap.Error(err))
			}
			continue
		}
		if _, err := s.gov.Decide(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("proposals: publish a decision", zap.Error(err))
		}
	}
}

// Close stops the decisions and the consumer. It is idempotent.
func (s *Service) Close(ctx context.Context) error {
	s.once.Do(func() {
		s.cancel()
		select {
		case <-s.done:
		case <-ctx.Done():
			s.closeErr = ctx.Err()
		}
		s.cons.Stop()
		if s.hooks != nil {
			if err := s.hooks.Close(ctx); err != nil && s.closeErr == nil {
				s.closeErr = err
			}
		}
	})
	return s.closeErr
}

// Run runs the service until ctx ends, then closes it.
func Run(ctx context.Context, cfg Config) error {
	s, err := Start(ctx, cfg)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.Close(sctx)
}
