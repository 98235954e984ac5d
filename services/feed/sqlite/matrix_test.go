package sqlite_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/services/feed"
	"github.com/dpihub/dpihub/services/feed/feedbus/feedgen"
	"github.com/dpihub/dpihub/services/feed/sqlite"
)

// campaignStore is a store holding a campaign of n countries and fixes,
// with every fix read back the plain way (Fixes): what the campaign
// views are checked against.
func campaignStore(t testing.TB, countries, fixes int) (*sqlite.Store, []feed.Fix, []string) {
	t.Helper()
	st := openStore(t)
	ctx := context.Background()
	if err := st.ApplyBatch(ctx, feedgen.Campaign{Countries: countries, Fixes: fixes, Seed: 7}.Records()); err != nil {
		t.Fatal(err)
	}
	var all []feed.Fix
	for before := uint64(0); ; {
		page, err := st.Fixes(ctx, "", before, events.MaxPageLimit)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if len(page) < events.MaxPageLimit {
			break
		}
		before = page[len(page)-1].Seq
	}
	if len(all) != fixes {
		t.Fatalf("the store has %d fixes, want %d", len(all), fixes)
	}
	return st, all, feedgen.CampaignCountries(countries)
}

// cellOf is country cc's state for f, as the matrix shows it.
func cellOf(f feed.Fix, cc string) string {
	if cc == f.Country {
		return events.VerdictOrigin
	}
	for _, a := range f.Assessments {
		if a.Country == cc {
			return a.Verdict
		}
	}
	return events.VerdictPending
}

