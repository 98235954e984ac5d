package feedhttp

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// RenderMarkdown renders a proposal body as the board does.
func RenderMarkdown(src string) string { return string(newMarkdown().render(src)) }

// TimeLeft is what the board says of a deadline as of now.
func TimeLeft(now, deadline time.Time) string { return timeLeft(now, deadline) }

// DroppedCounter counts streams dropped for falling behind.
func (m *Metrics) DroppedCounter() prometheus.Counter { return m.dropped }

// FanoutReadsCounter counts the fan-out's reads of the store.
func (m *Metrics) FanoutReadsCounter() prometheus.Counter { return m.fanoutReads }

// CountryName is the name the UI shows for a country code.
func CountryName(cc string) string { return countryName(cc) }
