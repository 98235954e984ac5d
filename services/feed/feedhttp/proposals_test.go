package feedhttp_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/dpihub/dpihub/events/problem"
	"github.com/dpihub/dpihub/services/feed"
	"github.com/dpihub/dpihub/services/feed/feedhttp"
	"github.com/dpihub/dpihub/services/feed/feedhttp/feedtest"
)

// newBoardFixture is a feed server over a store with the story and the
// board's proposals (feedtest.Board).
func newBoardFixture(t testing.TB, opts ...feedhttp.Option) *fixture {
	t.Helper()
	st := openStore(t)
	steps := story(t, storyBase)
	board, err := feedtest.Board(storyBase)
	if err != nil {
		t.Fatal(err)
	}
	steps = append(steps, board...)
	apply(t, st, 1, steps)
	srv := httptest.NewServer(feedhttp.New(st, opts...))
	t.Cleanup(srv.Close)
	return &fixture{st: st, srv: srv, steps: steps}
}

func proposalIDs(ps []feed.Proposal) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.ID)
	}
	return out
}

func TestProposalsAPISortsBySupportOrNewest(t *testing.T) {
	f := newBoardFixture(t)
	// Support (endorsements - objections, endorsements): ph-2026-11 +3
	// (3); lk-2026-07 +1 (2); ma-prop-0007 +1 (1, submitted at 72 min);
	// ph-2025-31 +1 (1, at 100 min); ma-prop-0009 0; ke-2026-02 -1 (1);
	// lk-2026-09 -1 (0).
	bySupport := []string{"ph-2026-11", "lk-2026-07", "ma-prop-0007", "ph-2025-31", "ma-prop-0009", "ke-2026-02", "lk-2026-09"}
	tests := []struct {
		name, query string
		want        []string
	}{
		{"without sort, by support", "", bySupport},
		{"an empty sort is the default", "?sort=", bySupport},
		{"by support", "?sort=support", bySupport},
		{"by newest submission", "?sort=newest", []string{"ph-2025-31", "ma-prop-0009", "lk-2026-09", "ke-2026-02", "ma-prop-0007", "ph-2026-11", "lk-2026-07"}},
		{"a project's, by support", "?project=mosip-id-repository&sort=support", slices.DeleteFunc(slices.Clone(bySupport), func(id string) bool { return id == "ke-2026-02" })},
		{"a project's, by newest", "?sort=newest&project=mosip-registration", []string{"ke-2026-02"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ps []feed.Proposal
			f.getJSON(t, "/api/v1/proposals"+tc.query, &ps)
			if got := proposalIDs(ps); !slices.Equal(got, tc.want) {
				t.Fatalf("GET /api/v1/proposals%s:\n got %v\nwant %v", tc.query, got, tc.want)
			}
		})
	}
}

func TestProposalsRefuseAnUnknownSort(t *testing.T) {
	f := newBoardFixture(t)
	for _, q := range []string{"sort=oldest", "sort=SUPPORT", "sort=support&sort=newest&project=nope!"} {
		t.Run("the API answers a problem for "+q, func(t *testing.T) {
			res, b := f.get(t, "/api/v1/proposals?"+q)
			if res.StatusCode != http.StatusBadRequest || res.Header.Get("Content-Type") != problem.ContentType {
				t.Fatalf("%s %q: %s", res.Status, res.Header.Get("Content-Type"), b)
			}
			var p problem.Problem
			if err := json.Unmarshal(b, &p); err != nil {
				t.Fatal(err)
			}
			if p.Type != problem.TypeInvalid || p.Status != 400 || p.Detail == "" {
				t.Fatalf("problem %+v", p)
			}
		})
	}
	t.Run("the API's problem names the orders", func(t *testing.T) {
		_, b := f.get(t, "/api/v1/proposals?sort=oldest")
		if !bytes.Contains(b, []byte("support")) || !bytes.Contains(b, []byte("newest")) {
			t.Fatalf("the detail does not say what to use: %s", b)
		}
	})
	t.Run("the board answers a page that says why", func(t *testing.T) {
		res, b := f.get(t, "/proposals?sort=oldest")
		if res.StatusCode != http.StatusBadRequest || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("%s %q", res.Status, res.Header.Get("Content-Type"))
		}
		if !bytes.Contains(b, []byte("oldest")) {
			t.Fatalf("the page does not name the bad order: %.600s", b)
		}
	})
}

