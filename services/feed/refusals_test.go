package feed_test

import (
	"slices"
	"testing"
	"time"

	"github.com/dpihub/dpihub/services/feed"
)

func TestRefusalLogCountsEachRefusedEventOnce(t *testing.T) {
	now := time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)
	l := feed.NewRefusalLog()
	changed := l.Changed()
	l.Add(feed.Refusal{Seq: 1, Time: now.Add(-48 * time.Hour), Country: "ke", Reason: "schema-invalid", StreamSeq: 10, Consumer: "feed"})
	select {
	case <-changed:
	default:
		t.Fatal("Add did not say the log changed")
	}
	l.Add(feed.Refusal{Seq: 2, Time: now.Add(-time.Hour), Country: "ma", Reason: "unsigned", StreamSeq: 11, Consumer: "feed"})
	l.Add(feed.Refusal{Seq: 3, Time: now.Add(-time.Hour), Country: "ma", Reason: "unsigned", StreamSeq: 11, Consumer: "node-ph"}) // the same event
	l.Add(feed.Refusal{Seq: 2, Time: now, Country: "ma", Reason: "unsigned", StreamSeq: 12})                                      // read again
	l.Add(feed.Refusal{Seq: 4, Time: now.Add(-30 * time.Minute), Country: "ph", Reason: "not-authorized", StreamSeq: 13})

	s := l.Summary(now, 7, 10)
	if s.Total != 3 || s.Forgeries != 2 || s.RecentForgeries != 2 || s.Last != 4 {
		t.Fatalf("total %d, forgeries %d (recent %d), last %d; want 3, 2 (2), 4", s.Total, s.Forgeries, s.RecentForgeries, s.Last)
	}
	if s.LatestForgery == nil || s.LatestForgery.Seq != 4 || !s.LatestForgery.Forgery {
		t.Fatalf("latest forgery %+v", s.LatestForgery)
	}
	if len(s.ByDay) != 7 || s.ByDay[6].Name != "2025-06-30" || s.ByDay[6].N != 2 || s.ByDay[4].N != 1 {
		t.Fatalf("by day %+v", s.ByDay)
	}
	if s.ByCountry[0].Name != "ke" && s.ByCountry[0].N != 1 || len(s.ByCountry) != 3 {
		t.Fatalf("by country %+v", s.ByCountry)
	}
	// Over time: ma's and ph's forgeries on the last day, ke's refusal two
	// days before; by reason the same.
	for _, c := range s.ByCountry {
		want := map[string][]int{"ke": {0, 0, 0, 0, 1, 0, 0}, "ma": {0, 0, 0, 0, 0, 0, 1}, "ph": {0, 0, 0, 0, 0, 0, 1}}[c.Name]
		if !slices.Equal(c.Days, want) {
			t.Errorf("%s by day: %v, want %v", c.Name, c.Days, want)
		}
	}
	for _, c := range s.ByReason {
		if sum := c.Days[0] + c.Days[1] + c.Days[2] + c.Days[3] + c.Days[4] + c.Days[5] + c.Days[6]; sum != c.N {
			t.Errorf("reason %s: %d a day over 7 days, %d in all", c.Name, sum, c.N)
		}
	}
	if s.ByDay[0].Days != nil {
		t.Errorf("a day has a series: %+v", s.ByDay[0])
	}
	if got := l.After(1, 10); len(got) != 2 || got[0].Seq != 4 || got[1].Seq != 2 {
		t.Fatalf("after 1: %+v", got)
	}
	if feed.ForgeryReason("schema-invalid") || !feed.ForgeryReason("key-of-other-country") {
		t.Fatal("ForgeryReason")
	}
}