func TestFixMatrixPagesThroughEveryFixOnceUnderEachFilter(t *testing.T) {
	st, all, countries := campaignStore(t, 12, 130)
	ctx := context.Background()
	cut := all[len(all)/2].Published
	filters := []struct {
		name string
		f    feed.FixFilter
		keep func(feed.Fix) bool
	}{
		{"no filter", feed.FixFilter{}, func(feed.Fix) bool { return true }},
		{"a project", feed.FixFilter{Project: feedgen.Projects[1]}, func(f feed.Fix) bool { return f.Project == feedgen.Projects[1] }},
		{"an origin country", feed.FixFilter{Country: "ke"}, func(f feed.Fix) bool { return f.Country == "ke" }},
		{"published before a time", feed.FixFilter{PublishedBefore: cut}, func(f feed.Fix) bool { return f.Published.Before(cut) }},
		{"any CVE", feed.FixFilter{CVE: feed.CVEAny}, func(f feed.Fix) bool { return len(f.CVEs) > 0 }},
	}
	for _, v := range append([]string{events.VerdictPending}, events.Verdicts()...) {
		filters = append(filters, struct {
			name string
			f    feed.FixFilter
			keep func(feed.Fix) bool
		}{"verdict " + v, feed.FixFilter{Verdict: v}, func(f feed.Fix) bool {
			for _, cc := range countries {
				if cellOf(f, cc) == v {
					return true
				}
			}
			return false
		}})
	}
	for _, c := range all {
		if len(c.CVEs) > 0 {
			cve := c.CVEs[0]
			filters = append(filters, struct {
				name string
				f    feed.FixFilter
				keep func(feed.Fix) bool
			}{"one CVE", feed.FixFilter{CVE: cve}, func(f feed.Fix) bool { return slices.Contains(f.CVEs, cve) }})
			break
		}
	}
	for _, tc := range filters {
		t.Run(tc.name+" lists exactly the fixes it keeps, newest first", func(t *testing.T) {
			var want []string
			for _, f := range all {
				if tc.keep(f) {
					want = append(want, f.ID)
				}
			}
			if len(want) == 0 {
				t.Fatal("the campaign has no fix for this filter: the test proves nothing")
			}
			var got []string
			f := tc.f
			f.Limit = 17
			for pages := 0; ; pages++ {
				p, err := st.FixMatrix(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				if p.Total != len(want) {
					t.Fatalf("total %d, want %d", p.Total, len(want))
				}
				for _, x := range p.Fixes {
					got = append(got, x.ID)
				}
				if p.Next == "" {
					break
				}
				if pages > 100 {
					t.Fatal("the pages do not end")
				}
				f.Cursor = p.Next
			}
			if !slices.Equal(got, want) {
				t.Fatalf("pages list %d fixes %v\nwant %d %v", len(got), got, len(want), want)
			}
		})
	}
	t.Run("a cursor the store did not make is a bad query", func(t *testing.T) {
		if _, err := st.FixMatrix(ctx, feed.FixFilter{Cursor: "!!"}); !errors.Is(err, feed.ErrBadQuery) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestFixesLackingAreTheCountrysGapsRanked(t *testing.T) {
	st, all, countries := campaignStore(t, 12, 130)
	ctx := context.Background()
	for _, cc := range []string{countries[0], countries[len(countries)-1]} {
		t.Run("for "+cc, func(t *testing.T) {
			var want []feed.LackingFix
			for _, f := range all {
				for _, l := range feed.CountriesLacking(f, countries) {
					if l.Country != cc {
						continue
					}
					carriers := 1
					for _, x := range countries {
						if x != f.Country && (cellOf(f, x) == events.VerdictPresent || adopted(f, x)) {
							carriers++
						}
					}
					want = append(want, feed.LackingFix{ID: f.ID, Country: f.Country, Project: f.Project, Title: f.Title, CVEs: f.CVEs, Published: f.Published, State: l.State, Carriers: carriers})
				}
			}
			slices.SortFunc(want, feed.LackingOrder)
			got, total, err := st.FixesLacking(ctx, cc, "", events.MaxPageLimit)
			if err != nil {
				t.Fatal(err)
			}
			if total != len(want) || len(got) != len(want) {
				t.Fatalf("%d fixes (total %d), want %d", len(got), total, len(want))
			}
			for i := range want {
				g, w := got[i], want[i]
				if g.ID != w.ID || g.State != w.State || g.Carriers != w.Carriers || !g.Published.Equal(w.Published) {
					t.Fatalf("#%d: %+v\nwant %+v", i, g, w)
				}
			}
			few, total2, err := st.FixesLacking(ctx, cc, "", 5)
			if err != nil || len(few) != 5 || total2 != total || few[0].ID != want[0].ID {
				t.Fatalf("a limit of 5: %d fixes, total %d, err %v", len(few), total2, err)
			}
		})
	}
}

func adopted(f feed.Fix, cc string) bool {
	for _, a := range f.Assessments {
		if a.Country == cc {
			return a.AdoptedAt != nil
		}
	}
	return false
}

func TestFixContentIsThePublicationsBody(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	diff := "diff --git a/x.go b/x.go\n--- a/x.go\n+++ b/x.go\n@@ -1 +1 @@\n-a\n+b\n"
	pub := func(cc, id string, at time.Time) events.FixPublished {
		return events.FixPublished{FixID: id, Title: "Fix x", Message: "Fix x.\n\nBecause.", Author: events.Person{Name: "Dev"},
			Commit: strings.Repeat("c", 40), UpstreamBase: strings.Repeat("b", 40), PatchID: "0123456789abcdef0123456789abcdef01234567", Files: []string{"x.go"}, Diff: diff,
			References: &events.References{CVEs: []string{"CVE-2025-1234"}}}
	}
	apply(t, st, feed.Record{Event: newEvent(t, "ma", pub("ma", "ma-fix-1", t0), t0, "e1"), Seq: 1, Received: t0})
	apply(t, st, feed.Record{Event: newEvent(t, "ph", pub("ph", "ph-fix-9", t0.Add(time.Hour)), t0.Add(time.Hour), "e2"), Seq: 2, Received: t0.Add(time.Hour)})
	c, err := st.FixContent(ctx, "ma-fix-1")
	if err != nil {
		t.Fatal(err)
	}
	if c.Message != "Fix x.\n\nBecause." || c.Diff != diff || c.Commit != strings.Repeat("c", 40) || c.References == nil || c.References.CVEs[0] != "CVE-2025-1234" {
		t.Fatalf("content %+v", c)
	}
	if len(c.SamePatch) != 1 || c.SamePatch[0].ID != "ph-fix-9" || c.SamePatch[0].Country != "ph" {
		t.Fatalf("same patch-id elsewhere: %+v", c.SamePatch)
	}
	if _, err := st.FixContent(ctx, "ma-fix-404"); !errors.Is(err, feed.ErrNotFound) {
		t.Fatalf("unknown fix: %v", err)
	}
}

func TestPropagationSamplesAreWhenEachCountryHadEachFix(t *testing.T) {
	st, all, countries := campaignStore(t, 12, 130)
	ctx := context.Background()
	want := map[string]time.Time{} // fix/country -> had it
	for _, f := range all {
		for _, a := range f.Assessments {
			switch {
			case a.AdoptedAt != nil:
				want[f.ID+"/"+a.Country] = *a.AdoptedAt
			case a.Verdict == events.VerdictPresent:
				want[f.ID+"/"+a.Country] = f.Published.Add(time.Duration(a.TimeToAssess))
			}
		}
	}
	got, err := st.PropagationSamples(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || len(got) == 0 {
		t.Fatalf("%d samples, want %d", len(got), len(want))
	}
	n := 0
	for _, f := range all {
		for _, s := range got {
			if s.Project == f.Project && s.Published.Equal(f.Published) {
				if w, ok := want[f.ID+"/"+s.Country]; !ok || !w.Equal(s.Has) {
					t.Fatalf("%s/%s had it at %v, want %v (%v)", f.ID, s.Country, s.Has, w, ok)
				}
				n++
			}
		}
	}
	if n != len(want) {
		t.Fatalf("%d samples matched a fix, want %d", n, len(want))
	}
	one, err := st.PropagationSamples(ctx, feedgen.Projects[0])
	if err != nil || len(one) == 0 || len(one) >= len(got) {
		t.Fatalf("one project: %d samples of %d, %v", len(one), len(got), err)
	}

	t.Run("the longest-open fixes are the oldest with a pending column", func(t *testing.T) {
		var want []feed.OpenFix
		for i := len(all) - 1; i >= 0 && len(want) < 10; i-- {
			f := all[i]
			pending := 0
			for _, cc := range countries {
				if cellOf(f, cc) == events.VerdictPending && !adopted(f, cc) {
					pending++
				}
			}
			if pending > 0 {
				want = append(want, feed.OpenFix{ID: f.ID, Pending: pending})
			}
		}
		got, err := st.LongestOpen(ctx, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%d fixes, want %d", len(got), len(want))
		}
		for i := range want {
			if got[i].ID != want[i].ID || got[i].Pending != want[i].Pending {
				t.Fatalf("#%d: %s with %d pending, want %s with %d", i, got[i].ID, got[i].Pending, want[i].ID, want[i].Pending)
			}
		}
	})
}
