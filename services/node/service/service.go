// Package service runs a whole country node, Run(ctx, Config): the state
// bucket, the bus adapter with its consumer, the periodic fork poll and
// the HTTP API. The ospo-node binary and the dpihub binary both call Run.
package service

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/services/node"
	nodebus "github.com/dpihub/dpihub/services/node/bus"
	nodehttp "github.com/dpihub/dpihub/services/node/http"
	"github.com/dpihub/dpihub/services/node/kv"
)

// DefaultPollInterval is how often forks are re-read when
// Config.PollInterval is zero.
const DefaultPollInterval = time.Minute

// Config configures Run. Country, Bus, Signer and Verifier are required.
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
	// (tests and embedders pass one bound to port 0). Run closes it.
	Listener net.Listener
	// Logger (nil: no logs).
	Logger *zap.Logger
	// Registerer receives the node's metrics; when it is also a
	// prometheus.Gatherer (a *prometheus.Registry) /metrics serves it,
	// otherwise the default gatherer. nil: prometheus.DefaultRegisterer.
	Registerer prometheus.Registerer
	// PollInterval is how often forks are re-read to find moved forks (0:
	// DefaultPollInterval; negative: never, only on Refresh).
	PollInterval time.Duration
	// Started, when set, is called once the node consumes and serves, with
	// the node and the API's address ("" without HTTP).
	Started func(n *nodebus.Node, httpAddr string)
}

// Run runs the node until ctx is cancelled, then stops the consumer and
// the HTTP server and returns nil. It returns an error at once when the
// node cannot start (bad configuration, a fork that cannot be read, a
// port in use).
func Run(ctx context.Context, cfg Config) error {
	if cfg.Bus == nil {
		return errors.New("node: Config.Bus is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.DefaultRegisterer
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	log := cfg.Logger.With(zap.String("service", "node"), zap.String("country", cfg.Country))
	store, err := kv.Open(ctx, cfg.Bus.JetStream(), cfg.Country)
	if err != nil {
		return fmt.Errorf("node %s: %w", cfg.Country, err)
	}
	n, err := nodebus.New(ctx, nodebus.Config{
		Country: cfg.Country, Bus: cfg.Bus, Signer: cfg.Signer, Verifier: cfg.Verifier,
		Store: store, Logger: log, Registerer: cfg.Registerer,
	})
	if err != nil {
		return err
	}
	for _, f := range cfg.Forks {
		if _, err := n.RegisterFork(ctx, f); err != nil {
			return fmt.Errorf("node %s: %w", cfg.Country, err)
		}
	}

	ln := cfg.Listener
	if ln == nil && cfg.HTTPAddr != "" {
		if ln, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			return fmt.Errorf("node %s: listen: %w", cfg.Country, err)
		}
	}
	if err := n.Start(ctx); err != nil {
		if ln != nil {
			ln.Close()
		}
		return err
	}
	defer n.Stop()

	srvErr := make(chan error, 1)
	var srv *http.Server
	addr := ""
	if ln != nil {
		g, ok := cfg.Registerer.(prometheus.Gatherer)
		if !ok {
			g = prometheus.DefaultGatherer
		}
		srv = &http.Server{
			Handler:           nodehttp.Handler(n, g, log),
			ReadHeaderTimeout: 10 * time.Second,
			BaseContext:       func(net.Listener) context.Context { return ctx },
		}
		addr = ln.Addr().String()
		go func() { srvErr <- srv.Serve(ln) }()
		log.Info("node API listening", zap.String("addr", addr))
	}
	if cfg.Started != nil {
		cfg.Started(n, addr)
	}

	var tick <-chan time.Time
	if cfg.PollInterval > 0 {
		t := time.NewTicker(cfg.PollInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			if srv != nil {
				sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
				defer cancel()
				_ = srv.Shutdown(sctx)
			}
			return nil
		case err := <-srvErr:
			return fmt.Errorf("node %s: http: %w", cfg.Country, err)
		case <-tick:
			if err := n.Refresh(ctx, ""); err != nil && ctx.Err() == nil {
				log.Warn("fork poll", zap.Error(err))
			}
		}
	}
}
