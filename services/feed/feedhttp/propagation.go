package feedhttp

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/problem"
	"github.com/dpihub/dpihub/services/feed"
)

// LongestOpenShown is how many of the longest-open fixes the propagation
// page and API list.
const LongestOpenShown = 20

// propagation reads the figures a request asks for (?project=).
func (s *server) propagation(r *http.Request) (string, feed.Propagation, error) {
	v := r.URL.Query()
	if err := once(v, "project"); err != nil {
		return "", feed.Propagation{}, err
	}
	project := strings.TrimSpace(v.Get("project"))
	if project != "" && !events.ValidProject(project) {
		return "", feed.Propagation{}, events.Errorf(events.ErrBadInput, "project %q is not a project slug ([a-z0-9][a-z0-9-]*)", project)
	}
	// The figures are a function of the events applied: while the store's
	// last sequence stays the same, the last answer is the answer; while
	// events arrive, it is for PropagationMaxAge.
	seq, err := s.st.LastSeq(r.Context())
	if err != nil {
		return "", feed.Propagation{}, err
	}
	now := s.now()
	if p, ok := s.props.get(project, seq, now); ok {
		return project, p, nil
	}
	samples, err := s.st.PropagationSamples(r.Context(), project)
	if err != nil {
		return "", feed.Propagation{}, err
	}
	p := feed.ComputePropagation(samples)
	if p.LongestOpen, err = s.st.LongestOpen(r.Context(), project, LongestOpenShown); err != nil {
		return "", feed.Propagation{}, err
	}
	if p.Countries == nil {
		p.Countries, p.Projects, p.Months = []feed.PropagationStats{}, []feed.PropagationStats{}, []string{}
	}
	s.props.put(project, seq, now, p)
	return project, p, nil
}

// PropagationMaxAge is how long the propagation figures are served again
// while new events arrive: they are medians and percentiles over weeks,
// and working them out costs 60 to 100 ms at 50 countries and 1,000
// fixes, which, redone for every request of a feed that never stops
// receiving, put the page's p95 over 100 ms.
const PropagationMaxAge = 5 * time.Second

// propagationCache keeps the last figures worked out for each project
// ("" for all) with the store's last sequence they were worked out at and
// when. A page read while no event arrives costs a lookup; while events
// arrive, one request in PropagationMaxAge works them out again. Its
// entries are read only, shared by every request that gets them.
type propagationCache struct {
	mu      sync.Mutex
	entries map[string]cachedPropagation
}

type cachedPropagation struct {
	seq uint64
	at  time.Time
	p   feed.Propagation
}

// maxCachedProjects bounds the cache: one entry per project asked for.
const maxCachedProjects = 256

func (c *propagationCache) get(project string, seq uint64, now time.Time) (feed.Propagation, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[project]
	fresh := e.seq == seq || !now.Before(e.at) && now.Sub(e.at) < PropagationMaxAge
	return e.p, ok && fresh
}

func (c *propagationCache) put(project string, seq uint64, at time.Time, p feed.Propagation) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= maxCachedProjects {
		c.entries = map[string]cachedPropagation{}
	}
	c.entries[project] = cachedPropagation{seq: seq, at: at, p: p}
}

func (s *server) apiPropagation(w http.ResponseWriter, r *http.Request) {
	_, p, err := s.propagation(r)
	if err != nil {
		problem.Error(w, r, s.log, err)
		return
	}
	problem.WriteJSON(w, http.StatusOK, p)
}

type propagationData struct {
	Project    string
	Projects   []option
	P          feed.Propagation
	Chart      template.HTML // slowest countries, median and p90
	TrendChart template.HTML // the monthly median, all countries
	Sparks     map[string]template.HTML
	Max        time.Duration
}

func (s *server) uiPropagation(w http.ResponseWriter, r *http.Request) {
	project, p, err := s.propagation(r)
	if err != nil {
		s.uiFail(w, r, err)
		return
	}
	_, projects, err := s.filterOptions(r, "", project)
	if err != nil {
		s.uiFail(w, r, err)
		return
	}
	d := propagationData{Project: project, Projects: projects, P: p, Sparks: map[string]template.HTML{}}
	d.Chart = barChart(p.Countries)
	d.TrendChart = trendChart(p.Months, p.All.Trend)
	for _, c := range p.Countries {
		d.Sparks[c.Name] = sparkline(c.Trend)
	}
	for _, c := range p.Projects {
		d.Sparks["project:"+c.Name] = sparkline(c.Trend)
	}
	s.render(w, r, http.StatusOK, "propagation", view{Title: "Time to propagate", Nav: "propagation", Data: d})
}

// The charts are SVG written on the server: no script draws them, and
// each has a table of the same figures next to it (the charts are
// aria-hidden pictures of those tables, with a title each). Every value
// is a number or a name escaped here.

// axisMax is a round maximum for an axis that must reach d, with its
// ticks: steps of 1, 2 or 5 times a power of ten minutes, hours or days
// (whichever d is counted in), so that the labels are round.
func axisMax(d time.Duration) (time.Duration, []time.Duration) {
	unit := 24 * time.Hour
	switch {
	case d < time.Hour:
		unit = time.Minute
	case d < 48*time.Hour:
		unit = time.Hour
	}
	x := max(float64(d)/float64(unit), 1)
	p := math.Pow(10, math.Floor(math.Log10(x)))
	var step float64
	for _, m := range []float64{0.2, 0.5, 1, 2} {
		if x <= m*p*5 {
			step = m * p
			break
		}
	}
	if step == 0 {
		step = 2 * p
	}
	n := int(math.Ceil(x / step))
	ticks := make([]time.Duration, n+1)
	for i := range ticks {
		ticks[i] = time.Duration(float64(i) * step * float64(unit))
	}
	return ticks[n], ticks
}

