package feed

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/dpihub/dpihub/events/sign"
)

// Refused events: what the hub's consumers refused for good and put in
// the dead-letter stream (DPI_DLQ), as the coordinator sees it. The
// stream is the record; a RefusalLog is a bounded summary of it in
// memory, filled from the stream by package feedbus (FollowRefusals) and
// read by the UI.

// Refusal is one refused event.
type Refusal struct {
	Seq      uint64    `json:"seq"`  // its sequence in DPI_DLQ
	Time     time.Time `json:"time"` // when it was refused
	Country  string    `json:"country,omitempty"`
	Reason   string    `json:"reason"`
	Detail   string    `json:"detail,omitempty"`
	Subject  string    `json:"subject"`        // where it was published
	Type     string    `json:"type,omitempty"` // its event type, when it is a CloudEvent
	Source   string    `json:"source,omitempty"`
	Consumer string    `json:"consumer"` // which consumer refused it first
	// StreamSeq is its sequence in DPI (0: unknown); several consumers
	// refuse the same event, and the log counts it once.
	StreamSeq uint64 `json:"stream_seq,omitempty"`
	// Forgery: refused because its signature or its sender's authority
	// did not hold (ForgeryReason).
	Forgery bool `json:"forgery"`
}

// ForgeryReason reports whether a refusal for reason means that someone
// sent what its claimed sender did not, or could not: no signature, a
// bad or foreign one, a tampered event, or an event its sender may not
// send. Malformed events and consumers giving up are not forgeries.
func ForgeryReason(reason string) bool {
	switch sign.Reason(reason) {
	case sign.ReasonUnsigned, sign.ReasonBadSignature, sign.ReasonTamperedData, sign.ReasonTamperedAttribute,
		sign.ReasonUnknownKey, sign.ReasonKeyOutsideWindow, sign.ReasonKeyRevoked, sign.ReasonWrongCountryKey,
		sign.ReasonSubjectMismatch:
		return true
	}
	return reason == "not-authorized"
}

// RefusalLogSize is how many of the latest refusals a RefusalLog keeps
// whole; its counts cover every refusal it was given.
const RefusalLogSize = 1000

// RefusalLog summarises refusals: counts by day, country and reason, and
// the latest ones whole. Safe for concurrent use.
type RefusalLog struct {
	mu      sync.Mutex
	latest  []Refusal // oldest first, at most RefusalLogSize
	counts  map[refusalKey]int
	events  map[uint64]bool // DPI sequences counted
	last    uint64          // highest DLQ sequence added
	changed chan struct{}   // closed and replaced on each Add
}

type refusalKey struct {
	day, country, reason string
	forgery              bool
}

// NewRefusalLog returns an empty log.
func NewRefusalLog() *RefusalLog {
	return &RefusalLog{counts: map[refusalKey]int{}, events: map[uint64]bool{}, changed: make(chan struct{})}
}

// Add records r, once: a DLQ sequence at or below the last one added is
// ignored (a reader that starts again), and so is a second refusal of
// the same DPI event by another consumer.
func (l *RefusalLog) Add(r Refusal) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r.Seq <= l.last {
		return
	}
	l.last = r.Seq
	if r.StreamSeq != 0 {
		if l.events[r.StreamSeq] {
			return
		}
		l.events[r.StreamSeq] = true
	}
	r.Forgery = ForgeryReason(r.Reason)
	l.counts[refusalKey{r.Time.UTC().Format(time.DateOnly), r.Country, r.Reason, r.Forgery}]++
	l.latest = append(l.latest, r)
	if len(l.latest) > RefusalLogSize {
		l.latest = slices.Delete(l.latest, 0, len(l.latest)-RefusalLogSize)
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

// Changed is closed at the next Add: wait on it for news.
func (l *RefusalLog) Changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed
}

