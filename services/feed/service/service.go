// Package service runs the whole feed, Run(ctx, Config): the SQLite
// projection, the live projector on the bus, and the HTTP API and web UI.
// The feed binary and the dpihub binary both call it.
package service

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/services/feed"
	"github.com/dpihub/dpihub/services/feed/feedbus"
	"github.com/dpihub/dpihub/services/feed/feedhttp"
	"github.com/dpihub/dpihub/services/feed/sqlite"
)

// Config configures Start and Run. Bus, Verifier and DBPath are required.
type Config struct {
	// Bus is the opened JetStream bus (bus.Open; Attach for a remote hub).
	Bus *bus.Bus
	// Verifier checks every event against the trust list.
	Verifier *sign.Verifier
	// DBPath is the SQLite file of the projection, e.g. "feed.db". The
	// durable consumer is named "feed-" and the database's id: each
	// database file has its own position on the stream, and two feeds
	// with their own files each get every event.
	DBPath string
	// Consumer names the durable consumer instead of "feed-<database
	// id>": a feed that connects with a hub service's credentials may run
	// only the consumer its identity owns (access.Identity.Consumer), so
	// each database needs an identity of its own (service:feed,
	// service:feed-2, ...).
	Consumer string
	// HTTPAddr is where the API and UI listen, e.g. "127.0.0.1:8080";
	// empty: no listener; mount Service.Handler on a mux of your own.
	HTTPAddr string
	// Listener, when set, serves the API and UI instead of listening on
	// HTTPAddr (tests and embedders pass one bound to port 0). The feed
	// closes it on Close, and when Start fails.
	Listener net.Listener
	// Logger (nil: no logs).
	Logger *zap.Logger
	// Governance, when set, is what the hub's proposals service says of
	// each proposal under its project's rules (feed.Outlook): the API
	// and the board show it. nil: the board shows no rules and no time
	// left.
	Governance feed.Governance
	// Registerer receives the feed's metrics; when it is also a
	// prometheus.Gatherer (a *prometheus.Registry) and HTTPAddr is set,
	// /metrics serves it. nil: not registered.
	Registerer prometheus.Registerer
}

// Service is a running feed.
type Service struct {
	store    *sqlite.Store
	bc       *feedhttp.Broadcaster
	cons     *feedbus.Projector
	handler  http.Handler
	srv      *http.Server
	ln       net.Listener
	addr     string
	log      *zap.Logger
	served   chan error
	stopHTTP context.CancelFunc // ends open streams, which never end by themselves
	once     sync.Once

	refusals     *feed.RefusalLog
	stopRefusals context.CancelFunc
	refusalsDone chan struct{}
}

// Start opens the store, starts the projector and, with HTTPAddr, the
// HTTP server; it returns once all run. Close stops them.
//
// When ctx ends before Start returns, Start stops what it had started,
// closes the store and returns an error that wraps ctx.Err(): nothing
// listens, consumes or holds the database afterwards. A ctx that ends
// after Start returned stops the projector; Close stops the rest.
func Start(ctx context.Context, cfg Config) (*Service, error) {
	switch {
	case cfg.Bus == nil:
		return nil, errors.New("feed: Config.Bus is required")
	case cfg.Verifier == nil:
		return nil, errors.New("feed: Config.Verifier is required: the feed never shows unverified events")
	case cfg.DBPath == "":
		return nil, errors.New("feed: Config.DBPath is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	s := &Service{bc: feedhttp.NewBroadcaster(), log: cfg.Logger.With(zap.String("service", "feed")), served: make(chan error, 1)}
	if err := s.start(ctx, cfg); err != nil {
		// Whichever step failed, a start that ctx cut short says so: the
		// caller asked for it, and Run then stops cleanly.
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w (%w)", cerr, err)
		}
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return nil, errors.Join(err, s.Close(cctx))
	}
	return s, nil
}

// start starts the parts in order; what it started is in s, for Close.
func (s *Service) start(ctx context.Context, cfg Config) error {
	s.ln = cfg.Listener // Close closes it, whatever step fails
	st, err := sqlite.Open(ctx, cfg.DBPath)
	if err != nil {
		return fmt.Errorf("feed: %w", err) // it names the file
	}
	s.store = st

	m, err := feedhttp.NewMetrics(cfg.Registerer)
	if err != nil {
		return fmt.Errorf("feed: %w", err)
	}
	// Refused events: read from DPI_DLQ as they come, for /refused. A
	// feed whose identity may not read the stream still runs; its page
	// says the log is empty, and the log says why.
	s.refusals = feed.NewRefusalLog()
	rctx, stop := context.WithCancel(context.Background())
	s.stopRefusals, s.refusalsDone = stop, make(chan struct{})
	go func() {
		defer close(s.refusalsDone)
		if err := feedbus.FollowRefusals(rctx, cfg.Bus.JetStream(), s.refusals); err != nil && rctx.Err() == nil {
			s.log.Warn("refused events are not followed", zap.Error(err))
		}
	}()
	opts := []feedhttp.Option{feedhttp.WithLogger(s.log), feedhttp.WithBroadcaster(s.bc), feedhttp.WithMetrics(m), feedhttp.WithRefusals(s.refusals)}
	if cfg.Governance != nil {
		opts = append(opts, feedhttp.WithGovernance(cfg.Governance))
	}
	if g, ok := cfg.Registerer.(prometheus.Gatherer); ok && (cfg.HTTPAddr != "" || cfg.Listener != nil) {
		opts = append(opts, feedhttp.WithGatherer(g))
	}
	s.handler = feedhttp.New(st, opts...)

	id, err := st.ID(ctx)
	if err != nil {
		return fmt.Errorf("feed: %w", err)
	}
	name := "feed-" + id
	if cfg.Consumer != "" {
		name = cfg.Consumer
	}
	// The projector applies to the store itself (in batches, which a
	// wrapper would hide) and tells the broadcaster of each batch once
	// it is committed, so that open streams and pages hear of each event
	// once a query can find it.
	s.cons, err = feedbus.Project(ctx, cfg.Bus, st, feedbus.Config{
		Name: name, Verifier: cfg.Verifier, Registerer: cfg.Registerer, Logger: s.log,
		Applied: func(rs []feed.Record) {
			for _, r := range rs {
				s.bc.Publish(feedhttp.EventOf(r.Event, r.Seq))
			}
		},
	})
	if err != nil {
		return fmt.Errorf("feed: %w", err)
	}

	if s.ln == nil && cfg.HTTPAddr != "" {
		if s.ln, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			return fmt.Errorf("feed: listen on %s: %w", cfg.HTTPAddr, err)
		}
	}
	if ln := s.ln; ln != nil {
		s.addr = ln.Addr().String()
		base, cancel := context.WithCancel(context.Background())
		s.stopHTTP = cancel
		s.srv = &http.Server{
			Handler:           s.handler,
			ReadHeaderTimeout: 10 * time.Second,
			BaseContext:       func(net.Listener) context.Context { return base },
			ConnContext:       feedhttp.ConnContext, // live streams bound their send buffers
		}
		go func() { s.served <- s.srv.Serve(ln) }()
	}
	// A step may not have noticed that ctx ended (a listen does not
	// look): a start cut short returns no running feed.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("feed: start: %w", err)
	}
	if s.addr != "" {
		s.log.Info("feed serves", zap.String("addr", s.addr))
	}
	s.log.Info("feed started", zap.String("db", cfg.DBPath), zap.String("consumer", name))
	return nil
}