// tickLabel is an axis label: 0, or the duration as people say it.
func tickLabel(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	return humanDuration(d)
}

// chart geometry, in SVG user units (pixels at 100 %).
const (
	chartLabelW = 150
	chartPlotW  = 520
	chartRowH   = 16
	chartTop    = 24
)

// barChart draws one row per country: its p90 as a pale bar, its median
// as a dark bar over it.
func barChart(cs []feed.PropagationStats) template.HTML {
	if len(cs) == 0 {
		return ""
	}
	var top time.Duration
	for _, c := range cs {
		top = max(top, time.Duration(c.P90))
	}
	axis, ticks := axisMax(top)
	scale := func(d feed.Duration) float64 { return float64(d) / float64(axis) * chartPlotW }
	h := chartTop + len(cs)*chartRowH + 8
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart bars" id="propagation-chart" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-labelledby="propagation-chart-title">`,
		chartLabelW+chartPlotW+20, h, chartLabelW+chartPlotW+20, h)
	b.WriteString(`<title id="propagation-chart-title">Time to propagate by country, slowest first: median (dark) and 90th percentile (pale); the same figures are in the table below</title>`)
	for _, t := range ticks {
		x := chartLabelW + float64(t)/float64(axis)*chartPlotW
		fmt.Fprintf(&b, `<line class="grid" x1="%.1f" y1="%d" x2="%.1f" y2="%d"/><text class="tick" x="%.1f" y="14">%s</text>`,
			x, chartTop-4, x, h-4, x, html.EscapeString(tickLabel(t)))
	}
	for i, c := range cs {
		y := chartTop + i*chartRowH
		name := html.EscapeString(countryName(c.Name))
		fmt.Fprintf(&b, `<g data-country="%s"><title>%s: median %s, 90th percentile %s, %d fixes</title>`,
			html.EscapeString(c.Name), name, html.EscapeString(humanDuration(time.Duration(c.Median))), html.EscapeString(humanDuration(time.Duration(c.P90))), c.N)
		fmt.Fprintf(&b, `<text class="label" x="%d" y="%d">%s</text>`, chartLabelW-6, y+12, name)
		fmt.Fprintf(&b, `<rect class="p90" x="%d" y="%d" width="%.2f" height="%d"/>`, chartLabelW, y+2, scale(c.P90), chartRowH-4)
		fmt.Fprintf(&b, `<rect class="median" x="%d" y="%d" width="%.2f" height="%d"/></g>`, chartLabelW, y+2, scale(c.Median), chartRowH-4)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// trendChart draws the monthly median as a line with a dot per month.
func trendChart(months []string, trend []*feed.Duration) template.HTML {
	if len(months) == 0 {
		return ""
	}
	var top time.Duration
	for _, d := range trend {
		if d != nil {
			top = max(top, time.Duration(*d))
		}
	}
	axis, ticks := axisMax(top)
	const w, h, left, bottom, plotH = 640, 220, 70, 190, 160
	step := float64(w-left-20) / float64(max(len(months)-1, 1))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart trend" id="trend-chart" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-labelledby="trend-chart-title">`, w, h, w, h)
	b.WriteString(`<title id="trend-chart-title">Median time to propagate by month of publication; the same figures are in the table below</title>`)
	for _, t := range ticks {
		y := bottom - float64(t)/float64(axis)*plotH
		fmt.Fprintf(&b, `<line class="grid" x1="%d" y1="%.1f" x2="%d" y2="%.1f"/><text class="tick" x="%d" y="%.1f">%s</text>`,
			left, y, w-10, y, left-6, y+4, html.EscapeString(tickLabel(t)))
	}
	var pts []string
	for i, m := range months {
		x := float64(left) + float64(i)*step
		fmt.Fprintf(&b, `<text class="month" x="%.1f" y="%d">%s</text>`, x, bottom+18, html.EscapeString(m))
		if trend[i] == nil {
			continue
		}
		y := bottom - float64(*trend[i])/float64(axis)*plotH
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
		fmt.Fprintf(&b, `<circle data-month="%s" cx="%.1f" cy="%.1f" r="4"><title>%s: median %s</title></circle>`,
			html.EscapeString(m), x, y, html.EscapeString(m), html.EscapeString(humanDuration(time.Duration(*trend[i]))))
	}
	// The line goes under the dots.
	line := fmt.Sprintf(`<polyline class="line" points="%s"/>`, strings.Join(pts, " "))
	out := b.String()
	i := strings.Index(out, "<circle")
	if i < 0 {
		i = len(out)
	}
	return template.HTML(out[:i] + line + out[i:] + `</svg>`)
}

// sparkline is a tiny line of a trend, for a table's row; the row's
// cells say the figures.
func sparkline(trend []*feed.Duration) template.HTML {
	var top time.Duration
	for _, d := range trend {
		if d != nil {
			top = max(top, time.Duration(*d))
		}
	}
	if top == 0 || len(trend) < 2 {
		return ""
	}
	const w, h = 80, 18
	var pts []string
	for i, d := range trend {
		if d == nil {
			continue
		}
		x := float64(i) * w / float64(len(trend)-1)
		y := h - 1 - float64(*d)/float64(top)*(h-2)
		pts = append(pts, strconv.FormatFloat(x, 'f', 1, 64)+","+strconv.FormatFloat(y, 'f', 1, 64))
	}
	return template.HTML(fmt.Sprintf(`<svg class="spark" viewBox="0 0 %d %d" width="%d" height="%d" aria-hidden="true"><polyline points="%s"/></svg>`, w, h, w, h, strings.Join(pts, " ")))
}
