package feedhttp

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dpihub/dpihub/services/feed"
)

// propagationCollector exports the figures of /propagation at each
// scrape, computed from the store as the page computes them:
//
//	dpihub_feed_time_to_propagate_seconds{country,quantile}
//	dpihub_feed_project_time_to_propagate_seconds{project,quantile}
//
// quantile is 0.5 or 0.9. A scrape costs what the page costs (about
// 25 ms at 50 countries and 1,000 fixes).
type propagationCollector struct {
	st                atomic.Pointer[feed.Store] // set by New; nil: nothing to export
	byCountry, byProj *prometheus.Desc
}

func newPropagationCollector() *propagationCollector {
	return &propagationCollector{
		byCountry: prometheus.NewDesc("dpihub_feed_time_to_propagate_seconds",
			"Time from a fix's publication until a country's fork has it (adopted, or first assessed present), by country: median (quantile 0.5) and 90th percentile.",
			[]string{"country", "quantile"}, nil),
		byProj: prometheus.NewDesc("dpihub_feed_project_time_to_propagate_seconds",
			"Time from a fix's publication until a country's fork has it, by project: median (quantile 0.5) and 90th percentile.",
			[]string{"project", "quantile"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *propagationCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.byCountry
	ch <- c.byProj
}

// Collect implements prometheus.Collector. A store that fails says
// nothing: the scrape keeps the other metrics.
func (c *propagationCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.st.Load()
	if st == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	samples, err := (*st).PropagationSamples(ctx, "")
	if err != nil {
		return
	}
	p := feed.ComputePropagation(samples)
	emit := func(d *prometheus.Desc, stats []feed.PropagationStats) {
		for _, s := range stats {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, time.Duration(s.Median).Seconds(), s.Name, "0.5")
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, time.Duration(s.P90).Seconds(), s.Name, "0.9")
		}
	}
	emit(c.byCountry, p.Countries)
	emit(c.byProj, p.Projects)
}
