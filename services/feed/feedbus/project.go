package feedbus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/metrics"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/services/feed"
)

// DefaultName is the durable consumer's default name.
const DefaultName = "feed"

// Config configures Project. Verifier is required; the zero value of the
// rest works.
type Config struct {
	// Name of the durable consumer (default "feed"). A restarted
	// projector with the same name resumes where it stopped.
	Name string
	// Verifier checks every event's signature. Share one per process.
	Verifier *sign.Verifier
	// Registerer gets the propagation histograms (nil: not registered).
	Registerer prometheus.Registerer
	// AckWait is how long the server waits before it redelivers an event
	// whose handler has not answered, e.g. after a crash (0: the bus
	// default, 30s).
	AckWait time.Duration
}

// Metrics are the projector's collectors.
type Metrics struct {
	// TimeToAssess is publication -> first assessment of a fix, by
	// assessing country.
	TimeToAssess *prometheus.HistogramVec
	// TimeToAdopt is publication -> adoption of a fix, by adopting country.
	TimeToAdopt *prometheus.HistogramVec
}

// NewMetrics creates the histograms and registers them with reg (nil: not
// registered) through events/metrics.Register: histograms already
// registered under the same names are reused, so two projectors can share
// a registry; any other clash is an error.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	// From a second to about 48 days.
	buckets := prometheus.ExponentialBuckets(1, 4, 12)
	m := &Metrics{
		TimeToAssess: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dpihub_fix_time_to_assess_seconds",
			Help:    "Time from a fix's publication to its first assessment by a country, by assessing country.",
			Buckets: buckets,
		}, []string{"country"}),
		TimeToAdopt: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dpihub_fix_time_to_adopt_seconds",
			Help:    "Time from a fix's publication to its adoption by a country, by adopting country.",
			Buckets: buckets,
		}, []string{"country"}),
	}
	if err := errors.Join(metrics.Register(reg, &m.TimeToAssess), metrics.Register(reg, &m.TimeToAdopt)); err != nil {
		return nil, err
	}
	return m, nil
}

// Project starts the live projection of dpi.> into st: a durable consumer
// (bus.Consume, so decode, Verify and Validate run first and refused
// events are dead-lettered) whose handler applies each event with its
// stream sequence and stored time. It returns once the consumer runs;
// Stop ends it, as does cancelling ctx.
func Project(ctx context.Context, b *bus.Bus, st feed.Store, cfg Config) (*bus.Consumer, error) {
	if cfg.Verifier == nil {
		return nil, errors.New("feed projection: a Verifier is required")
	}
	if cfg.Name == "" {
		cfg.Name = DefaultName
	}
	m, err := NewMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("feed projection: %w", err)
	}
	start, err := resumePoint(ctx, b, st, cfg.Name)
	if err != nil {
		return nil, fmt.Errorf("feed projection: %w", err)
	}
	p := &projector{st: st, m: m}
	c, err := b.Consume(ctx, bus.ConsumerConfig{
		StartSeq: start,
		Name:     cfg.Name,
		Verifier: cfg.Verifier,
		// The store is idempotent by event id; remembering ids in memory
		// as well would only cost memory.
		Dedupe:  storeDedupes{},
		AckWait: cfg.AckWait,
	}, p.handle)
	if err != nil {
		return nil, fmt.Errorf("feed projection: %w", err)
	}
	return c, nil
}

// resumePoint is where a new consumer named name starts: after the
// store's last event. The store, not the consumer, says how far the
// projection got: a consumer that acknowledged beyond it, or was made to
// start beyond it (the database was replaced by an older copy), is
// removed, to be made again from there; otherwise the events in between
// would never reach the store.
func resumePoint(ctx context.Context, b *bus.Bus, st feed.Store, name string) (uint64, error) {
	last, err := st.LastSeq(ctx)
	if err != nil {
		return 0, err
	}
	js := b.JetStream()
	c, err := js.Consumer(ctx, bus.Stream, name)
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
	case err != nil:
		return 0, fmt.Errorf("consumer %s: %w", name, err)
	case c.CachedInfo().AckFloor.Stream > last:
		// (A consumer made to start at n has n-1 as its floor already.)
		if err := js.DeleteConsumer(ctx, bus.Stream, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return 0, fmt.Errorf("consumer %s is past the store (seq %d > %d) and cannot be reset: %w", name, c.CachedInfo().AckFloor.Stream, last, err)
		}
	}
	return last + 1, nil
}