// Handler is the feed's HTTP handler (API, Atom, CSV, SSE, UI), for a host
// that serves it on its own mux.
func (s *Service) Handler() http.Handler { return s.handler }

// Addr is the address the HTTP server listens on ("" without HTTPAddr):
// with port 0 in HTTPAddr, the port the system chose.
func (s *Service) Addr() string { return s.addr }

// Store is the projection the service keeps.
func (s *Service) Store() feed.Store { return s.store }

// Health reports whether the feed is current: false, with the reason,
// while the projector recovers from a stale consumer (its consumer or
// stream DPI deleted or made again, events lost from the stream) until
// it has caught up; false too before Start finished or after Close. A
// /healthz can answer 503 with the reason then.
func (s *Service) Health() (ok bool, reason string) {
	if s == nil || s.cons == nil {
		return false, "not running"
	}
	select {
	case <-s.cons.Done():
		return false, "the projector stopped"
	default:
	}
	return s.cons.Health()
}

// Broadcaster is what the projector announces applied events to.
func (s *Service) Broadcaster() *feedhttp.Broadcaster { return s.bc }

// Close stops the HTTP server (ending open streams; requests in flight
// get until ctx ends), then the projector, then closes the store. It
// stops only what runs, so Start uses it on a start cut short.
func (s *Service) Close(ctx context.Context) error {
	var err error
	s.once.Do(func() {
		if s.srv != nil {
			s.stopHTTP()
			if e := s.srv.Shutdown(ctx); e != nil {
				err = errors.Join(err, fmt.Errorf("feed: stop HTTP: %w", e))
			}
		}
		if s.ln != nil {
			// Shutdown closes the listener only once Serve has begun.
			s.ln.Close()
		}
		if s.cons != nil {
			s.cons.Stop()
		}
		if s.stopRefusals != nil {
			s.stopRefusals()
			<-s.refusalsDone
		}
		if s.store != nil {
			if e := s.store.Close(); e != nil {
				err = errors.Join(err, fmt.Errorf("feed: close store: %w", e))
			}
		}
		s.log.Info("feed stopped")
	})
	return err
}

// Run runs the feed until ctx is cancelled, then stops it and returns
// nil; ctx cancelled while the feed starts is the same clean stop. It
// returns an error at once when the feed cannot start, and when its HTTP
// server fails.
func Run(ctx context.Context, cfg Config) error {
	s, err := Start(ctx, cfg)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
			return nil // Start stopped what it had started
		}
		return err
	}
	var runErr error
	select {
	case <-ctx.Done():
	case <-s.cons.Done():
		if ctx.Err() == nil {
			runErr = errors.New("feed: the projector stopped")
		}
	case err := <-s.served:
		runErr = fmt.Errorf("feed: HTTP: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(runErr, s.Close(sctx))
}
