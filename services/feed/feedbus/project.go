package feedbus

import (
	"context"
	"errors"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/dpihub/dpihub/events"
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
	// that was not acknowledged, e.g. after a crash (0: 30s).
	AckWait time.Duration
	// BatchSize is the most events applied in one transaction (0: 256).
	BatchSize int
	// BatchWait is the longest the first event of a batch waits for
	// others before the batch is applied (0: 20ms).
	BatchWait time.Duration
	// CheckEvery is how often the projector compares its position with
	// the stream's, to notice a stale consumer (0: 1s).
	CheckEvery time.Duration
	// Applied, when set, is called with each batch once it is committed,
	// in stream order (the feed's live streams hear of events so).
	Applied func([]feed.Record)
	// OnHealth, when set, is called on every change of Health.
	OnHealth func(ok bool, reason string)
	// Logger (nil: no logs).
	Logger *zap.Logger
}

// Metrics are the projector's collectors.
type Metrics struct {
	// TimeToAssess is publication -> first assessment of a fix, by
	// assessing country.
	TimeToAssess *prometheus.HistogramVec
	// TimeToAdopt is publication -> adoption of a fix, by adopting country.
	TimeToAdopt *prometheus.HistogramVec
	// Lag is how many stream sequences the store is behind the stream.
	Lag prometheus.Gauge
	// Resets counts the times the projector made its consumer again, by
	// reason (Reset*).
	Resets *prometheus.CounterVec
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
	m.Lag = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "dpihub_feed_lag_events",
		Help: "Stream sequences the feed's store is behind stream DPI.",
	})
	m.Resets = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dpihub_feed_resets_total",
		Help: "Times the feed made its consumer again and re-read from its store's position, by reason.",
	}, []string{"reason"})
	if err := errors.Join(metrics.Register(reg, &m.TimeToAssess), metrics.Register(reg, &m.TimeToAdopt),
		metrics.Register(reg, &m.Lag), metrics.Register(reg, &m.Resets)); err != nil {
		return nil, err
	}
	return m, nil
}

type projector struct {
	st feed.Store
	m  *Metrics
}

// before looks at the store before an event about a fix is applied and
// returns what to observe after: a fix reaches a country once, so a
// propagation time is recorded when the country's first assessment or
// adoption (or, for those that came first, the fix itself) is applied,
// and never for a replayed event.
//
// Events of one batch are all looked at before the batch is applied, so
// seen (per batch) keeps a country's second assessment, or a fix's
// second publication, in the same batch from counting again; an
// assessment whose fix comes later in the batch is counted by the fix.
func (p *projector) before(ctx context.Context, e event.Event, seen map[string]bool) func(context.Context) {
	pl, err := events.Decode(e)
	if err != nil {
		return nil
	}
	country, _ := e.Extensions()[events.ExtCountry].(string)
	switch pl := pl.(type) {
	case *events.FixAssessed:
		if once(seen, "assessed", pl.FixID, country) {
			return nil
		}
		f, err := p.st.Fix(ctx, pl.FixID)
		if err != nil || assessed(f, country) {
			return nil
		}
		return func(ctx context.Context) {
			p.m.TimeToAssess.WithLabelValues(country).Observe(seconds(e.Time().Sub(f.Published)))
		}
	case *events.FixAdopted:
		if once(seen, "adopted", pl.FixID, country) {
			return nil
		}
		f, err := p.st.Fix(ctx, pl.FixID)
		if err != nil || adopted(f, country) {
			return nil
		}
		return func(ctx context.Context) {
			p.m.TimeToAdopt.WithLabelValues(country).Observe(seconds(e.Time().Sub(f.Published)))
		}
	case *events.FixPublished:
		if once(seen, "published", pl.FixID, "") {
			return nil
		}
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

// once reports whether (what, fix, country) was seen already, and marks it.
func once(seen map[string]bool, what, fix, country string) bool {
	k := what + "\x00" + fix + "\x00" + country
	if seen[k] {
		return true
	}
	seen[k] = true
	return false
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