// rawProposals fetches /api/v1/proposals and returns each proposal as its
// JSON fields, so that a test sees which fields are there at all.
func rawProposals(t *testing.T, f *fixture) map[string]map[string]json.RawMessage {
	t.Helper()
	var ps []map[string]json.RawMessage
	f.getJSON(t, "/api/v1/proposals", &ps)
	out := map[string]map[string]json.RawMessage{}
	for _, p := range ps {
		var id string
		if err := json.Unmarshal(p["id"], &id); err != nil {
			t.Fatal(err)
		}
		out[id] = p
	}
	return out
}

func TestProposalsAPIOutlook(t *testing.T) {
	t.Run("without a governance no proposal has an outlook", func(t *testing.T) {
		for id, p := range rawProposals(t, newBoardFixture(t)) {
			if o, ok := p["outlook"]; ok {
				t.Errorf("%s has an outlook: %s", id, o)
			}
		}
	})

	f := newBoardFixture(t, feedhttp.WithGovernance(feedtest.BoardGovernance()))
	before := time.Now()
	ps := rawProposals(t, f)
	after := time.Now()
	outlook := func(id string) (map[string]json.RawMessage, feed.Outlook) {
		t.Helper()
		raw, ok := ps[id]["outlook"]
		if !ok {
			t.Fatalf("%s has no outlook", id)
		}
		var fields map[string]json.RawMessage
		var o feed.Outlook
		if err := json.Unmarshal(raw, &fields); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &o); err != nil {
			t.Fatal(err)
		}
		return fields, o
	}

	t.Run("an open proposal's outlook has the rules, what comes next, the deadline and who is unanswered", func(t *testing.T) {
		_, o := outlook("lk-2026-07")
		if o.Rules != feedtest.ProjectRules || !strings.Contains(o.Next, "1 more endorsement") || !slices.Equal(o.Unanswered, []string{"ke"}) {
			t.Fatalf("outlook %+v", o)
		}
		// The governance was asked at the time of the request.
		left := 3*24*time.Hour + 4*time.Hour
		if o.Deadline.Before(before.Add(left).Truncate(time.Second)) || o.Deadline.After(after.Add(left)) {
			t.Fatalf("deadline %s, want %s after the request (%s)", o.Deadline, left, before)
		}
	})
	t.Run("an outlook without a deadline or unanswered objections leaves them out", func(t *testing.T) {
		fields, o := outlook("ma-prop-0007")
		for _, k := range []string{"deadline", "unanswered"} {
			if _, ok := fields[k]; ok {
				t.Errorf("outlook of ma-prop-0007 has %q: %+v", k, o)
			}
		}
		if o.Rules == "" || o.Next == "" {
			t.Errorf("outlook of ma-prop-0007: %+v", o)
		}
	})
	t.Run("a proposal the governance does not know has no outlook", func(t *testing.T) {
		for _, id := range []string{"lk-2026-09", "ma-prop-0009", "ph-2025-31"} {
			if o, ok := ps[id]["outlook"]; ok {
				t.Errorf("%s has an outlook: %s", id, o)
			}
		}
	})
}

// element is what a test needs of a parsed HTML element.
type element struct {
	tag   string
	attrs map[string]string
	text  string
	node  *html.Node
}

// elements parses doc and returns its elements in document order.
func elements(t testing.TB, doc []byte) []element {
	t.Helper()
	root, err := html.Parse(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	return under(root)
}

func under(root *html.Node) []element {
	var out []element
	for n := range root.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		e := element{tag: n.Data, attrs: map[string]string{}, text: textOf(n), node: n}
		for _, a := range n.Attr {
			e.attrs[a.Key] = a.Val
		}
		out = append(out, e)
	}
	return out
}