// After returns the refusals kept with a DLQ sequence above seq, newest
// first, at most limit.
func (l *RefusalLog) After(seq uint64, limit int) []Refusal {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := []Refusal{}
	for i := len(l.latest) - 1; i >= 0 && len(out) < limit; i-- {
		if l.latest[i].Seq <= seq {
			break
		}
		out = append(out, l.latest[i])
	}
	return out
}

// RefusalCount is a number of refusals of one country, reason or day.
type RefusalCount struct {
	Name      string `json:"name"`
	N         int    `json:"n"`
	Forgeries int    `json:"forgeries"`
	// Days are a country's or a reason's counts on each day of ByDay,
	// oldest first: how it went over time (none in ByDay itself).
	Days []int `json:"days,omitempty"`
}

// RefusalSummary is what the refused-events view shows.
type RefusalSummary struct {
	Total     int            `json:"total"`
	Forgeries int            `json:"forgeries"`
	Last      uint64         `json:"last"`       // the highest DLQ sequence seen
	ByCountry []RefusalCount `json:"by_country"` // most first
	ByReason  []RefusalCount `json:"by_reason"`  // most first
	ByDay     []RefusalCount `json:"by_day"`     // YYYY-MM-DD, the last days, oldest first
	// Recent are the forgeries of the last day; LatestForgery the latest
	// of all, if any.
	RecentForgeries int       `json:"recent_forgeries"`
	LatestForgery   *Refusal  `json:"latest_forgery,omitempty"`
	Latest          []Refusal `json:"latest"` // newest first
}

// Summary sums the log up as of now: counts by country and reason, by
// day over the last days days, and the latest refusals, at most latest.
func (l *RefusalLog) Summary(now time.Time, days, latest int) RefusalSummary {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := RefusalSummary{Last: l.last, Latest: []Refusal{}}
	byCountry, byReason, byDay := map[string]*RefusalCount{}, map[string]*RefusalCount{}, map[string]*RefusalCount{}
	dayIndex := map[string]int{}
	add := func(m map[string]*RefusalCount, name, day string, n int, forgery, series bool) {
		c := m[name]
		if c == nil {
			c = &RefusalCount{Name: name}
			if series {
				c.Days = make([]int, days)
			}
			m[name] = c
		}
		c.N += n
		if forgery {
			c.Forgeries += n
		}
		if i, ok := dayIndex[day]; ok && series {
			c.Days[i] += n
		}
	}
	first := now.UTC().AddDate(0, 0, -(days - 1)).Format(time.DateOnly)
	for d := range days {
		day := now.UTC().AddDate(0, 0, d-(days-1)).Format(time.DateOnly)
		byDay[day] = &RefusalCount{Name: day}
		dayIndex[day] = d
	}
	for k, n := range l.counts {
		s.Total += n
		if k.forgery {
			s.Forgeries += n
		}
		add(byCountry, k.country, k.day, n, k.forgery, true)
		add(byReason, k.reason, k.day, n, k.forgery, true)
		if k.day >= first {
			add(byDay, k.day, k.day, n, k.forgery, false)
		}
	}
	list := func(m map[string]*RefusalCount, byName bool) []RefusalCount {
		out := make([]RefusalCount, 0, len(m))
		for _, c := range m {
			out = append(out, *c)
		}
		slices.SortFunc(out, func(a, b RefusalCount) int {
			if byName {
				return cmp.Compare(a.Name, b.Name)
			}
			return cmp.Or(cmp.Compare(b.N, a.N), cmp.Compare(a.Name, b.Name))
		})
		return out
	}
	s.ByCountry, s.ByReason, s.ByDay = list(byCountry, false), list(byReason, false), list(byDay, true)
	for i := len(l.latest) - 1; i >= 0; i-- {
		r := l.latest[i]
		if len(s.Latest) < latest {
			s.Latest = append(s.Latest, r)
		}
		if r.Forgery {
			if s.LatestForgery == nil {
				rr := r
				s.LatestForgery = &rr
			}
			if now.Sub(r.Time) <= 24*time.Hour {
				s.RecentForgeries++
			}
		}
	}
	return s
}
