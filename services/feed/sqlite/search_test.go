package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/services/feed"
	"github.com/dpihub/dpihub/services/feed/sqlite"
)

// searchStore holds the catalog samples (ids ev-00 … ev-13, in catalog
// order) and the matrix story (matrix-0 … matrix-6).
func searchStore(t testing.TB) *sqlite.Store {
	t.Helper()
	st := openStore(t)
	rs := catalogRecords(t)
	apply(t, st, rs...)
	apply(t, st, matrixRecords(t, uint64(len(rs)+1))...)
	return st
}

func ids(page feed.Page) []string {
	out := []string{}
	for _, e := range page.Events {
		out = append(out, e.ID)
	}
	return out
}

func TestSearchFindsWhatTheQuerySays(t *testing.T) {
	ctx := context.Background()
	st := searchStore(t)
	matrix := func(is ...int) []string {
		var out []string
		for _, i := range is {
			out = append(out, fmt.Sprintf("matrix-%d", i))
		}
		return out
	}
	tests := []struct {
		name string
		q    feed.Query
		want []string
	}{
		{"a word in a fix's message", feed.Query{Q: "NullPointerException"}, []string{"ev-03"}},
		{"words in any case", feed.Query{Q: "nullpointerexception UPDATEDOCUMENTS"}, []string{"ev-03"}},
		{"a phrase in its order", feed.Query{Q: `"missing documents list"`}, []string{"ev-03"}},
		{"a phrase out of order finds nothing", feed.Query{Q: `"documents missing"`}, nil},
		{"a word in proposals and reactions", feed.Query{Q: "transliteration"}, []string{"ev-07", "ev-09", "ev-10"}},
		{"a prefix", feed.Query{Q: "translit*"}, []string{"ev-07", "ev-08", "ev-09", "ev-10"}},
		{"an excluded word", feed.Query{Q: "transliteration -query"}, []string{"ev-07", "ev-10"}},
		{"NOT excludes too", feed.Query{Q: "transliteration NOT query"}, []string{"ev-07", "ev-10"}},
		{"either of two words", feed.Query{Q: "NullPointerException OR transliteration"}, []string{"ev-03", "ev-07", "ev-09", "ev-10"}},
		{"AND between words", feed.Query{Q: "transliteration AND configuration"}, []string{"ev-10"}},
		{"a file by its name", feed.Query{Q: "file:IdRepoServiceImpl.java"}, []string{"ev-01", "ev-02", "ev-03"}},
		{"a file by its path, which conflicts name too", feed.Query{Q: "file:auth/TokenValidator.java"}, matrix(0, 2)},
		{"a file by a quoted path", feed.Query{Q: `file:"auth/TokenValidator"`}, matrix(0, 2)},
		{"a file path prefix", feed.Query{Q: "file:auth/Token*"}, matrix(0, 2)},
		{"a file name is not a word elsewhere", feed.Query{Q: "file:transliteration"}, nil},
		{"a patch-id prefix", feed.Query{Q: "patchid:d2510"}, []string{"ev-01", "ev-03", "ev-04", "ev-05"}},
		{"a patch-id prefix in upper case", feed.Query{Q: "patchid:ABCDEF01"}, matrix(0, 1, 2, 3, 4, 5, 6)},
		{"a whole patch-id", feed.Query{Q: "patchid:abcdef0123456789abcdef0123456789abcdef01"}, matrix(0, 1, 2, 3, 4, 5, 6)},
		{"a CVE", feed.Query{Q: "cve:CVE-2024-31337"}, matrix(0)},
		{"a CVE without its prefix", feed.Query{Q: "cve:2024-31337"}, matrix(0)},
		{"another CVE", feed.Query{Q: "cve:CVE-2024-31338"}, nil},
		{"a field and a word", feed.Query{Q: "patchid:abcdef01 conflicts"}, matrix(2)},
		{"a country", feed.Query{Q: "patchid:abcdef01", Country: "ph"}, matrix(1, 3, 4, 6)},
		{"a type and a field", feed.Query{Q: "patchid:abcdef01", Type: events.TypeFixAdopted}, matrix(4, 5, 6)},
		{"a type's full name", feed.Query{Type: events.TypeFixAdopted}, append([]string{"ev-05"}, matrix(4, 5, 6)...)},
		{"a project", feed.Query{Q: "NullPointerException", Project: project}, []string{"ev-03"}},
		{"another project", feed.Query{Q: "NullPointerException", Project: "mojaloop"}, nil},
		{"since", feed.Query{Q: "patchid:abcdef01", Since: t0.Add(3 * time.Hour)}, matrix(3, 4, 5, 6)},
		{"until", feed.Query{Q: "patchid:abcdef01", Until: t0.Add(3 * time.Hour)}, matrix(0, 1, 2)},
		{"since and until", feed.Query{Since: t0.Add(time.Hour), Until: t0.Add(3 * time.Hour)}, matrix(1, 2)},
		{"a country and a type without words", feed.Query{Country: "ph", Type: events.TypeProposalObjected}, []string{"ev-09"}},
		{"the heartbeat by its version", feed.Query{Q: `"v0.1.0"`}, []string{"ev-13"}},
		{"an empty query finds everything", feed.Query{Q: "   "}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := st.Events(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			got := ids(page)
			if tt.name == "an empty query finds everything" {
				if len(got) != 21 {
					t.Errorf("%d events, want 21", len(got))
				}
				return
			}
			if !slices.IsSortedFunc(page.Events, func(a, b feed.Event) int { return int(b.Seq) - int(a.Seq) }) {
				t.Errorf("not newest first: %v", got)
			}
			sort.Strings(got)
			want := tt.want
			if want == nil {
				want = []string{}
			}
			if !slices.Equal(got, want) {
				t.Errorf("found %v, want %v", got, want)
			}
		})
	}
}

