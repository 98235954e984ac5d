package bus

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dpihub/dpihub/events/metrics"
)

// Metrics are the Prometheus collectors of the bus. Share one per process.
type Metrics struct {
	Published      *prometheus.CounterVec   // type
	PublishFailed  *prometheus.CounterVec   // type
	Consumed       *prometheus.CounterVec   // consumer, outcome: ok|duplicate|retry|dead-lettered
	DeadLettered   *prometheus.CounterVec   // consumer, reason
	HandlerSeconds *prometheus.HistogramVec // consumer
}

// NewMetrics creates the collectors and registers them with reg (nil: not
// registered, e.g. in tests), as package metrics does: a second bus in the
// process counts on the same series.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dpihub_events_published_total", Help: "Events published and acknowledged by JetStream, by type.",
		}, []string{"type"}),
		PublishFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dpihub_events_publish_failed_total", Help: "Events whose publish failed (invalid, unsigned or not acknowledged), by type.",
		}, []string{"type"}),
		Consumed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dpihub_events_consumed_total", Help: "Messages taken by consumers, by consumer and outcome.",
		}, []string{"consumer", "outcome"}),
		DeadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dpihub_events_dead_lettered_total", Help: "Messages sent to the dead-letter stream, by consumer and reason.",
		}, []string{"consumer", "reason"}),
		HandlerSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "dpihub_handler_duration_seconds", Help: "Time handlers took, by consumer.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}, []string{"consumer"}),
	}
	err := errors.Join(
		metrics.Register(reg, &m.Published), metrics.Register(reg, &m.PublishFailed),
		metrics.Register(reg, &m.Consumed), metrics.Register(reg, &m.DeadLettered),
		metrics.Register(reg, &m.HandlerSeconds))
	if err != nil {
		return nil, err
	}
	return m, nil
}
