package feedhttp

import (
	"fmt"
	"html"
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/problem"
	"github.com/dpihub/dpihub/services/feed"
)

// WithRefusals shows the refused events of log (the dead-letter stream,
// which the feed service follows into it): /refused, /api/v1/refused, and
// on every page a notice of forgery attempts in the last day. Without it
// /refused says the feed does not follow them.
func WithRefusals(log *feed.RefusalLog) Option { return func(s *server) { s.refusals = log } }

// The refused-events view.
const (
	refusedDays   = 14  // days the counts by day cover
	refusedLatest = 50  // latest refusals on the page
	refusedAfter  = 200 // most refusals one poll gets
)

// forgeryNotice is the notice every page shows while there were forgery
// attempts in the last day.
type forgeryNotice struct {
	N      int
	Latest feed.Refusal
}

func (s *server) forgeryNotice() *forgeryNotice {
	if s.refusals == nil {
		return nil
	}
	sum := s.refusals.Summary(s.now(), 1, 0)
	if sum.RecentForgeries == 0 || sum.LatestForgery == nil {
		return nil
	}
	return &forgeryNotice{N: sum.RecentForgeries, Latest: *sum.LatestForgery}
}

func (s *server) apiRefused(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	if err := once(v, "after"); err != nil {
		problem.Error(w, r, s.log, err)
		return
	}
	log := s.refusals
	if log == nil {
		log = feed.NewRefusalLog()
	}
	if a := v.Get("after"); a != "" {
		seq, err := strconv.ParseUint(a, 10, 64)
		if err != nil {
			problem.Error(w, r, s.log, events.Errorf(events.ErrBadInput, "after %q is not a dead-letter sequence (a whole number)", a))
			return
		}
		rs := log.After(seq, refusedAfter)
		last := seq
		if len(rs) > 0 {
			last = rs[0].Seq
		}
		problem.WriteJSON(w, http.StatusOK, map[string]any{"refusals": rs, "last": last})
		return
	}
	problem.WriteJSON(w, http.StatusOK, log.Summary(s.now(), refusedDays, refusedLatest))
}

type refusedData struct {
	Following bool
	S         feed.RefusalSummary
	Chart     template.HTML
}

func (s *server) uiRefused(w http.ResponseWriter, r *http.Request) {
	d := refusedData{Following: s.refusals != nil}
	if s.refusals != nil {
		d.S = s.refusals.Summary(s.now(), refusedDays, refusedLatest)
		d.Chart = dayChart(d.S.ByDay)
	}
	s.render(w, r, http.StatusOK, "refused", view{Title: "Refused events", Nav: "refused", Data: d})
}

// dayBars draws a country's or a reason's refusals of each day as tiny
// bars, for a table's row; its label says the counts, oldest first.
func dayBars(days []int) template.HTML {
	top := 0
	for _, n := range days {
		top = max(top, n)
	}
	if top == 0 {
		return ""
	}
	const bw, h = 5, 16
	var b strings.Builder
	labels := make([]string, len(days))
	for i, n := range days {
		labels[i] = strconv.Itoa(n)
		if n == 0 {
			continue
		}
		bh := max(1, n*h/top)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d"/>`, i*(bw+1), h-bh, bw, bh)
	}
	return template.HTML(fmt.Sprintf(`<svg class="daybars" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="by day, oldest first: %s">%s</svg>`,
		len(days)*(bw+1), h, len(days)*(bw+1), h, strings.Join(labels, ", "), b.String()))
}

// dayChart draws the refusals of each day as a bar, its forgeries
// stacked at the bottom in red: a picture of the table under it.
func dayChart(days []feed.RefusalCount) template.HTML {
	if len(days) == 0 {
		return ""
	}
	top := 1
	for _, d := range days {
		top = max(top, d.N)
	}
	const w, h, bottom, plotH, left = 640, 170, 140, 120, 40
	step := float64(w-left-10) / float64(len(days))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart days" id="refused-chart" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-labelledby="refused-chart-title">`, w, h, w, h)
	b.WriteString(`<title id="refused-chart-title">Refused events by day, forgery attempts in red; the same figures are in the table below</title>`)
	fmt.Fprintf(&b, `<line class="grid" x1="%d" y1="%d" x2="%d" y2="%d"/><text class="tick" x="%d" y="%d">%d</text><text class="tick" x="%d" y="%d">0</text>`,
		left, bottom-plotH, w-10, bottom-plotH, left-6, bottom-plotH+4, top, left-6, bottom+4)
	for i, d := range days {
		x := float64(left) + float64(i)*step + 2
		all := float64(d.N) / float64(top) * plotH
		forged := float64(d.Forgeries) / float64(top) * plotH
		fmt.Fprintf(&b, `<g data-day="%s"><title>%s: %d refused, %d forgery attempts</title>`, html.EscapeString(d.Name), html.EscapeString(d.Name), d.N, d.Forgeries)
		fmt.Fprintf(&b, `<rect class="other" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, x, bottom-all, step-4, all-forged)
		fmt.Fprintf(&b, `<rect class="forged" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, x, bottom-forged, step-4, forged)
		if i%2 == 0 || len(days) <= 7 {
			fmt.Fprintf(&b, `<text class="month" x="%.1f" y="%d">%s</text>`, x+(step-4)/2, bottom+16, html.EscapeString(d.Name[5:]))
		}
		b.WriteString(`</g>`)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
