// Package hub runs dpihub in one process: an embedded nats-server with
// JetStream, the dpihub streams, the HTTP endpoints every long-running
// service has (/healthz, /metrics), and any services asked for.
package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/dpihub/dpihub/events/access"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/metrics"
	"github.com/dpihub/dpihub/events/problem"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/services/feed/feedhttp"
	"github.com/dpihub/dpihub/services/hub/deploy"
	"github.com/dpihub/dpihub/services/hub/embedded"
	nodesvc "github.com/dpihub/dpihub/services/node/service"
)

// Config configures Start. The zero value serves NATS on 127.0.0.1:4222 and
// HTTP on 127.0.0.1:8080 with state in ./dpihub-data.
type Config struct {
	DataDir    string        // state: the JetStream store and anything services keep
	ServerName string        // stable name of this site's NATS server (default "dpihub")
	NATSHost   string        // default 127.0.0.1
	NATSPort   int           // default 4222; -1 picks a free port
	HTTPAddr   string        // default 127.0.0.1:8080; "-" disables HTTP
	MaxAge     time.Duration // how long events are kept (0: the bus default, 365 days)
	// MaxBytes and MaxMsgSize limit stream DPI (0: bus.DefaultMaxBytes,
	// bus.DefaultMaxMsgSize; negative: no limit). The embedded server
	// takes messages as large as the dead-letter stream may need, never
	// less than embedded.DefaultMaxPayload.
	MaxBytes   int64
	MaxMsgSize int32
	Logger     *zap.Logger // nil: no logs
	// NATSTLSCert and NATSTLSKey are PEM files of the NATS port's TLS
	// certificate and key (empty: no TLS; beyond loopback, a warning).
	NATSTLSCert, NATSTLSKey string
	// Starting: services will be started in this process after Start;
	// /healthz answers 503 "starting" until Started is called, so that
	// nothing is sent traffic (or a user the UI's address) before they run.
	Starting bool
	// Site, when set, runs this process as a country's site in a
	// multi-site deployment: its NATS server is a leaf node of the hub
	// cluster with JetStream in the country's domain, and its stream DPI
	// captures the country's own events only (dpi.<cc>.>); dpihub deploy
	// streams, run on the hub, adds the source of the others' events.
	Site *embedded.Leaf
}

// Hub is a running hub process.
type Hub struct {
	Server   *embedded.Server
	Conn     *nats.Conn
	JS       jetstream.JetStream
	Bus      *bus.Bus
	Metrics  *bus.Metrics
	Registry *prometheus.Registry
	// Auth is the authority NATS trusts, kept in <data>/auth; AuthCreated
	// says that this start made it (the first start on this data).
	Auth        *access.Authority
	AuthCreated bool
	HTTP        *http.Server
	// HTTPAddr is the address HTTP listens on (useful with port 0).
	HTTPAddr string
	// Mux serves HTTP; services add their handlers to it.
	Mux     *http.ServeMux
	log     *zap.Logger
	dataDir string
	root    atomic.Pointer[http.Handler]
	// trust is the trust list the hub publishes at /trust.json, as JSON.
	trust atomic.Pointer[[]byte]
	// checks are the services' health checks (AddHealthCheck).
	checksMu sync.Mutex
	checks   []HealthCheck
	// starting is true until Started, with Config.Starting.
	starting atomic.Bool
	// stops run in reverse order on Close: services first, then the
	// connection, then the server.
	stops []func(context.Context)
}

