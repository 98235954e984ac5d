package feed

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// Time to propagate: how long after a fix's publication a country's
// fork has it, by adopting it or because its first assessment found it
// there already (present). The feed's figures per country and per
// project are the median and the 90th percentile of these times, and
// their trend: the median by month of publication.

// PropagationSample is one country's time to have one fix.
type PropagationSample struct {
	Country   string
	Project   string
	Published time.Time // when the fix was published
	Has       time.Time // when the country had it: adopted, or first assessed present
}

// Took is how long the sample took, never negative.
func (s PropagationSample) Took() time.Duration { return max(0, s.Has.Sub(s.Published)) }

// PropagationStats are the figures of one country or project.
type PropagationStats struct {
	Name   string   `json:"name"` // a country code or a project slug
	N      int      `json:"n"`    // fixes it took (countries that took a project's fixes)
	Median Duration `json:"median"`
	P90    Duration `json:"p90"`
	// Trend is the median by month of publication, one per month of
	// Propagation.Months; a month without a sample is null.
	Trend []*Duration `json:"trend"`
}

// OpenFix is a fix that countries still have not assessed, the oldest
// first: the longest-open fixes.
type OpenFix struct {
	ID        string    `json:"id"`
	Country   string    `json:"country"`
	Project   string    `json:"project"`
	Title     string    `json:"title"`
	Published time.Time `json:"published"`
	Pending   int       `json:"pending"` // countries that have not assessed it
}

// Propagation is the feed's time-to-propagate figures.
type Propagation struct {
	All       PropagationStats   `json:"all"`
	Months    []string           `json:"months"`    // YYYY-MM of each trend point, oldest first
	Countries []PropagationStats `json:"countries"` // slowest first (by median, then p90)
	Projects  []PropagationStats `json:"projects"`  // slowest first
	// LongestOpen is filled by the caller (a store's LongestOpen).
	LongestOpen []OpenFix `json:"longest_open"`
}

// ComputePropagation works out the figures of samples: overall, per
// country and per project, slowest first, with monthly trends. It reads
// each sample's month once and sorts each group's durations once per
// figure.
func ComputePropagation(samples []PropagationSample) Propagation {
	var p Propagation
	type point struct {
		took  time.Duration
		month int // index into p.Months
	}
	keys := make([]int, len(samples)) // year*12 + month
	seen := map[int]bool{}
	for i, s := range samples {
		t := s.Published.UTC()
		keys[i] = t.Year()*12 + int(t.Month()) - 1
		seen[keys[i]] = true
	}
	ms := make([]int, 0, len(seen))
	for k := range seen {
		ms = append(ms, k)
	}
	slices.Sort(ms)
	index := map[int]int{}
	for i, k := range ms {
		index[k] = i
		p.Months = append(p.Months, time.Date(k/12, time.Month(k%12+1), 1, 0, 0, 0, 0, time.UTC).Format("2006-01"))
	}
	all := make([]point, len(samples))
	byCountry, byProject := map[string][]point{}, map[string][]point{}
	for i, s := range samples {
		pt := point{took: s.Took(), month: index[keys[i]]}
		all[i] = pt
		byCountry[s.Country] = append(byCountry[s.Country], pt)
		byProject[s.Project] = append(byProject[s.Project], pt)
	}
	stats := func(name string, pts []point) PropagationStats {
		st := PropagationStats{Name: name, N: len(pts), Trend: make([]*Duration, len(ms))}
		ds := make([]time.Duration, len(pts))
		byMonth := make([][]time.Duration, len(ms))
		for i, pt := range pts {
			ds[i] = pt.took
			byMonth[pt.month] = append(byMonth[pt.month], pt.took)
		}
		st.Median, st.P90 = Duration(Quantile(ds, 0.5)), Duration(Quantile(ds, 0.9))
		for i, m := range byMonth {
			if len(m) > 0 {
				d := Duration(Quantile(m, 0.5))
				st.Trend[i] = &d
			}
		}
		return st
	}
	p.All = stats("all", all)
	for c, pts := range byCountry {
		p.Countries = append(p.Countries, stats(c, pts))
	}
	for pr, pts := range byProject {
		p.Projects = append(p.Projects, stats(pr, pts))
	}
	slowest := func(a, b PropagationStats) int {
		return cmp.Or(cmp.Compare(b.Median, a.Median), cmp.Compare(b.P90, a.P90), cmp.Compare(a.Name, b.Name))
	}
	slices.SortFunc(p.Countries, slowest)
	slices.SortFunc(p.Projects, slowest)
	return p
}

// Quantile is the q-quantile of ds by the nearest rank (the smallest
// value with at least q of the values at or below it); 0 for none. It
// sorts ds.
func Quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(math.Ceil(q*float64(len(ds)))) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}
