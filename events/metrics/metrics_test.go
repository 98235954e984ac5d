package metrics_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dpihub/dpihub/events/metrics"
)

func counter(help string) prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Name: "dpihub_test_total", Help: help})
}

func TestASecondRegistrationCountsOnTheFirstSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	first, second := counter("h"), counter("h")
	if err := metrics.Register(reg, &first); err != nil {
		t.Fatal(err)
	}
	if err := metrics.Register(reg, &second); err != nil {
		t.Fatal(err)
	}
	first.Inc()
	second.Inc()
	if got := testutil.ToFloat64(first); got != 2 {
		t.Fatalf("the series counts %v, want 2: the second registration did not reuse the first", got)
	}
}

func TestAClashIsAnErrorNotAPanic(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := counter("one help")
	if err := metrics.Register(reg, &c); err != nil {
		t.Fatal(err)
	}
	other := counter("another help") // same name, other description
	if err := metrics.Register(reg, &other); err == nil {
		t.Fatal("a clashing collector was accepted")
	}
}

func TestNoRegistryRegistersNothing(t *testing.T) {
	c := counter("h")
	if err := metrics.Register(nil, &c); err != nil || c == nil {
		t.Fatalf("Register(nil) = %v, collector %v", err, c)
	}
}

func TestProcessCollectorsRegisterTwice(t *testing.T) {
	reg := prometheus.NewRegistry()
	for range 2 {
		if err := metrics.RegisterProcess(reg); err != nil {
			t.Fatal(err)
		}
	}
	mfs, err := reg.Gather()
	if err != nil || len(mfs) == 0 {
		t.Fatalf("gathered %d families, err %v", len(mfs), err)
	}
}