func TestPagesCoverEveryEventOnce(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	var rs []feed.Record
	for i := range 137 {
		p := events.ProposalCommented{ProposalID: "ma-prop-0001", Comment: fmt.Sprintf("comment %d", i)}
		if i%3 == 0 {
			p.Comment += " zebra"
		}
		cc := []string{"ma", "ph", "lk"}[i%3/2]
		at := t0.Add(time.Duration(i) * time.Minute)
		rs = append(rs, feed.Record{Event: newEvent(t, cc, p, at, fmt.Sprintf("c-%03d", i)), Seq: uint64(10 + 2*i), Received: at})
	}
	apply(t, st, rs...)
	tests := []struct {
		name  string
		q     feed.Query
		match func(i int) bool
	}{
		{"all events, 20 a page", feed.Query{Limit: 20}, func(int) bool { return true }},
		{"all events, the default page", feed.Query{}, func(int) bool { return true }},
		{"one event a page", feed.Query{Limit: 1, Country: "ph"}, func(i int) bool { return i%3 == 2 }},
		{"a word, 7 a page", feed.Query{Q: "zebra", Limit: 7}, func(i int) bool { return i%3 == 0 }},
		{"a word and a country, 5 a page", feed.Query{Q: "comment", Country: "ma", Limit: 5}, func(i int) bool { return i%3 != 2 }},
		{"a page exactly as large as the result", feed.Query{Q: "zebra", Limit: 46}, func(i int) bool { return i%3 == 0 }},
		{"a limit above the maximum", feed.Query{Limit: 10_000}, func(int) bool { return true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want []uint64
			for i := len(rs) - 1; i >= 0; i-- {
				if tt.match(i) {
					want = append(want, rs[i].Seq)
				}
			}
			var got []uint64
			q := tt.q
			pages := 0
			for {
				page, err := st.Events(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				pages++
				limit := q.Limit
				if limit <= 0 {
					limit = events.DefaultPageLimit
				}
				if len(page.Events) > min(limit, events.MaxPageLimit) {
					t.Fatalf("page of %d events, limit %d", len(page.Events), limit)
				}
				for _, e := range page.Events {
					got = append(got, e.Seq)
				}
				if page.Next == "" {
					break
				}
				if len(page.Events) == 0 {
					t.Fatal("an empty page with a next cursor")
				}
				q.Cursor = page.Next
				if pages > 200 {
					t.Fatal("too many pages")
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("pages gave %v\nwant %v", got, want)
			}
		})
	}
}

func TestBadQueriesAreErrBadQuery(t *testing.T) {
	ctx := context.Background()
	st := searchStore(t)
	bad := []struct {
		name string
		q    feed.Query
	}{
		{"an unbalanced quote", feed.Query{Q: `"missing documents`}},
		{"an unbalanced quote after a word", feed.Query{Q: `fix "missing`}},
		{"a quote inside a word", feed.Query{Q: `foo"bar`}},
		{"a phrase glued to a word", feed.Query{Q: `"foo"bar`}},
		{"a lone OR", feed.Query{Q: "OR"}},
		{"OR at the start", feed.Query{Q: "OR fix"}},
		{"OR at the end", feed.Query{Q: "fix OR"}},
		{"two operators", feed.Query{Q: "fix AND OR patch"}},
		{"a lone NOT", feed.Query{Q: "NOT"}},
		{"NOT at the end", feed.Query{Q: "fix NOT"}},
		{"NOT before an excluded word", feed.Query{Q: "fix NOT -patch"}},
		{"a lone -", feed.Query{Q: "fix -"}},
		{"a double -", feed.Query{Q: "fix --patch"}},
		{"a lone *", feed.Query{Q: "*"}},
		{"a * inside a word", feed.Query{Q: "f*x"}},
		{"only excluded words", feed.Query{Q: "-fix -patch"}},
		{"only excluded words after OR", feed.Query{Q: "fix OR -patch"}},
		{"punctuation only", feed.Query{Q: "!!! ???"}},
		{"an empty phrase", feed.Query{Q: `""`}},
		{"file: with nothing", feed.Query{Q: "file:"}},
		{"file: with an empty quote", feed.Query{Q: `file:""`}},
		{"file: with punctuation", feed.Query{Q: "file:/"}},
		{"patchid: with nothing", feed.Query{Q: "patchid:"}},
		{"patchid: not hex", feed.Query{Q: "patchid:xyz123"}},
		{"patchid: too short", feed.Query{Q: "patchid:d25"}},
		{"cve: with nothing", feed.Query{Q: "cve:"}},
		{"cve: not a CVE", feed.Query{Q: "cve:log4shell"}},
		{"a control character", feed.Query{Q: "fix\x00"}},
		{"invalid UTF-8", feed.Query{Q: "fix \xff"}},
		{"too long", feed.Query{Q: strings.Repeat("fix ", 300)}},
		{"too many terms", feed.Query{Q: strings.Repeat("a ", 40)}},
		{"FTS5 syntax is not passed through", feed.Query{Q: "NEAR(fix patch)"}},
		{"a garbage cursor", feed.Query{Cursor: "!!!not base64"}},
		{"a cursor of another kind", feed.Query{Cursor: "YWJj"}},
		{"a negative cursor", feed.Query{Cursor: sqlite.EncodeCursor(0)}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			page, err := st.Events(ctx, tt.q)
			if tt.name == "FTS5 syntax is not passed through" {
				// NEAR(fix and patch) are words; nothing matches them
				// both, and nothing fails.
				if err != nil {
					t.Errorf("err %v", err)
				}
				return
			}
			if !errors.Is(err, feed.ErrBadQuery) {
				t.Errorf("Events(%+v) = %d events, %v; want ErrBadQuery", tt.q, len(page.Events), err)
			}
		})
	}
}

// TestFiltersAreTrustedYetNeverUnsafe: the store does not check the
// filters of a feed.Query (feedhttp does, once); a value that breaks the
// contract finds nothing, and never fails or changes a statement.
func TestFiltersAreTrustedYetNeverUnsafe(t *testing.T) {
	ctx := context.Background()
	st := searchStore(t)
	for _, q := range []feed.Query{
		{Country: "Morocco"},
		{Country: "PH"},
		{Type: "fix.adopted"},
		{Project: "Not A Slug"},
		{Country: "ph' OR '1'='1"},
		{Project: `x" OR meta : "y`, Q: "transliteration"},
		{Type: "'; DROP TABLE events; --"},
	} {
		page, err := st.Events(ctx, q)
		if err != nil || len(page.Events) != 0 {
			t.Errorf("Events(%+v) = %v, %v; want nothing and no error", q, ids(page), err)
		}
	}
	if page, err := st.Events(ctx, feed.Query{}); err != nil || len(page.Events) != 21 {
		t.Fatalf("after those, Events() = %d events, %v; want all 21", len(page.Events), err)
	}
}

func FuzzQuery(f *testing.F) {
	for _, s := range []string{
		"fix", `"missing documents"`, "translit*", "a OR b", "-x y", "file:auth/Token*",
		`file:"a b"`, "patchid:d2510", "cve:CVE-2024-1234", "NOT", `"`, "fix AND", "*", "NEAR(a b)",
		"a:b", "col:word", "^fix", "fix + patch", "{summary}: fix", "(fix)",
	} {
		f.Add(s, "")
	}
	f.Add("fix", sqlite.EncodeCursor(5))
	f.Add("", "MTA")
	st := searchStore(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, q, cursor string) {
		_, err := st.Events(ctx, feed.Query{Q: q, Cursor: cursor, Limit: 5})
		if err != nil && !errors.Is(err, feed.ErrBadQuery) {
			t.Fatalf("Events(%q, cursor %q): %v, want nil or ErrBadQuery", q, cursor, err)
		}
	})
}
