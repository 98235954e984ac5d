// Package embedded runs a nats-server with JetStream inside the dpihub
// process: the zero-setup default for the demo, a pilot and tests.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/dpihub/dpihub/events/access"
)

// Config configures Start. The zero value runs a server named "dpihub"
// with its store in ./dpihub-data/jetstream, listening on 127.0.0.1:4222.
type Config struct {
	// ServerName must stay the same across restarts of one site: JetStream
	// ties its state to it.
	ServerName string
	// DataDir holds the JetStream store (in DataDir/jetstream).
	DataDir string
	// Host and Port the server listens on for clients such as the nats CLI
	// (Port -1: a random port; DontListen: no TCP at all).
	Host       string
	Port       int
	DontListen bool
	// MaxPayload is the largest message the server accepts, headers
	// included (default DefaultMaxPayload). It must be at least what the
	// streams take (bus.DLQMaxMsgSize); the streams' own limits are the
	// ones that matter for what is stored.
	MaxPayload int32
	// Authority says who may connect and what each may do (required):
	// no anonymous client gets in.
	Authority *access.Authority
	// TLSCert and TLSKey are PEM files of the client port's certificate
	// and key; empty: no TLS. Without TLS the credentials' signatures still
	// prove who connects, but events and replies cross the network in
	// clear: Start warns when the port listens beyond loopback.
	TLSCert, TLSKey string
	// Logger receives the server's log (nil: silent).
	Logger *zap.Logger
	// Leaf, when set, makes the server a country's site: a leaf node of a
	// hub cluster with JetStream in the country's own domain, so that it
	// keeps working while its link is down (docs/operations.md).
	Leaf *Leaf
}

// Leaf is the link of a site's server to the hub cluster.
type Leaf struct {
	// Domain is the site's JetStream domain: its country code.
	Domain string
	// URLs are the hub members' leafnode URLs (nats-leaf://host:7422).
	URLs []string
	// Creds is the .creds file of the site's link (access.Site), issued by
	// the hub's authority: the hub checks it, not this server.
	Creds string
}

// DefaultMaxPayload is the embedded server's max_payload when
// Config.MaxPayload is zero: 8 MiB, nats-server's recommended maximum,
// above the dead-letter stream's largest message by default
// (bus.DLQMaxMsgSize(bus.DefaultMaxMsgSize), 4 MiB + 16 KiB), so that
// JetStream, not the connection, refuses an oversized event, with an
// error that names the stream's limit; node state (KV values) may also
// need more than the streams' events.
const DefaultMaxPayload = 8 << 20

// Server is a running embedded server.
type Server struct {
	*server.Server
}

// Start starts the server and waits until it accepts connections. A
// failure to start (the port taken, a store it cannot open) ends the wait
// at once and is the error, stated as its cause ("listen on
// 127.0.0.1:4222: address already in use"); so does ctx ending, with
// ctx's error.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.ServerName == "" {
		cfg.ServerName = "dpihub"
	}
	if cfg.DataDir == "" {
		cfg.DataDir = "dpihub-data"
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.Port == 0 {
		cfg.Port = 4222
	}
	if cfg.MaxPayload == 0 {
		cfg.MaxPayload = DefaultMaxPayload
	}
	if cfg.Authority == nil {
		return nil, errors.New("embedded nats-server: Config.Authority is required: no anonymous NATS access")
	}
	opts := &server.Options{
		ServerName: cfg.ServerName,
		Host:       cfg.Host,
		Port:       cfg.Port,
		DontListen: cfg.DontListen,
		JetStream:  true,
		StoreDir:   cfg.DataDir + "/jetstream",
		MaxPayload: cfg.MaxPayload,
		NoSigs:     true, // the process owns SIGINT/SIGTERM
	}
	if err := cfg.Authority.Configure(opts); err != nil {
		return nil, fmt.Errorf("embedded nats-server: %w", err)
	}
	if cfg.Leaf != nil {
		if err := configureLeaf(opts, cfg.Authority, *cfg.Leaf); err != nil {
			return nil, fmt.Errorf("embedded nats-server: %w", err)
		}
	}
	if cfg.TLSCert != "" || cfg.TLSKey != "" {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: cfg.TLSCert, KeyFile: cfg.TLSKey})
		if err != nil {
			return nil, fmt.Errorf("embedded nats-server: TLS: %w", err)
		}
		opts.TLSConfig, opts.TLS, opts.TLSTimeout = tc, true, 5
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats-server: %w", err)
	}
	if !cfg.DontListen && opts.TLSConfig == nil && !loopback(cfg.Host) && cfg.Logger != nil {
		cfg.Logger.Warn("NATS listens beyond loopback without TLS: credentials are proven by signature, but events, "+
			"node state and replies cross the network in clear; give a certificate (--nats-tls-cert, --nats-tls-key)",
			zap.String("host", cfg.Host), zap.Int("port", cfg.Port))
	}
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	// nats-server reports a failure to start only to its logger (Fatalf,
	// which its own logger ends the process with): ours keeps the first.
	fatal := make(chan error, 1)
	ns.SetLoggerV2(zapLogger{l: log.Named("nats").Sugar(), fatal: fatal}, false, false, false)
	started := make(chan struct{})
	// Start returns once the client port listens, or has failed to.
	go func() { defer close(started); ns.Start() }()
	stop := func() { <-started; ns.Shutdown() }
	select {
	case <-ctx.Done():
		// Start may be recovering a large store: shut down once it has
		// returned (not in the middle of it), silently, without waiting.
		ns.SetLoggerV2(zapLogger{l: zap.NewNop().Sugar(), fatal: make(chan error, 1)}, false, false, false)
		go stop()
		return nil, ctx.Err()
	case err := <-fatal:
		// Start returns right after a failure.
		stop()
		return nil, err
	case <-started:
	}
	select {
	case err := <-fatal:
		stop()
		return nil, err
	default:
	}
	if !ns.ReadyForConnections(10 * time.Second) {
		stop()
		return nil, errors.New("embedded nats-server: not ready for connections within 10s after start (see the log)")
	}
	return &Server{ns}, nil
}

