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

// Limits of the streams' sizes. Without them, anyone who may publish on
// dpi.> could fill the disk: every message was stored in DPI, and a
// refused one a second time, whole, in DPI_DLQ.
const (
	// DefaultMaxBytes is how much DPI holds (10 GiB) when Config.MaxBytes
	// is zero. DPI is the source of truth: when it is full it refuses new
	// events (JetStream's discard-new policy) instead of silently
	// dropping its oldest ones.
	DefaultMaxBytes = 10 << 30
	// DefaultMaxMsgSize is the largest message DPI stores (4 MiB, headers
	// included) when Config.MaxMsgSize is zero. The largest event a node
	// publishes is a fix.published with an inline diff of
	// events.MaxInlineDiff (256 KiB) and a 64 KiB commit message; JSON
	// writes each control character and each of < > & as six bytes, so
	// such an event can take up to about 2.6 MiB. 4 MiB holds it with
	// room to spare (TestTheLargestLegitimateEventFitsTheStream).
	DefaultMaxMsgSize = 4 << 20
	// DLQMaxBytes is how much DPI_DLQ holds (1 GiB); when full it drops
	// its oldest entries, so that dead-lettering never stops a consumer.
	DLQMaxBytes = 1 << 30
	// DLQHeaderRoom is what a dead letter may add to the message it
	// keeps: its headers (the detail is cut to 2000 bytes).
	DLQHeaderRoom = 16 << 10
)

// DLQMaxMsgSize is the largest message DPI_DLQ stores when DPI stores
// messages of up to maxMsgSize bytes: a dead letter keeps a refused
// event whole, with its own headers. A server's max_payload must be at
// least this. A negative maxMsgSize (no limit) gives -1.
func DLQMaxMsgSize(maxMsgSize int32) int32 {
	if maxMsgSize < 0 {
		return -1
	}
	if maxMsgSize == 0 {
		maxMsgSize = DefaultMaxMsgSize
	}
	return maxMsgSize + DLQHeaderRoom
}

// Stream and subject names.
const (
	Stream         = "DPI"
	DLQStream      = "DPI_DLQ"
	DLQSubjectRoot = "dlq"
	DLQSubjects    = DLQSubjectRoot + ".>"
)

// Config configures Open. The zero value works: events kept 365 days up
// to DefaultMaxBytes, messages of up to DefaultMaxMsgSize, dead letters
// kept 90 days up to DLQMaxBytes, de-duplication window 2 minutes, one
// replica.
type Config struct {
	MaxAge time.Duration // how long DPI keeps events (0: 365 days; a negative value keeps them forever)
	// MaxBytes is how much DPI holds before it refuses new events (0:
	// DefaultMaxBytes; negative: no limit).
	MaxBytes int64
	// MaxMsgSize is the largest message, headers included, DPI stores (0:
	// DefaultMaxMsgSize; negative: no limit but the server's max_payload).
	// DPI_DLQ takes DLQMaxMsgSize(MaxMsgSize).
	MaxMsgSize int32
	Logger     *zap.Logger // nil: no logs
	Metrics    *Metrics    // nil: collectors that nobody registered
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
//
// opts add to the connection's options: the credentials and inbox prefix
// of the service's identity (access.Client), a CA (nats.RootCAs). Errors
// the server reports asynchronously, such as a permissions violation
// (which the publisher only sees as a timeout), are logged to
// cfg.Logger unless opts set an nats.ErrorHandler of their own.
func Dial(ctx context.Context, url, name string, cfg Config, opts ...nats.Option) (*Bus, *nats.Conn, error) {
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	base := []nats.Option{nats.Name(name), nats.MaxReconnects(-1),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			log.Warn("nats async error", zap.String("subscription", subject), zap.Error(err))
		})}
	nc, err := nats.Connect(url, append(base, opts...)...)
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
	// maxMsgSize is DPI's limit (-1: none), as the stream says: what a
	// publisher's error names.
	maxMsgSize int32
}

// withDefaults fills in what Config's zero values mean.
func (cfg Config) withDefaults() Config {
	if cfg.MaxAge == 0 {
		cfg.MaxAge = 365 * 24 * time.Hour
	}
	if cfg.MaxAge < 0 {
		cfg.MaxAge = 0
	}
	switch {
	case cfg.MaxBytes == 0:
		cfg.MaxBytes = DefaultMaxBytes
	case cfg.MaxBytes < 0:
		cfg.MaxBytes = -1
	}
	switch {
	case cfg.MaxMsgSize == 0:
		cfg.MaxMsgSize = DefaultMaxMsgSize
	case cfg.MaxMsgSize < 0:
		cfg.MaxMsgSize = -1
	}
	return cfg
}

// StreamConfigs are the configurations of streams DPI and DPI_DLQ that
// Open makes for cfg (its zero values mean what Config says). A
// multi-site deployment starts from them and adds replicas and sources.
func StreamConfigs(cfg Config) (dpi, dlq jetstream.StreamConfig) {
	cfg = cfg.withDefaults()
	dpi = jetstream.StreamConfig{
		Name:        Stream,
		Description: "dpihub events, signed CloudEvents",
		Subjects:    []string{subject.All},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      cfg.MaxAge,
		MaxBytes:    cfg.MaxBytes,
		MaxMsgSize:  cfg.MaxMsgSize,
		Discard:     jetstream.DiscardNew,
		Duplicates:  DuplicateWindow,
	}
	dlq = jetstream.StreamConfig{
		Name:        DLQStream,
		Description: "dpihub dead letters: refused messages with the reason",
		Subjects:    []string{DLQSubjects},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      DLQMaxAge,
		MaxBytes:    DLQMaxBytes,
		MaxMsgSize:  DLQMaxMsgSize(cfg.MaxMsgSize),
		Discard:     jetstream.DiscardOld,
		Duplicates:  DuplicateWindow,
	}
	return dpi, dlq
}

// Open creates or updates streams DPI and DPI_DLQ on js.
func Open(ctx context.Context, js jetstream.JetStream, cfg Config) (*Bus, error) {
	cfg = cfg.withDefaults()
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Metrics == nil {
		cfg.Metrics, _ = NewMetrics(nil) // registers nothing, cannot fail
	}
	if cfg.Attach {
		b := &Bus{js: js, log: cfg.Logger, metrics: cfg.Metrics, maxMsgSize: -1}
		for _, name := range []string{Stream, DLQStream} {
			s, err := js.Stream(ctx, name)
			if err != nil {
				return nil, fmt.Errorf("stream %s: %w (is the hub running?)", name, err)
			}
			if name == Stream {
				b.maxMsgSize = s.CachedInfo().Config.MaxMsgSize
			}
		}
		return b, nil
	}
	dpi, dlq := StreamConfigs(cfg)
	for _, sc := range []jetstream.StreamConfig{dpi, dlq} {
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return nil, fmt.Errorf("set up stream %s: %w", sc.Name, err)
		}
	}
	cfg.Logger.Info("streams set up", zap.Int64("max_bytes", cfg.MaxBytes), zap.Int32("max_msg_size", cfg.MaxMsgSize),
		zap.Int64("dlq_max_bytes", DLQMaxBytes), zap.Int32("dlq_max_msg_size", DLQMaxMsgSize(cfg.MaxMsgSize)))
	return &Bus{js: js, log: cfg.Logger, metrics: cfg.Metrics, maxMsgSize: cfg.MaxMsgSize}, nil
}

// JetStream returns the JetStream context the bus uses.
func (b *Bus) JetStream() jetstream.JetStream { return b.js }
