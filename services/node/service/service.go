// Package service runs a whole country node: Start opens the state
// bucket, builds the node, registers the configured forks, and starts the
// consumer of fixes, the HTTP API and the periodic fork poll; Close stops
// them. Run does both around a context. The ospo-node binary and the
// dpihub binary both use it.
package service

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/dpihub/dpihub/events/access"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/services/node"
	"github.com/dpihub/dpihub/services/node/nodebus"
	"github.com/dpihub/dpihub/services/node/nodegit"
	"github.com/dpihub/dpihub/services/node/nodehttp"
)

// DefaultPollInterval is how often forks are re-read when
// Config.PollInterval is zero.
const DefaultPollInterval = time.Minute

// Config configures Start and Run. Country, Bus, Signer and Verifier are
// required.
type Config struct {
	// Country is the node's lower-case ISO 3166-1 alpha-2 code.
	Country string
	// Bus is the opened JetStream bus (bus.Open).
	Bus *bus.Bus
	// Signer signs the node's events with the country's key.
	Signer *sign.Signer
	// Verifier checks every received event against the trust list.
	Verifier *sign.Verifier
	// Forks are registered (or updated) at start; forks registered earlier
	// through the API stay registered.
	Forks []node.Fork
	// HTTPAddr is where the API listens, e.g. "127.0.0.1:8081"; empty: no
	// HTTP.
	HTTPAddr string
	// Listener, when set, serves the API instead of listening on HTTPAddr
	// (tests and embedders pass one bound to port 0). The service owns it:
	// Close, or a Start that fails, closes it.
	Listener net.Listener
	// TokenFile keeps the bearer token the API's POST requests must carry
	// (access.LoadOrMakeToken): made on the first start, mode 0600,
	// reused on later ones; delete it and restart to rotate the token.
	// Required with HTTP.
	TokenFile string
	// Logger (nil: no logs).
	Logger *zap.Logger
	// Registerer receives the node's metrics (nil: not registered); when
	// it is also a prometheus.Gatherer (a *prometheus.Registry) /metrics
	// serves it, otherwise the default gatherer.
	Registerer prometheus.Registerer
	// PollInterval is how often forks are re-read to find moved forks (0:
	// DefaultPollInterval; negative: never, only on Refresh).
	PollInterval time.Duration
	// HeartbeatInterval is how often the node publishes node.heartbeat,
	// the first at start (0: DefaultHeartbeatInterval; negative: never).
	HeartbeatInterval time.Duration
	// Version is the software version the heartbeats name ("": the
	// binary's module version, or "(devel)").
	Version string
}

// DefaultHeartbeatInterval is how often a node says it is alive when
// Config.HeartbeatInterval is zero; the feed shows a node without a
// heartbeat for five minutes as stale.
const DefaultHeartbeatInterval = time.Minute

// Service is a running node.
type Service struct {
	node    *node.Node
	cons    *bus.Consumer
	ln      net.Listener
	srv     *http.Server
	addr    string
	tokFile string        // the file of the API's token
	served  chan error    // what the HTTP server's Serve returned
	serving chan struct{} // closed once Serve returned
	log     *zap.Logger

	life     context.CancelFunc // ends the node's work: handlers, requests
	stopPoll context.CancelFunc
	polling  sync.WaitGroup
	once     sync.Once
	closeErr error
}