// configureLeaf makes the server a site: JetStream in the site's domain,
// and a leafnode remote to every hub member that binds this server's
// account DPI (the site's own authority) to the hub's with the site's
// credentials. Pings every 10s, two missed: a lost link is noticed in
// about 30s, as deploy's configurations do.
func configureLeaf(o *server.Options, a *access.Authority, l Leaf) error {
	if err := access.Site(l.Domain).Validate(); err != nil {
		return err
	}
	if len(l.URLs) == 0 || l.Creds == "" {
		return errors.New("a site needs the hub's leafnode URLs and its link's credentials")
	}
	if _, err := os.Stat(l.Creds); err != nil {
		return fmt.Errorf("the site's credentials: %w", err)
	}
	t, err := a.Trust()
	if err != nil {
		return err
	}
	remote := &server.RemoteLeafOpts{LocalAccount: t.Account, Credentials: l.Creds}
	for _, u := range l.URLs {
		pu, err := url.Parse(u)
		if err != nil || pu.Host == "" {
			return fmt.Errorf("hub leafnode URL %q: want nats-leaf://host:port", u)
		}
		remote.URLs = append(remote.URLs, pu)
	}
	o.JetStreamDomain = l.Domain
	o.LeafNode.Remotes = []*server.RemoteLeafOpts{remote}
	o.LeafNode.ReconnectInterval = time.Second
	o.PingInterval, o.MaxPingsOut = 10*time.Second, 2
	return nil
}

// startError states the cause of a nats-server Fatalf: for a port it cannot
// listen on, the address and the system's reason.
func startError(format string, v ...any) error {
	for _, a := range v {
		var op *net.OpError
		if err, ok := a.(error); ok && errors.As(err, &op) && op.Op == "listen" {
			cause := op.Err
			var sys *os.SyscallError
			if errors.As(cause, &sys) {
				cause = sys.Err
			}
			addr := ""
			if op.Addr != nil {
				addr = op.Addr.String()
			} else if len(v) > 0 {
				addr = fmt.Sprint(v[0])
			}
			return fmt.Errorf("listen on %s: %w", addr, cause)
		}
	}
	return fmt.Errorf("embedded nats-server: %s", fmt.Sprintf(format, v...))
}

// loopback reports whether host names this machine only.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Connect returns an in-process client connection (no TCP). Like any
// client, it must authenticate: opts carry its credentials
// (access.Authority.ConnectOptions).
func (s *Server) Connect(name string, opts ...nats.Option) (*nats.Conn, error) {
	opts = append([]nats.Option{nats.Name(name), nats.InProcessServer(s.Server), nats.MaxReconnects(-1)}, opts...)
	nc, err := nats.Connect("", opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to embedded server: %w", err)
	}
	return nc, nil
}

// Shutdown stops the server and waits until it has stopped, or ctx ends.
func (s *Server) Shutdown(ctx context.Context) {
	s.Server.Shutdown()
	done := make(chan struct{})
	go func() { s.Server.WaitForShutdown(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// zapLogger adapts zap to nats-server's Logger.
// fatal receives the first Fatalf as an error (startError); nats-server's
// own logger would exit the process there.
type zapLogger struct {
	l     *zap.SugaredLogger
	fatal chan<- error
}

func (z zapLogger) Noticef(format string, v ...any) { z.l.Infof(format, v...) }
func (z zapLogger) Warnf(format string, v ...any)   { z.l.Warnf(format, v...) }
func (z zapLogger) Errorf(format string, v ...any)  { z.l.Errorf(format, v...) }
func (z zapLogger) Fatalf(format string, v ...any) {
	z.l.Errorf("FATAL: "+format, v...)
	select {
	case z.fatal <- startError(format, v...):
	default:
	}
}
func (z zapLogger) Debugf(format string, v ...any) { z.l.Debugf(format, v...) }
func (z zapLogger) Tracef(format string, v ...any) { z.l.Debugf(format, v...) }