// Start starts the embedded server, opens the bus and serves HTTP.
func Start(ctx context.Context, cfg Config) (*Hub, error) {
	if cfg.DataDir == "" {
		cfg.DataDir = "dpihub-data"
	}
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = "127.0.0.1:8080"
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	h := &Hub{log: cfg.Logger, Registry: prometheus.NewRegistry(), Mux: http.NewServeMux()}
	if err := metrics.RegisterProcess(h.Registry); err != nil {
		return nil, err
	}
	m, err := bus.NewMetrics(h.Registry)
	if err != nil {
		return nil, err
	}
	h.Metrics = m

	h.dataDir = cfg.DataDir
	if err := ErrDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	unlock, err := lockData(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	// Released last, once the server has stopped writing.
	h.stops = append(h.stops, func(context.Context) { unlock() })
	if h.Auth, h.AuthCreated, err = openAuthority(cfg.DataDir, cfg.Logger); err != nil {
		h.Close(ctx)
		return nil, err
	}
	srv, err := embedded.Start(ctx, embedded.Config{
		ServerName: cfg.ServerName, DataDir: cfg.DataDir,
		Host: cfg.NATSHost, Port: cfg.NATSPort, Logger: cfg.Logger,
		MaxPayload: max(embedded.DefaultMaxPayload, bus.DLQMaxMsgSize(cfg.MaxMsgSize)),
		Authority:  h.Auth, TLSCert: cfg.NATSTLSCert, TLSKey: cfg.NATSTLSKey, Leaf: cfg.Site,
	})
	if err != nil {
		h.Close(ctx)
		return nil, err
	}
	h.Server = srv
	h.stops = append(h.stops, srv.Shutdown)

	// The hub's own connection is the admin: it makes the streams and
	// the nodes' buckets. Services in this process share it.
	admin, err := h.Auth.ConnectOptions(access.Admin)
	if err != nil {
		h.Close(ctx)
		return nil, err
	}
	nc, err := srv.Connect("dpihub", append(admin, nats.ErrorHandler(func(_ *nats.Conn, s *nats.Subscription, err error) {
		// Permission errors reach only this handler (nats.go #978).
		subj := ""
		if s != nil {
			subj = s.Subject
		}
		cfg.Logger.Warn("nats async error", zap.String("subject", subj), zap.Error(err))
	}))...)
	if err != nil {
		h.Close(ctx)
		return nil, err
	}
	h.Conn = nc
	h.stops = append(h.stops, func(context.Context) { _ = nc.Drain() })
	h.JS, err = jetstream.New(nc)
	if err != nil {
		h.Close(ctx)
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	busCfg := bus.Config{MaxAge: cfg.MaxAge, MaxBytes: cfg.MaxBytes, MaxMsgSize: cfg.MaxMsgSize,
		Logger: cfg.Logger, Metrics: h.Metrics}
	if cfg.Site != nil {
		if err := openSiteStreams(ctx, h.JS, cfg.Site.Domain, busCfg); err != nil {
			h.Close(ctx)
			return nil, err
		}
		busCfg.Attach = true
	}
	h.Bus, err = bus.Open(ctx, h.JS, busCfg)
	if err != nil {
		h.Close(ctx)
		return nil, err
	}
	// Country nodes may not make streams: the hub makes their buckets.
	stopProvisioning, err := nodesvc.ServeProvisioning(h.Bus, cfg.Logger)
	if err != nil {
		h.Close(ctx)
		return nil, err
	}
	h.stops = append(h.stops, func(context.Context) { stopProvisioning() })

	h.starting.Store(cfg.Starting)
	h.Mux.HandleFunc("GET /healthz", h.healthz)
	h.Mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if root := h.root.Load(); root != nil {
			(*root).ServeHTTP(w, r)
			return
		}
		problem.Write(w, r, problem.New(http.StatusNotFound, problem.TypeNotFound, "no such page: "+r.URL.Path))
	})
	h.Mux.HandleFunc("GET /trust.json", h.trustList)
	h.Mux.Handle("GET /metrics", promhttp.HandlerFor(h.Registry, promhttp.HandlerOpts{Registry: h.Registry}))
	if cfg.HTTPAddr != "-" {
		ln, err := net.Listen("tcp", cfg.HTTPAddr)
		if err != nil {
			h.Close(ctx)
			return nil, fmt.Errorf("http: %w", err)
		}
		h.HTTPAddr = ln.Addr().String()
		// ConnContext: the feed's live streams bound their send buffers.
		h.HTTP = &http.Server{Handler: h.Mux, ReadHeaderTimeout: 10 * time.Second, ConnContext: feedhttp.ConnContext}
		go func() {
			if err := h.HTTP.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				cfg.Logger.Error("http", zap.Error(err))
			}
		}()
		h.stops = append(h.stops, func(ctx context.Context) { _ = h.HTTP.Shutdown(ctx) })
	}
	cfg.Logger.Info("hub started", zap.String("nats", srv.ClientURL()), zap.String("http", h.HTTPAddr), zap.String("data", cfg.DataDir))
	return h, nil
}

// ErrDataDir says why dir cannot be a data directory: it names something
// that is not a directory. A directory, or nothing yet, is fine (nil).
func ErrDataDir(dir string) error {
	fi, err := os.Stat(dir)
	if err == nil && !fi.IsDir() {
		return fmt.Errorf("%s is a file, not a directory", dir)
	}
	return nil
}

// Started tells /healthz that the services of a hub started with
// Config.Starting run.
func (h *Hub) Started() { h.starting.Store(false) }

// SetRoot makes handler serve every path the hub itself does not (the
// coordinator UI, for one). Without it those paths are 404 problems.
func (h *Hub) SetRoot(handler http.Handler) { h.root.Store(&handler) }