// storeDedupes is a bus.Deduper that leaves de-duplication to the store.
type storeDedupes struct{}

func (storeDedupes) Seen(context.Context, string) (bool, error) { return false, nil }
func (storeDedupes) Mark(context.Context, string) error         { return nil }

type projector struct {
	st feed.Store
	m  *Metrics
}

func (p *projector) handle(ctx context.Context, e event.Event) error {
	msg, ok := bus.MessageFrom(ctx)
	if !ok || msg.StreamSeq == 0 {
		return bus.Permanent(fmt.Errorf("event %s came without its stream sequence", e.ID()))
	}
	obs := p.before(ctx, e)
	if err := p.st.Apply(ctx, e, msg.StreamSeq, msg.Time); err != nil {
		return fmt.Errorf("apply event %s (seq %d): %w", e.ID(), msg.StreamSeq, err)
	}
	if obs != nil {
		obs(ctx)
	}
	return nil
}

// before looks at the store before an event about a fix is applied and
// returns what to observe after: a fix reaches a country once, so a
// propagation time is recorded when the country's first assessment or
// adoption (or, for those that came first, the fix itself) is applied,
// and never for a replayed event.
func (p *projector) before(ctx context.Context, e event.Event) func(context.Context) {
	pl, err := events.Decode(e)
	if err != nil {
		return nil
	}
	country, _ := e.Extensions()[events.ExtCountry].(string)
	switch pl := pl.(type) {
	case *events.FixAssessed:
		f, err := p.st.Fix(ctx, pl.FixID)
		if err != nil || assessed(f, country) {
			return nil
		}
		return func(ctx context.Context) {
			p.m.TimeToAssess.WithLabelValues(country).Observe(seconds(e.Time().Sub(f.Published)))
		}
	case *events.FixAdopted:
		f, err := p.st.Fix(ctx, pl.FixID)
		if err != nil || adopted(f, country) {
			return nil
		}
		return func(ctx context.Context) {
			p.m.TimeToAdopt.WithLabelValues(country).Observe(seconds(e.Time().Sub(f.Published)))
		}
	case *events.FixPublished:
		if _, err := p.st.Fix(ctx, pl.FixID); !errors.Is(err, feed.ErrNotFound) {
			return nil
		}
		return func(ctx context.Context) {
			f, err := p.st.Fix(ctx, pl.FixID)
			if err != nil || f.EventID != e.ID() {
				return
			}
			for _, a := range f.Assessments {
				if a.How != feed.HowAdopted {
					p.m.TimeToAssess.WithLabelValues(a.Country).Observe(time.Duration(a.TimeToAssess).Seconds())
				}
				if a.TimeToAdopt != nil {
					p.m.TimeToAdopt.WithLabelValues(a.Country).Observe(time.Duration(*a.TimeToAdopt).Seconds())
				}
			}
		}
	}
	return nil
}

func assessed(f feed.Fix, country string) bool {
	for _, a := range f.Assessments {
		if a.Country == country && a.How != feed.HowAdopted {
			return true
		}
	}
	return false
}

func adopted(f feed.Fix, country string) bool {
	for _, a := range f.Assessments {
		if a.Country == country && a.AdoptedAt != nil {
			return true
		}
	}
	return false
}

// seconds is d in seconds, never negative (clocks differ).
func seconds(d time.Duration) float64 { return max(0, d).Seconds() }