// Start starts the node and returns once it consumes, serves and polls.
// ctx bounds the start-up only: the node then runs until Close. When ctx
// ends during start-up, Start stops whatever it started and returns an
// error for which errors.Is(err, ctx.Err()) holds.
func Start(ctx context.Context, cfg Config) (s *Service, err error) {
	if err := check(cfg); err != nil {
		if cfg.Listener != nil {
			cfg.Listener.Close()
		}
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	log := cfg.Logger.With(zap.String("service", "node"), zap.String("country", cfg.Country))

	// The steps of start-up run under ctx. What outlives Start (the
	// consumer, requests, the poll) runs under life, which the end of ctx
	// also ends until Start returns.
	life, stop := context.WithCancel(context.WithoutCancel(ctx))
	unhook := context.AfterFunc(ctx, stop)
	s = &Service{ln: cfg.Listener, served: make(chan error, 1), log: log, life: stop, stopPoll: func() {}}
	defer func() {
		if err == nil {
			return
		}
		unhook()
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w (%w)", err, cerr)
		}
		// Nothing has been served yet that is worth waiting for.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = s.Close(cctx)
		s = nil
	}()

	if err := ctx.Err(); err != nil {
		return s, fmt.Errorf("node %s: start: %w", cfg.Country, err)
	}
	store, patches, err := OpenBuckets(ctx, cfg.Bus, cfg.Country)
	if err != nil {
		return s, fmt.Errorf("node %s: %w", cfg.Country, err)
	}
	m, err := nodebus.NewMetrics(cfg.Registerer, cfg.Country)
	if err != nil {
		return s, err
	}
	// Fingerprints are read incrementally; a long first one says how far
	// it is every thousand commits.
	g := nodegit.New(func(f node.Fork, done, total int) {
		if total >= 1000 && (done%1000 == 0 || done == total) {
			log.Info("fingerprinting the fork's own commits", zap.String("fork", f.Key()), zap.Int("done", done), zap.Int("total", total))
		}
	})
	s.node, err = node.New(node.Config{
		Country: cfg.Country, Store: store, Publisher: nodebus.NewPublisher(cfg.Bus, cfg.Signer),
		Diffs: patches, Git: g, Assessor: g, Observer: m, Logger: log,
	})
	if err != nil {
		return s, err
	}
	for _, f := range cfg.Forks {
		if _, err := s.node.RegisterFork(ctx, f); err != nil {
			return s, fmt.Errorf("node %s: %w", cfg.Country, err)
		}
	}
	var token string
	if s.ln != nil || cfg.HTTPAddr != "" {
		if token, err = apiToken(cfg.TokenFile, log); err != nil {
			return s, fmt.Errorf("node %s: %w", cfg.Country, err)
		}
	}
	if s.ln == nil && cfg.HTTPAddr != "" {
		var lc net.ListenConfig
		if s.ln, err = lc.Listen(ctx, "tcp", cfg.HTTPAddr); err != nil {
			return s, fmt.Errorf("node %s: listen: %w", cfg.Country, err)
		}
	}
	if s.cons, err = nodebus.Consume(life, cfg.Bus, cfg.Verifier, s.node); err != nil {
		return s, err
	}
	if s.ln != nil {
		g, ok := cfg.Registerer.(prometheus.Gatherer)
		if !ok {
			g = prometheus.DefaultGatherer
		}
		s.srv = &http.Server{
			Handler:           nodehttp.Handler(s.node, token, g, log),
			ReadHeaderTimeout: 10 * time.Second,
			BaseContext:       func(net.Listener) context.Context { return life },
		}
		s.addr, s.tokFile = s.ln.Addr().String(), cfg.TokenFile
		s.serving = make(chan struct{})
		go func() {
			defer close(s.serving)
			s.served <- s.srv.Serve(s.ln)
		}()
		log.Info("node API listening", zap.String("addr", s.addr), zap.String("token_file", cfg.TokenFile),
			zap.String("auth", "POST requests need the header Authorization: Bearer <the token file's content>; GET requests are open"))
		if !loopback(s.ln.Addr()) {
			log.Warn("node API listens beyond loopback: anyone who reaches it reads the node's forks and fixes, and the bearer token of a POST crosses the network in clear; bind 127.0.0.1 or put a TLS proxy in front",
				zap.String("addr", s.addr))
		}
	}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if cfg.PollInterval > 0 || cfg.HeartbeatInterval > 0 {
		pctx, stopPoll := context.WithCancel(life)
		s.stopPoll = stopPoll
		if cfg.PollInterval > 0 {
			s.polling.Add(1)
			go s.poll(pctx, cfg.PollInterval)
		}
		if cfg.HeartbeatInterval > 0 {
			s.polling.Add(1)
			go s.heartbeat(pctx, cfg, time.Now())
		}
	}
	if !unhook() || ctx.Err() != nil {
		// ctx ended after the last step began: a start-up cut short.
		return s, fmt.Errorf("node %s: start: %w", cfg.Country, ctx.Err())
	}
	log.Info("node started", zap.Int("forks", len(cfg.Forks)))
	return s, nil
}