// SetTrustList publishes tl, the public keys the hub's services verify
// with, at GET /trust.json: what a verifier outside the hub needs
// (docs/security.md).
func (h *Hub) SetTrustList(tl *sign.TrustList) error {
	if err := tl.Validate(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(tl, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	h.trust.Store(&b)
	return nil
}

func (h *Hub) trustList(w http.ResponseWriter, r *http.Request) {
	b := h.trust.Load()
	if b == nil {
		problem.Write(w, r, problem.New(http.StatusNotFound, problem.TypeNotFound, "this hub publishes no trust list: start it with --trust"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(*b)
}

// HealthCheck is a service's word on its own health, which /healthz
// reports: a feed that has fallen behind a re-created stream is degraded
// until it has caught up.
type HealthCheck struct {
	Name  string
	Check func() (ok bool, reason string)
}

// AddHealthCheck makes /healthz answer 503 "degraded", with the reason,
// while c says its service is not ok.
func (h *Hub) AddHealthCheck(c HealthCheck) {
	h.checksMu.Lock()
	defer h.checksMu.Unlock()
	h.checks = append(h.checks, c)
}

// OnClose registers f to run first when the hub closes (services stop
// their consumers here, before the connection drains).
func (h *Hub) OnClose(f func(context.Context)) { h.stops = append(h.stops, f) }

// Close stops services, drains the connection, and shuts the server down,
// in that order, within ctx's deadline.
func (h *Hub) Close(ctx context.Context) {
	for i := len(h.stops) - 1; i >= 0; i-- {
		h.stops[i](ctx)
	}
	h.stops = nil
	if h.Server != nil {
		h.log.Info("hub stopped")
	}
}

// NATSURL is the URL clients such as the nats CLI or `dpihub tail` use.
func (h *Hub) NATSURL() string { return h.Server.ClientURL() }

// Run starts the hub and serves until ctx is cancelled (SIGTERM), then
// closes it gracefully.
func Run(ctx context.Context, cfg Config) error {
	h, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h.Close(sctx)
	return nil
}

func (h *Hub) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	status := map[string]any{"status": "ok", "nats": h.Conn.Status().String()}
	code := http.StatusOK
	if !h.Conn.IsConnected() {
		status["status"], code = "unavailable", http.StatusServiceUnavailable
	} else if h.starting.Load() {
		status["status"], code = "starting", http.StatusServiceUnavailable
	} else if s, err := h.JS.Stream(ctx, bus.Stream); err != nil {
		status["status"], status["error"], code = "unavailable", err.Error(), http.StatusServiceUnavailable
	} else {
		status["events"] = s.CachedInfo().State.Msgs
		h.checksMu.Lock()
		checks := append([]HealthCheck(nil), h.checks...)
		h.checksMu.Unlock()
		for _, c := range checks {
			if ok, reason := c.Check(); !ok {
				status["status"], status["reason"], code = "degraded", c.Name+": "+reason, http.StatusServiceUnavailable
				break
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(status)
}

// openSiteStreams makes a site's streams when they are missing: DPI,
// which captures the country's own events, and DPI_DLQ. It leaves
// existing ones as they are: dpihub deploy streams, run on the hub, gives
// DPI its source of the others' events (deploy.SiteStreams).
func openSiteStreams(ctx context.Context, js jetstream.JetStream, cc string, cfg bus.Config) error {
	dpi, dlq := bus.StreamConfigs(cfg)
	dpi.Subjects = []string{deploy.Own(cc)}
	for _, sc := range []jetstream.StreamConfig{dpi, dlq} {
		_, err := js.Stream(ctx, sc.Name)
		if err == nil {
			continue
		}
		if !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("site stream %s: %w", sc.Name, err)
		}
		if err := createStoreRetrying(ctx, func() error { _, err := js.CreateStream(ctx, sc); return err }); err != nil {
			return fmt.Errorf("site stream %s: %w", sc.Name, err)
		}
	}
	return nil
}

// errCodeStreamCreate is JetStream's JSStreamCreateErrF: the server could
// not create the stream's store.
const errCodeStreamCreate jetstream.ErrorCode = 10049

// createStoreRetrying calls create (a stream's creation), again for up to
// 10s while the server answers that it could not create the stream's
// store. A
// site's server can answer so just after it started: enabling JetStream
// for an account, nats-server (v2.15.2) makes the account's streams
// directory and removes it again, and a stream made at that moment finds
// its parent gone ("could not create storage directory", in the server's
// log only). A store that cannot be made for good fails after the 10s.
func createStoreRetrying(ctx context.Context, create func() error) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := create()
		var apiErr *jetstream.APIError
		if err == nil || !errors.As(err, &apiErr) || apiErr.ErrorCode != errCodeStreamCreate || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}
