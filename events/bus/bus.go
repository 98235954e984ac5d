package bus

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/dpihub/dpihub/events/subject"
)

// DLQMaxAge is how long DPI_DLQ keeps an entry.
const DLQMaxAge = 90 * 24 * time.Hour

// DuplicateWindow is how long JetStream remembers a message id, so that a
// retried publish of the same event is stored once.
const DuplicateWindow = 2 * time.Minute

// Stream and subject names.
const (
	Stream         = "DPI"
	DLQStream      = "DPI_DLQ"
	DLQSubjectRoot = "dlq"
	DLQSubjects    = DLQSubjectRoot + ".>"
)

// Config configures Open. The zero value works: events kept 365 days,
// dead letters 90 days, de-duplication window 2 minutes, one replica.
type Config struct {
	MaxAge  time.Duration // how long DPI keeps events (0: 365 days; a negative value keeps them forever)
	Logger  *zap.Logger   // nil: no logs
	Metrics *Metrics      // nil: collectors that nobody registered
	// Attach uses the streams as they are, failing if they are missing,
	// instead of creating or updating them: for clients (the CLI, remote
	// services) that must not change the hub's settings.
	Attach bool
}

// Dial connects a service that runs apart from the hub (ospo-node, feed)
// to the hub's NATS server at url, under the connection name name, and
// attaches to the streams the hub made: cfg.Attach is set whatever it
// says, because such a service must never create the streams or change
// their settings (retention, limits) with its own defaults. The
// connection reconnects for ever; drain it when done.
func Dial(ctx context.Context, url, name string, cfg Config) (*Bus, *nats.Conn, error) {
	nc, err := nats.Connect(url, nats.Name(name), nats.MaxReconnects(-1))
	if err != nil {
		return nil, nil, fmt.Errorf("connect %s: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	cfg.Attach = true
	b, err := Open(ctx, js, cfg)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return b, nc, nil
}

// Bus is a JetStream connection with dpihub's streams in place. It is safe
// for concurrent use.
type Bus struct {
	js      jetstream.JetStream
	log     *zap.Logger
	metrics *Metrics
}

// Open creates or updates streams DPI and DPI_DLQ on js.
func Open(ctx context.Context, js jetstream.JetStream, cfg Config) (*Bus, error) {
	if cfg.MaxAge == 0 {
		cfg.MaxAge = 365 * 24 * time.Hour
	}
	if cfg.MaxAge < 0 {
		cfg.MaxAge = 0
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Metrics == nil {
		cfg.Metrics, _ = NewMetrics(nil) // registers nothing, cannot fail
	}
	if cfg.Attach {
		for _, name := range []string{Stream, DLQStream} {
			if _, err := js.Stream(ctx, name); err != nil {
				return nil, fmt.Errorf("stream %s: %w (is the hub running?)", name, err)
			}
		}
		return &Bus{js: js, log: cfg.Logger, metrics: cfg.Metrics}, nil
	}
	for _, sc := range []jetstream.StreamConfig{{
		Name:        Stream,
		Description: "dpihub events, signed CloudEvents",
		Subjects:    []string{subject.All},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      cfg.MaxAge,
		Duplicates:  DuplicateWindow,
	}, {
		Name:        DLQStream,
		Description: "dpihub dead letters: refused messages with the reason",
		Subjects:    []string{DLQSubjects},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      DLQMaxAge,
		Duplicates:  DuplicateWindow,
	}} {
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return nil, fmt.Errorf("set up stream %s: %w", sc.Name, err)
		}
	}
	return &Bus{js: js, log: cfg.Logger, metrics: cfg.Metrics}, nil
}

// JetStream returns the JetStream context the bus uses.
func (b *Bus) JetStream() jetstream.JetStream { return b.js }