// check checks what the node cannot start without.
func check(cfg Config) error {
	switch {
	case cfg.Bus == nil || cfg.Signer == nil || cfg.Verifier == nil:
		return errors.New("node: Config.Bus, Signer and Verifier are required")
	case (cfg.Listener != nil || cfg.HTTPAddr != "") && cfg.TokenFile == "":
		return fmt.Errorf("node %s: Config.TokenFile is required with HTTP: the API's POST requests need a token", cfg.Country)
	case cfg.Signer.Country() != cfg.Country:
		return fmt.Errorf("node %s: the signer speaks for %q", cfg.Country, cfg.Signer.Country())
	}
	return nil
}

// apiToken loads the API's token from path, or makes it, and logs where
// it is; never the token itself.
func apiToken(path string, log *zap.Logger) (string, error) {
	token, made, err := access.LoadOrMakeToken(path)
	if err != nil {
		return "", err
	}
	if made {
		log.Info("node API token made", zap.String("token_file", path))
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("the node API's token file can be read by others; chmod 600 it", zap.String("token_file", path),
			zap.String("mode", fi.Mode().Perm().String()))
	}
	return token, nil
}

// loopback reports whether addr is a loopback address, which only this
// machine reaches.
func loopback(addr net.Addr) bool {
	if a, ok := addr.(*net.TCPAddr); ok {
		return a.IP.IsLoopback()
	}
	return false
}

// poll re-reads every fork each interval until ctx ends.
func (s *Service) poll(ctx context.Context, every time.Duration) {
	defer s.polling.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.node.Refresh(ctx, ""); err != nil && ctx.Err() == nil {
				s.log.Warn("fork poll", zap.Error(err))
			}
		}
	}
}

// heartbeat publishes a heartbeat now and then every interval until ctx
// ends. The lag is what the node's consumer has pending or unacknowledged
// on DPI, read from the consumer's info (0 if it cannot be read: a
// heartbeat still says the node is alive).
func (s *Service) heartbeat(ctx context.Context, cfg Config, started time.Time) {
	defer s.polling.Done()
	version := cfg.Version
	if version == "" {
		version = "(devel)"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
			version = bi.Main.Version
		}
	}
	t := time.NewTicker(cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		lag := 0
		if c, err := cfg.Bus.JetStream().Consumer(ctx, bus.Stream, access.NodeConsumer(cfg.Country)); err == nil {
			if info, err := c.Info(ctx); err == nil {
				lag = int(info.NumPending) + info.NumAckPending
			}
		}
		if err := s.node.Heartbeat(ctx, version, started, time.Now(), lag); err != nil && ctx.Err() == nil {
			s.log.Warn("heartbeat", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Node is the running node, the node.Service the API serves.
func (s *Service) Node() *node.Node { return s.node }

// Addr is the address the API listens on ("" without HTTP): with port 0
// in HTTPAddr, the port the system chose.
func (s *Service) Addr() string { return s.addr }

// TokenFile is the file that holds the API's bearer token ("" without
// HTTP).
func (s *Service) TokenFile() string { return s.tokFile }

// Close stops the fork poll, then the HTTP server (requests in flight get
// until ctx ends), then the consumer (waiting for the fix in hand). It
// may be called more than once; every call returns the first's result.
func (s *Service) Close(ctx context.Context) error {
	s.once.Do(func() {
		s.stopPoll()
		s.polling.Wait()
		if s.srv != nil {
			if err := s.srv.Shutdown(ctx); err != nil {
				s.closeErr = fmt.Errorf("node: stop HTTP: %w", err)
			}
		}
		if s.ln != nil {
			// Shutdown closes the listener only once Serve has begun.
			s.ln.Close()
		}
		if s.serving != nil {
			<-s.serving
		}
		if s.cons != nil {
			s.cons.Stop()
		}
		s.life()
		s.log.Info("node stopped")
	})
	return s.closeErr
}

// Run runs the node until ctx is cancelled, then stops it and returns nil.
// It returns an error at once when the node cannot start (bad
// configuration, a fork that cannot be read, a port in use), and when its
// HTTP server fails. A cancel during start-up is a stop like any other.
func Run(ctx context.Context, cfg Config) error {
	s, err := Start(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return nil
		}
		return err
	}
	var runErr error
	select {
	case <-ctx.Done():
	case err := <-s.served:
		runErr = fmt.Errorf("node %s: http: %w", cfg.Country, err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Close(sctx); err != nil {
		// Requests still in flight after 10 s were cut: the node stopped
		// all the same.
		s.log.Warn("node stop", zap.Error(err))
	}
	return runErr
}