func textOf(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// byID is the element with id, and what is under it.
func byID(t testing.TB, els []element, id string) []element {
	t.Helper()
	for _, e := range els {
		if e.attrs["id"] == id {
			return append([]element{e}, under(e.node)...)
		}
	}
	t.Fatalf("no element #%s", id)
	return nil
}

func withClass(els []element, class string) []element {
	var out []element
	for _, e := range els {
		if slices.Contains(strings.Fields(e.attrs["class"]), class) {
			out = append(out, e)
		}
	}
	return out
}

func TestVotesByCountryShowTheLatestVoteOnce(t *testing.T) {
	f := newBoardFixture(t)
	var ps []feed.Proposal
	f.getJSON(t, "/api/v1/proposals", &ps)
	i := slices.IndexFunc(ps, func(p feed.Proposal) bool { return p.ID == "ph-2026-11" })
	if i < 0 {
		t.Fatal("no ph-2026-11")
	}
	p := ps[i]
	var endorse []string
	for _, r := range p.Endorsements {
		endorse = append(endorse, r.Country)
	}
	// Kenya objected, then endorsed: one vote, the endorsement, with
	// its comment.
	if !slices.Equal(endorse, []string{"ma", "lk", "ke"}) || len(p.Objections) != 0 {
		t.Fatalf("API: endorsements %v, objections %+v", endorse, p.Objections)
	}
	if k := p.Endorsements[2]; !strings.HasPrefix(k.Text, "Answered") {
		t.Fatalf("API: Kenya's vote %+v is not its latest", k)
	}

	_, page := f.get(t, "/proposals")
	card := byID(t, elements(t, page), "proposal-ph-2026-11")
	var votes []string
	for _, e := range withClass(card, "vote") {
		votes = append(votes, e.attrs["data-country"]+" "+e.attrs["data-vote"]+": "+e.text)
	}
	want := []string{"ke endorse: ▲ KE endorses", "lk endorse: ▲ LK endorses", "ma endorse: ▲ MA endorses"}
	if !slices.Equal(votes, want) {
		t.Fatalf("page: votes by country\n got %q\nwant %q", votes, want)
	}
	if len(withClass(card, "objection")) != 0 {
		t.Fatal("page: Kenya's withdrawn objection still shows")
	}
	if tally := withClass(card, "tally"); len(tally) != 1 || !strings.Contains(tally[0].text, "Support +3") {
		t.Fatalf("page: tally %+v", tally)
	}
}

func TestBoardShowsRulesTimeLeftAndObjections(t *testing.T) {
	f := newBoardFixture(t, feedhttp.WithGovernance(feedtest.BoardGovernance()))
	res, page := f.get(t, "/proposals")
	if res.StatusCode != 200 {
		t.Fatalf("%s", res.Status)
	}
	els := elements(t, page)

	left := map[string]string{"lk-2026-07": "3 days left", "ph-2026-11": "5 h 20 min left", "ke-2026-02": "deadline passed"}
	for id, want := range left {
		card := byID(t, els, "proposal-"+id)
		var times []element
		for _, e := range withClass(card, "o-left") {
			for _, u := range under(e.node) {
				if u.tag == "time" {
					times = append(times, u)
				}
			}
		}
		if len(times) != 1 || times[0].text != want {
			t.Errorf("%s: time left %+v, want %q", id, times, want)
			continue
		}
		if _, err := time.Parse(time.RFC3339, times[0].attrs["datetime"]); err != nil {
			t.Errorf("%s: datetime %q: %v", id, times[0].attrs["datetime"], err)
		}
	}

	card := byID(t, els, "proposal-lk-2026-07")
	if r := withClass(card, "o-rules"); len(r) != 1 || !strings.Contains(r[0].text, feedtest.ProjectRules) {
		t.Errorf("lk-2026-07: rules %+v", r)
	}
	if n := withClass(card, "o-next"); len(n) != 1 || !strings.Contains(n[0].text, "1 more endorsement") {
		t.Errorf("lk-2026-07: next %+v", n)
	}
	obj := withClass(card, "objection")
	if len(obj) != 1 || obj[0].attrs["data-country"] != "ke" || !strings.Contains(obj[0].text, "widens the attack surface") || !strings.Contains(obj[0].text, "unanswered") {
		t.Fatalf("lk-2026-07: objections %+v", obj)
	}

	// Morocco was answered, Sri Lanka not.
	states := map[string]string{}
	for _, e := range withClass(byID(t, els, "proposal-ke-2026-02"), "objection") {
		states[e.attrs["data-country"]] = e.text
	}
	if !strings.Contains(states["ma"], "answered") || strings.Contains(states["ma"], "unanswered") || !strings.Contains(states["lk"], "unanswered") {
		t.Fatalf("ke-2026-02: objections %q", states)
	}
	if !strings.Contains(states["lk"], "Our CI has no internet access") {
		t.Fatalf("ke-2026-02: Sri Lanka's reason is missing: %q", states["lk"])
	}

	t.Run("without a governance the board shows no rules and no time left", func(t *testing.T) {
		f := newBoardFixture(t)
		_, page := f.get(t, "/proposals")
		els := elements(t, page)
		if o := withClass(els, "outlook"); len(o) != 0 {
			t.Fatalf("outlooks without a governance: %+v", o)
		}
		if b := withClass(els, "badge"); len(b) != 0 {
			t.Fatalf("answered or not, without a governance: %+v", b)
		}
		// The objections and their reasons show all the same.
		if obj := withClass(byID(t, els, "proposal-lk-2026-07"), "objection"); len(obj) != 1 || !strings.Contains(obj[0].text, "attack surface") {
			t.Fatalf("objections %+v", obj)
		}
	})
}

func TestBoardSortLinks(t *testing.T) {
	f := newBoardFixture(t)
	tests := []struct {
		query   string
		current string
		hrefs   []string
		open    []string
	}{
		{"", "Most support", []string{"/proposals?sort=support", "/proposals?sort=newest"}, []string{"ph-2026-11", "lk-2026-07", "ke-2026-02"}},
		{"?sort=newest", "Newest", []string{"/proposals?sort=support", "/proposals?sort=newest"}, []string{"ke-2026-02", "ph-2026-11", "lk-2026-07"}},
		{"?project=mosip-registration&sort=newest", "Newest", []string{"/proposals?project=mosip-registration&sort=support", "/proposals?project=mosip-registration&sort=newest"}, []string{"ke-2026-02"}},
	}
	for _, tc := range tests {
		t.Run("/proposals"+tc.query, func(t *testing.T) {
			res, page := f.get(t, "/proposals"+tc.query)
			if res.StatusCode != 200 {
				t.Fatal(res.Status)
			}
			els := elements(t, page)
			var hrefs []string
			current := ""
			for _, e := range withClass(els, "sort") {
				for _, a := range under(e.node) {
					if a.tag == "a" {
						hrefs = append(hrefs, a.attrs["href"])
						if a.attrs["aria-current"] == "true" {
							current += a.text
						}
					}
				}
			}
			if !slices.Equal(hrefs, tc.hrefs) || current != tc.current {
				t.Errorf("sort links %q, current %q; want %q, %q", hrefs, current, tc.hrefs, tc.current)
			}
			var open []string
			for _, col := range withClass(els, "s-open") {
				for _, c := range withClass(under(col.node), "card") {
					open = append(open, strings.TrimPrefix(c.attrs["id"], "proposal-"))
				}
			}
			if !slices.Equal(open, tc.open) {
				t.Errorf("open proposals in order %q, want %q", open, tc.open)
			}
		})
	}
}

func TestTimeLeft(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{3*24*time.Hour + 4*time.Hour, "3 days left"},
		{30 * time.Hour, "30 h left"},
		{5*time.Hour + 20*time.Minute, "5 h 20 min left"},
		{12 * time.Minute, "12 min left"},
		{0, "deadline passed"},
		{-time.Hour, "deadline passed"},
	}
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for _, tc := range tests {
		if got := feedhttp.TimeLeft(now, now.Add(tc.in)); got != tc.want {
			t.Errorf("%v before the deadline: %q, want %q", tc.in, got, tc.want)
		}
	}
}
