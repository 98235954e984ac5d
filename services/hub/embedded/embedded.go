// Package embedded runs a nats-server with JetStream inside the dpihub
// process: the zero-setup default for the demo, a pilot and tests.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
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
	// MaxPayload is the largest message the server accepts (default 8 MiB:
	// events carry diffs inline up to a limit, larger ones go to the object
	// store).
	MaxPayload int32
	// Logger receives the server's log (nil: silent).
	Logger *zap.Logger
}

// Server is a running embedded server.
type Server struct {
	*server.Server
}

// Start starts the server and waits until it accepts connections.
func Start(cfg Config) (*Server, error) {
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
		cfg.MaxPayload = 8 << 20
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
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats-server: %w", err)
	}
	if cfg.Logger != nil {
		ns.SetLoggerV2(zapLogger{cfg.Logger.Named("nats").Sugar()}, false, false, false)
	}
	go ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("embedded nats-server: not ready within 30s (is the port taken? see the log)")
	}
	return &Server{ns}, nil
}

// Connect returns an in-process client connection (no TCP).
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
type zapLogger struct{ l *zap.SugaredLogger }

func (z zapLogger) Noticef(format string, v ...any) { z.l.Infof(format, v...) }
func (z zapLogger) Warnf(format string, v ...any)   { z.l.Warnf(format, v...) }
func (z zapLogger) Errorf(format string, v ...any)  { z.l.Errorf(format, v...) }
func (z zapLogger) Fatalf(format string, v ...any)  { z.l.Errorf("FATAL: "+format, v...) }
func (z zapLogger) Debugf(format string, v ...any)  { z.l.Debugf(format, v...) }
func (z zapLogger) Tracef(format string, v ...any)  { z.l.Debugf(format, v...) }
