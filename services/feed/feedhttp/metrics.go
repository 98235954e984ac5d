package feedhttp

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dpihub/dpihub/events/metrics"
)

// Metrics are the handler's own collectors: requests by route and status
// code, the time to answer them, open streams, and the time to propagate
// of the handler's store (propagation_metrics.go).
type Metrics struct {
	requests *prometheus.CounterVec   // route, code
	seconds  *prometheus.HistogramVec // route
	streams  prometheus.Gauge
	// fanoutReads counts the stream fan-out's reads of the store: one
	// per notification however many streams are open.
	fanoutReads prometheus.Counter
	dropped     prometheus.Counter // streams dropped for falling behind
	propagation *propagationCollector
}

// NewMetrics creates the handler's collectors and registers them with reg
// (nil: not registered), as events/metrics.Register does: collectors of a
// handler made before on the same registry are reused, so a feed restarted
// in one process keeps counting on the same series; any other clash is an
// error.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := newMetrics()
	err := errors.Join(
		metrics.Register(reg, &m.requests),
		metrics.Register(reg, &m.seconds),
		metrics.Register(reg, &m.streams),
		metrics.Register(reg, &m.fanoutReads),
		metrics.Register(reg, &m.dropped),
		metrics.Register(reg, &m.propagation),
	)
	if err != nil {
		return nil, fmt.Errorf("feed HTTP: %w", err)
	}
	return m, nil
}

// newMetrics creates the collectors without registering them.
func newMetrics() *Metrics {
	return &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dpihub_feed_http_requests_total", Help: "HTTP requests to the feed, by route and status code.",
		}, []string{"route", "code"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "dpihub_feed_http_request_duration_seconds", Help: "Time to answer feed HTTP requests (streams excluded), by route.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 9),
		}, []string{"route"}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dpihub_feed_sse_streams", Help: "Open server-sent event streams.",
		}),
		fanoutReads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dpihub_feed_sse_fanout_reads_total", Help: "Reads of the store by the streams' fan-out: one per notification of applied events, shared by every stream.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dpihub_feed_sse_dropped_total", Help: "Streams dropped (connection closed) for falling behind; their clients resume with Last-Event-ID.",
		}),
		propagation: newPropagationCollector(),
	}
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// instrument counts requests by route pattern (not by path, so the label
// set stays small).
func (m *Metrics) instrument(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		m.requests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
		if route != "GET /api/v1/stream" {
			m.seconds.WithLabelValues(route).Observe(time.Since(start).Seconds())
		}
	})
}
