package webhook

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dpihub/dpihub/events/metrics"
)

// Results of dpihub_webhook_deliveries_total.
const (
	resultOK      = "ok"      // the receiver answered 2xx
	resultRetry   = "retry"   // an attempt failed and will be tried again
	resultDead    = "dead"    // the dispatcher gave up and dead-lettered the event
	resultSkipped = "skipped" // the event was not admitted and is not delivered
)

// collectors are the dispatcher's Prometheus collectors.
type collectors struct {
	deliveries    *prometheus.CounterVec // subscription, result
	seconds       prometheus.Histogram   // one observation per attempt
	subscriptions prometheus.Gauge
}

// newCollectors creates the collectors and registers them with reg (nil:
// none), as package metrics does: a dispatcher started again in the same
// process counts on the same series.
func newCollectors(reg prometheus.Registerer) (*collectors, error) {
	c := &collectors{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dpihub_webhook_deliveries_total",
			Help: "Webhook deliveries of proposal events, by subscription and result (ok, retry, dead, skipped).",
		}, []string{"subscription", "result"}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "dpihub_webhook_delivery_seconds",
			Help:    "Time a webhook delivery attempt took, answered or not.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12), // 1ms to 60s
		}),
		subscriptions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dpihub_webhook_subscriptions",
			Help: "Webhook subscriptions being delivered.",
		}),
	}
	err := errors.Join(metrics.Register(reg, &c.deliveries), metrics.Register(reg, &c.seconds),
		metrics.Register(reg, &c.subscriptions))
	if err != nil {
		return nil, err
	}
	return c, nil
}

// forget drops the series of a removed subscription, so that /metrics does
// not list it for ever.
func (c *collectors) forget(id string) {
	c.deliveries.DeletePartialMatch(prometheus.Labels{"subscription": id})
}
