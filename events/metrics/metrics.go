// Package metrics is the one way dpihub registers Prometheus collectors.
//
// The policy: a collector registered again under the same name and labels
// is the one registered first, so a service restarted inside one process
// (the demo, tests, `dpihub serve`) keeps counting on the same series; any
// other clash is an error the caller returns, never a panic and never
// swallowed.
package metrics

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Register registers *c with reg. When reg already holds an equal
// collector of the same Go type, *c becomes that one. A nil reg registers
// nothing and leaves *c as it is (tests, and services told not to export
// metrics).
func Register[C prometheus.Collector](reg prometheus.Registerer, c *C) error {
	if reg == nil {
		return nil
	}
	err := reg.Register(*c)
	if err == nil {
		return nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if prev, ok := are.ExistingCollector.(C); ok {
			*c = prev
			return nil
		}
	}
	return fmt.Errorf("register metrics: %w", err)
}

// RegisterProcess registers the Go runtime's and the process's collectors,
// which every binary's /metrics serves.
func RegisterProcess(reg prometheus.Registerer) error {
	g, p := collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})
	return errors.Join(Register(reg, &g), Register(reg, &p))
}
