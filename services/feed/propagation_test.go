package feed_test

import (
	"testing"
	"time"

	"github.com/dpihub/dpihub/services/feed"
)

func TestQuantileIsTheNearestRank(t *testing.T) {
	ds := func(hs ...int) []time.Duration {
		out := make([]time.Duration, len(hs))
		for i, h := range hs {
			out[i] = time.Duration(h) * time.Hour
		}
		return out
	}
	tests := []struct {
		name string
		ds   []time.Duration
		q    float64
		want time.Duration
	}{
		{"no values give zero", nil, 0.5, 0},
		{"one value is every quantile", ds(3), 0.9, 3 * time.Hour},
		{"the median of four is the second", ds(4, 1, 3, 2), 0.5, 2 * time.Hour},
		{"the 90th of ten is the ninth", ds(10, 9, 8, 7, 6, 5, 4, 3, 2, 1), 0.9, 9 * time.Hour},
		{"the 90th of eleven is the tenth", ds(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11), 0.9, 10 * time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := feed.Quantile(tc.ds, tc.q); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestComputePropagationListsTheSlowestFirstWithMonthlyTrends(t *testing.T) {
	jan := time.Date(2025, 1, 10, 0, 0, 0, 0, time.UTC)
	mar := time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC)
	s := func(cc, p string, pub time.Time, h int) feed.PropagationSample {
		return feed.PropagationSample{Country: cc, Project: p, Published: pub, Has: pub.Add(time.Duration(h) * time.Hour)}
	}
	p := feed.ComputePropagation([]feed.PropagationSample{
		s("ke", "a", jan, 10), s("ke", "a", mar, 20), s("ke", "b", mar, 30),
		s("ph", "a", jan, 1), s("ph", "b", jan, 2),
	})
	if got := p.Months; len(got) != 2 || got[0] != "2025-01" || got[1] != "2025-03" {
		t.Fatalf("months %q", got)
	}
	if p.Countries[0].Name != "ke" || p.Countries[0].N != 3 || time.Duration(p.Countries[0].Median) != 20*time.Hour || time.Duration(p.Countries[0].P90) != 30*time.Hour {
		t.Fatalf("slowest %+v", p.Countries[0])
	}
	if tr := p.Countries[1].Trend; p.Countries[1].Name != "ph" || tr[0] == nil || time.Duration(*tr[0]) != time.Hour || tr[1] != nil {
		t.Fatalf("Philippines %+v", p.Countries[1])
	}
	if p.Projects[0].Name != "a" || p.All.N != 5 || time.Duration(p.All.Median) != 10*time.Hour {
		t.Fatalf("projects %+v, all %+v", p.Projects, p.All)
	}
}
