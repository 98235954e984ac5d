package feedbus

import (
	"context"
	"errors"
	"time"

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
	// BatchSize is the most events applied in one transaction (0:
	// DefaultBatchSize).
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

// before looks at the store once before a batch is applied and returns
// what to observe after it is committed (nil: nothing): a fix reaches a
// country once, so a propagation time is recorded when the country's
// first assessment or adoption (or, for those that came first, the fix
// itself) is applied, and never for a replayed event.
//
// A country's second assessment, or a fix's second publication, in the
// same batch does not count again; an assessment whose fix comes later in
// the batch is counted by the fix. The store is read once for the batch
// and, after it, once for the fixes it published: a read per event was
// half the cost of the live ingest.
func (p *projector) before(ctx context.Context, rs []feed.Record) func(context.Context) {
	seen := map[string]bool{}
	var (
		facts []fixFact
		ids   []string
	)
	for _, r := range rs {
		f, ok := factOf(r)
		if !ok || seen[f.key()] {
			continue
		}
		seen[f.key()] = true
		facts = append(facts, f)
		ids = append(ids, f.fix)
	}
	if len(facts) == 0 {
		return nil
	}
	known, err := p.fixesByID(ctx, ids)
	if err != nil {
		return nil // the batch's propagation times are lost, not its events
	}
	var (
		obs       []func()
		published []fixFact
	)
	for _, x := range facts {
		f, ok := known[x.fix]
		switch {
		case x.what == factPublished:
			if !ok {
				published = append(published, x)
			}
		case !ok:
		case x.what == factAssessed && !assessed(f, x.country):
			obs = append(obs, func() { p.m.TimeToAssess.WithLabelValues(x.country).Observe(seconds(x.at.Sub(f.Published))) })
		case x.what == factAdopted && !adopted(f, x.country):
			obs = append(obs, func() { p.m.TimeToAdopt.WithLabelValues(x.country).Observe(seconds(x.at.Sub(f.Published))) })
		}
	}
	if len(obs) == 0 && len(published) == 0 {
		return nil
	}
	return func(ctx context.Context) {
		for _, o := range obs {
			o()
		}
		if len(published) == 0 {
			return
		}
		ids := make([]string, len(published))
		for i, x := range published {
			ids[i] = x.fix
		}
		now, err := p.fixesByID(ctx, ids)
		if err != nil {
			return
		}
		for _, x := range published {
			f, ok := now[x.fix]
			if !ok || f.EventID != x.eventID {
				continue
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
}

func (p *projector) fixesByID(ctx context.Context, ids []string) (map[string]feed.Fix, error) {
	fixes, err := p.st.FixesByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	m := make(map[string]feed.Fix, len(fixes))
	for _, f := range fixes {
		m[f.ID] = f
	}
	return m, nil
}

// A fixFact is what an event says about a fix's propagation.
type fixFact struct {
	what         string // fact*
	fix, country string // country: "" for factPublished
	eventID      string
	at           time.Time
}

const (
	factPublished = "published"
	factAssessed  = "assessed"
	factAdopted   = "adopted"
)

func (f fixFact) key() string { return f.what + "\x00" + f.fix + "\x00" + f.country }

func factOf(r feed.Record) (fixFact, bool) {
	e, pl := r.Event, r.Payload
	if pl == nil {
		var err error
		if pl, err = events.Decode(e); err != nil {
			return fixFact{}, false
		}
	}
	country, _ := e.Extensions()[events.ExtCountry].(string)
	x := fixFact{country: country, eventID: e.ID(), at: e.Time()}
	switch pl := pl.(type) {
	case *events.FixAssessed:
		x.what, x.fix = factAssessed, pl.FixID
	case *events.FixAdopted:
		x.what, x.fix = factAdopted, pl.FixID
	case *events.FixPublished:
		x.what, x.fix, x.country = factPublished, pl.FixID, ""
	default:
		return fixFact{}, false
	}
	return x, true
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
