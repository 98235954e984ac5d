package feedhttp_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/url"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/events/problem"
	"github.com/dpihub/dpihub/services/feed"
	"github.com/dpihub/dpihub/services/feed/feedhttp"
)

func TestEventsAPIFiltersAndSearchNarrowTheList(t *testing.T) {
	f := newFixture(t)
	var all page
	f.getJSON(t, "/api/v1/events?limit=500", &all)
	if len(all.Events) != len(f.steps) {
		t.Fatalf("all events: got %d, want %d", len(all.Events), len(f.steps))
	}
	for i := 1; i < len(all.Events); i++ {
		if all.Events[i-1].Seq <= all.Events[i].Seq {
			t.Fatalf("not newest first at %d: %d then %d", i, all.Events[i-1].Seq, all.Events[i].Seq)
		}
	}
	tests := []struct {
		name  string
		query string
		want  func(e feed.Event) bool // every result must hold
		min   int                     // at least this many results
	}{
		{"a country keeps only its events", "country=ke", func(e feed.Event) bool { return e.Country == "ke" }, 4},
		{"a project keeps only its events", "project=mosip-registration", func(e feed.Event) bool { return e.Project == "mosip-registration" }, 3},
		{"an upper-case country is understood", "country=KE", func(e feed.Event) bool { return e.Country == "ke" }, 4},
		{"a short type is understood", "type=fix.assessed", func(e feed.Event) bool { return e.Type == events.TypeFixAssessed }, 7},
		{"a full type is understood", "type=" + events.TypeProposalEndorsed, func(e feed.Event) bool { return e.Type == events.TypeProposalEndorsed }, 3},
		{"filters combine", "country=ph&type=fix.assessed", func(e feed.Event) bool { return e.Country == "ph" && e.Type == events.TypeFixAssessed }, 2},
		{"a time range keeps events inside it", "since=2025-03-14T10:00:00Z&until=2025-03-14T10:30:00Z",
			func(e feed.Event) bool {
				return !e.Time.Before(storyBase.Add(time.Hour)) && !e.Time.After(storyBase.Add(90*time.Minute))
			}, 5},
		{"a word finds the summaries that have it", "q=transliteration", func(e feed.Event) bool {
			return strings.Contains(strings.ToLower(e.Summary+string(e.Data)), "transliteration")
		}, 1},
		{"a file: prefix finds the fixes that touch it", "q=" + url.QueryEscape("file:IdRepoServiceHelper.java"), func(e feed.Event) bool { return strings.Contains(string(e.Data), "lk-fix-0107") }, 1},
		{"a patchid: prefix finds a fix by a prefix of its patch-id", "q=patchid:d251063b", func(e feed.Event) bool { return strings.Contains(string(e.Data), "d251063b") }, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p page
			f.getJSON(t, "/api/v1/events?limit=500&"+tc.query, &p)
			if len(p.Events) < tc.min {
				t.Fatalf("got %d events, want at least %d", len(p.Events), tc.min)
			}
			if len(p.Events) >= len(f.steps) {
				t.Fatalf("got all %d events: the filter did not narrow", len(p.Events))
			}
			for _, e := range p.Events {
				if !tc.want(e) {
					t.Errorf("event %d (%s from %s: %s) does not match", e.Seq, e.Type, e.Country, e.Summary)
				}
			}
		})
	}
}

func TestEventsAPIPagesWithCursorsWithoutGapsOrRepeats(t *testing.T) {
	f := newFixture(t)
	var seqs []uint64
	path := "/api/v1/events?limit=4&country=ma"
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("paging does not end")
		}
		var p page
		f.getJSON(t, path, &p)
		for _, e := range p.Events {
			seqs = append(seqs, e.Seq)
		}
		if p.Next == "" {
			break
		}
		if len(p.Events) != 4 {
			t.Fatalf("a page before the last has %d events, want 4", len(p.Events))
		}
		path = "/api/v1/events?limit=4&country=ma&cursor=" + url.QueryEscape(p.Next)
	}
	var want []uint64
	for i := len(f.steps) - 1; i >= 0; i-- {
		if f.steps[i].Event.Extensions()[events.ExtCountry] == "ma" {
			want = append(want, uint64(i+1))
		}
	}
	if !slices.Equal(seqs, want) {
		t.Fatalf("paged seqs %v, want %v", seqs, want)
	}
}

func TestBadInputIsAProblemNeverA500(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name   string
		path   string
		status int
	}{
		{"an unbalanced quote in q", "/api/v1/events?q=" + url.QueryEscape(`"transliteration`), 400},
		{"a dangling operator in q", "/api/v1/events?q=" + url.QueryEscape(`fix AND`), 400},
		{"a patchid: that is not hex", "/api/v1/events?q=" + url.QueryEscape(`patchid:xyz123`), 400},
		{"only excluded words in q", "/api/v1/events?q=" + url.QueryEscape(`-fix -patch`), 400},
		{"a limit of zero", "/api/v1/events?limit=0", 400},
		{"a limit above the maximum", "/api/v1/events?limit=501", 400},
		{"a limit that is not a number", "/api/v1/events?limit=ten", 400},
		{"a cursor the feed never gave", "/api/v1/events?cursor=not-a-cursor", 400},
		{"a since that is not a time", "/api/v1/events?since=yesterday", 400},
		{"an until before since", "/api/v1/events?since=2025-03-15&until=2025-03-14", 400},
		{"an until equal to since", "/api/v1/events?since=2025-03-14T10:00:00Z&until=2025-03-14T10:00:00Z", 400},
		{"a country that is not a code", "/api/v1/events?country=Morocco", 400},
		{"a project filter that is not a slug", "/api/v1/events?project=Not%20A%20Slug", 400},
		{"a type not in the catalog", "/api/v1/events?type=fix.deleted", 400},
		{"bad input to the CSV export", "/api/v1/events.csv?cursor=zzz", 400},
		{"bad input to the Atom feed", "/feed.atom?q=" + url.QueryEscape(`"oops`), 400},
		{"bad input to the stream", "/api/v1/stream?limit=-1", 400},
		{"a bad Last-Event-ID", "/api/v1/stream?last_event_id=abc", 400},
		{"a project that is not a slug", "/api/v1/fixes?project=Not%20A%20Slug", 400},
		{"an unknown fix", "/api/v1/fixes/xx-fix-9999", 404},
		{"an unknown API route", "/api/v1/nothing-here", 404},
		{"a wrong method on the API", "/api/v2/events", 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, b := f.get(t, tc.path)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tc.status, b)
			}
			if ct := res.Header.Get("Content-Type"); ct != problem.ContentType {
				t.Fatalf("Content-Type %q, want %q", ct, problem.ContentType)
			}
			var p problem.Problem
			if err := json.Unmarshal(b, &p); err != nil {
				t.Fatalf("not a problem: %v: %s", err, b)
			}
			if p.Status != tc.status || p.Type == "" || p.Title == "" || p.Detail == "" || p.Instance == "" {
				t.Fatalf("incomplete problem: %+v", p)
			}
			if !strings.HasPrefix(p.Instance, "/") {
				t.Fatalf("instance %q is not the request's path", p.Instance)
			}
		})
	}
}

// nastyQueries are search strings that trip naive FTS5 handling.
var nastyQueries = []string{
	`"`, `""`, `*`, `**`, `a*b`, `NEAR(`, `NEAR(a b`, `a OR`, `OR`, `NOT`, `AND AND`, `-x`, `^`, `^a`,
	`file:`, `patchid:`, `cve:`, `col:x`, `summary:x`, `{a b}:x`, `a:b:c`, `(a OR b`, `a) OR (b`,
	`'`, `\`, `%`, `_`, `;DROP TABLE events;--`, "\x00", "💥", `fix-0042`, `ma-fix-0042`, `"ma-fix-0042"`,
	`CVE-2025-31337`, `cve:CVE-2025-31337`, `file:a/b/c.java`, `patchid:zz`, strings.Repeat("a ", 300),
}

func TestNoSearchStringMakesA500(t *testing.T) {
	f := newFixture(t)
	for _, q := range nastyQueries {
		for _, path := range []string{"/api/v1/events", "/api/v1/events.csv", "/feed.atom", "/"} {
			res, b := f.get(t, path+"?q="+url.QueryEscape(q))
			if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusBadRequest {
				t.Errorf("%s q=%q: status %d: %.300s", path, q, res.StatusCode, b)
			}
		}
	}
}

func FuzzEventsQueryIsNeverA500(f *testing.F) {
	st := openStore(f)
	apply(f, st, 1, story(f, storyBase))
	h := feedhttp.New(st)
	for _, q := range nastyQueries {
		f.Add(q, "", "")
	}
	f.Add("fix", "50", "")
	f.Add("", "5", "garbage")
	f.Fuzz(func(t *testing.T, q, limit, cursor string) {
		v := url.Values{"q": {q}, "limit": {limit}, "cursor": {cursor}}
		req, err := http.NewRequest("GET", "/api/v1/events?"+v.Encode(), nil)
		if err != nil {
			t.Skip()
		}
		rec := newRecorder()
		h.ServeHTTP(rec, req)
		if rec.code != http.StatusOK && rec.code != http.StatusBadRequest {
			t.Fatalf("q=%q limit=%q cursor=%q: status %d: %s", q, limit, cursor, rec.code, rec.body.String())
		}
	})
}

type recorder struct {
	h    http.Header
	code int
	body bytes.Buffer
}

func newRecorder() *recorder { return &recorder{h: http.Header{}} }

func (r *recorder) Header() http.Header { return r.h }
func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = 200
	}
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}

func TestCSVExportRoundTripsWithEncodingCSV(t *testing.T) {
	f := newFixture(t)
	for _, query := range []string{"", "country=ma", "type=fix.published&limit=2"} {
		t.Run("query "+strconv.Quote(query), func(t *testing.T) {
			res, b := f.get(t, "/api/v1/events.csv?"+query)
			if res.StatusCode != 200 {
				t.Fatalf("%s: %s", res.Status, b)
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
				t.Fatalf("Content-Type %q", ct)
			}
			rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
			if err != nil {
				t.Fatalf("encoding/csv cannot read it: %v\n%s", err, b)
			}
			if !slices.Equal(rows[0], feedhttp.CSVColumns) {
				t.Fatalf("header %v, want %v", rows[0], feedhttp.CSVColumns)
			}
			var p page
			api := "/api/v1/events?limit=500&" + query
			if strings.Contains(query, "limit=") {
				api = "/api/v1/events?" + query
			}
			f.getJSON(t, api, &p)
			if len(rows)-1 != len(p.Events) {
				t.Fatalf("%d rows, the API has %d events", len(rows)-1, len(p.Events))
			}
			for i, e := range p.Events {
				want := []string{e.ID, strconv.FormatUint(e.Seq, 10), e.Time.UTC().Format(time.RFC3339Nano), e.Country, e.Project, e.Type, e.Summary}
				if !slices.Equal(rows[i+1], want) {
					t.Errorf("row %d: %q, want %q", i+1, rows[i+1], want)
				}
			}
			// Writing the rows back gives the same bytes: nothing was lost
			// to quoting.
			var again bytes.Buffer
			w := csv.NewWriter(&again)
			_ = w.WriteAll(rows)
			if !bytes.Equal(again.Bytes(), b) {
				t.Fatalf("re-encoding differs:\n%s\nvs\n%s", again.Bytes(), b)
			}
		})
	}
	// A summary with quotes and commas survives.
	res, b := f.get(t, "/api/v1/events.csv?type=fix.published")
	if res.StatusCode != 200 || !bytes.Contains(b, []byte(`"fix ma-fix-0042 ""Handle a missing documents list in updateDocuments"" (patch-id d251063b5851)"`)) {
		t.Fatalf("quoted summary not found in:\n%s", b)
	}
}

func TestAtomFeedParsesWithARealFeedParser(t *testing.T) {
	f := newFixture(t)
	for _, query := range []string{"", "country=ke", "q=transliteration&type=proposal.submitted"} {
		t.Run("query "+strconv.Quote(query), func(t *testing.T) {
			res, b := f.get(t, "/feed.atom?"+query)
			if res.StatusCode != 200 {
				t.Fatalf("%s: %s", res.Status, b)
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/atom+xml") {
				t.Fatalf("Content-Type %q", ct)
			}
			parsed, err := gofeed.NewParser().ParseString(string(b))
			if err != nil {
				t.Fatalf("gofeed: %v\n%s", err, b)
			}
			if parsed.FeedType != "atom" || parsed.FeedVersion != "1.0" {
				t.Fatalf("feed type %q %q", parsed.FeedType, parsed.FeedVersion)
			}
			var p page
			f.getJSON(t, "/api/v1/events?"+query, &p)
			if len(parsed.Items) != len(p.Events) || len(p.Events) == 0 {
				t.Fatalf("%d entries, the API has %d events", len(parsed.Items), len(p.Events))
			}
			for i, it := range parsed.Items {
				e := p.Events[i]
				if want := feedhttp.EntryID(e.Source, e.ID); it.GUID != want || !strings.Contains(want, url.PathEscape(e.Source)) {
					t.Errorf("entry %d id %q, want %q, of source and id", i, it.GUID, want)
				}
				if it.UpdatedParsed == nil || !it.UpdatedParsed.Equal(e.Time.Truncate(time.Second)) {
					t.Errorf("entry %d updated %v, want %v", i, it.UpdatedParsed, e.Time)
				}
				u, err := url.Parse(it.Link)
				if err != nil || !u.IsAbs() {
					t.Errorf("entry %d link %q is not absolute", i, it.Link)
				}
				if it.Title == "" || it.Description == "" {
					t.Errorf("entry %d has no title or summary", i)
				}
			}
			if parsed.FeedLink == "" || !strings.Contains(parsed.FeedLink, "/feed.atom") {
				t.Errorf("no rel=self link: %q", parsed.FeedLink)
			}
			if parsed.UpdatedParsed == nil {
				t.Error("feed has no updated")
			}
			// RFC 4287 also wants an id, a title and a self link; gofeed is
			// lenient, so check the XML itself.
			var raw struct {
				ID    string `xml:"id"`
				Title string `xml:"title"`
				Links []struct {
					Rel  string `xml:"rel,attr"`
					Href string `xml:"href,attr"`
				} `xml:"link"`
			}
			if err := xml.Unmarshal(b, &raw); err != nil {
				t.Fatal(err)
			}
			if raw.ID == "" || raw.Title == "" || !slices.ContainsFunc(raw.Links, func(l struct {
				Rel  string `xml:"rel,attr"`
				Href string `xml:"href,attr"`
			}) bool {
				return l.Rel == "self"
			}) {
				t.Errorf("feed lacks id, title or rel=self: %+v", raw)
			}
			if xmllint, err := exec.LookPath("xmllint"); err == nil {
				cmd := exec.Command(xmllint, "--noout", "-")
				cmd.Stdin = bytes.NewReader(b)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("xmllint: %v\n%s", err, out)
				}
			}
		})
	}
	// The same search gives the same feed id: a saved search is a
	// subscription.
	_, a := f.get(t, "/feed.atom?country=ke&project=mosip-id-repository")
	_, b := f.get(t, "/feed.atom?project=mosip-id-repository&country=ke")
	pa, _ := gofeed.NewParser().ParseString(string(a))
	pb, _ := gofeed.NewParser().ParseString(string(b))
	if pa == nil || pb == nil || pa.Link != pb.Link {
		t.Fatalf("the same search gives different feeds")
	}
}

// fixView is feed.Fix as a client reads it (durations are seconds).
type fixView struct {
	ID          string `json:"id"`
	Country     string `json:"country"`
	Project     string `json:"project"`
	Assessments []struct {
		Country      string            `json:"country"`
		Verdict      string            `json:"verdict"`
		PresentAs    string            `json:"present_as"`
		Conflicts    []events.Conflict `json:"conflicts"`
		TimeToAssess float64           `json:"time_to_assess"`
		AdoptedAt    *time.Time        `json:"adopted_at"`
	} `json:"assessments"`
}

func TestFixAPIHasThePropagationMatrix(t *testing.T) {
	f := newFixture(t)
	var fx fixView
	f.getJSON(t, "/api/v1/fixes/ma-fix-0042", &fx)
	got := map[string]string{}
	for _, a := range fx.Assessments {
		got[a.Country] = a.Verdict
		if a.TimeToAssess <= 0 || a.TimeToAssess > 5 {
			t.Errorf("%s: time to assess %vs, want the story's 0.8-2.4s", a.Country, a.TimeToAssess)
		}
		if a.Verdict == events.VerdictConflicts && (len(a.Conflicts) != 1 || a.Conflicts[0].Hunk != 1 || !strings.HasSuffix(a.Conflicts[0].File, "IdRepoServiceImpl.java")) {
			t.Errorf("%s: conflicts %+v", a.Country, a.Conflicts)
		}
	}
	want := map[string]string{"ph": "applies", "lk": "present", "ke": "conflicts"}
	if len(got) != len(want) {
		t.Fatalf("verdicts %v, want %v", got, want)
	}
	for cc, v := range want {
		if got[cc] != v {
			t.Errorf("%s: %q, want %q", cc, got[cc], v)
		}
	}

	var fixes []fixView
	f.getJSON(t, "/api/v1/fixes?project=mosip-registration", &fixes)
	if len(fixes) != 1 || fixes[0].ID != "ph-fix-0013" {
		t.Fatalf("fixes of mosip-registration: %+v", fixes)
	}
	f.getJSON(t, "/api/v1/fixes", &fixes)
	if len(fixes) != 3 || fixes[0].ID != "ph-fix-0013" {
		t.Fatalf("all fixes, newest first: %+v", fixes)
	}
}

func TestListAPIsAnswerTheStory(t *testing.T) {
	f := newFixture(t)
	var props []struct {
		ID           string `json:"id"`
		Status       string `json:"status"`
		Endorsements []struct {
			Country string `json:"country"`
		} `json:"endorsements"`
		Objections []struct {
			Country string `json:"country"`
			Text    string `json:"text"`
		} `json:"objections"`
	}
	f.getJSON(t, "/api/v1/proposals?project=mosip-id-repository", &props)
	byID := map[string]int{}
	for i, p := range props {
		byID[p.ID] = i
	}
	p, ok := byID["lk-2026-07"]
	if !ok || len(props[p].Endorsements) != 2 || len(props[p].Objections) != 1 || props[p].Objections[0].Country != "ke" {
		t.Fatalf("proposal lk-2026-07: %+v", props)
	}
	if q, ok := byID["ma-prop-0007"]; !ok || props[q].Status != "accepted" {
		t.Fatalf("proposal ma-prop-0007: %+v", props)
	}
	var dups []struct {
		Kind       string  `json:"kind"`
		Similarity float64 `json:"similarity"`
	}
	f.getJSON(t, "/api/v1/duplicates", &dups)
	if len(dups) != 2 {
		t.Fatalf("duplicates: %+v", dups)
	}
	var cs []struct {
		Country string `json:"country"`
		Events  int    `json:"events"`
	}
	f.getJSON(t, "/api/v1/countries", &cs)
	if len(cs) != 5 {
		t.Fatalf("countries: %+v", cs)
	}
	var projects []string
	f.getJSON(t, "/api/v1/projects", &projects)
	if !slices.Equal(projects, []string{"mosip-id-repository", "mosip-registration"}) {
		t.Fatalf("projects: %v", projects)
	}
}

func TestStreamResumesAfterLastEventIDThenGoesLive(t *testing.T) {
	st := openStore(t)
	steps := story(t, storyBase)
	half := len(steps) / 2
	apply(t, st, 1, steps[:half])
	bc := feedhttp.NewBroadcaster()
	srv := newServer(t, feedhttp.New(st, feedhttp.WithBroadcaster(bc), feedhttp.WithHeartbeat(50*time.Millisecond)))

	open := func(t *testing.T, query, lastID string) (<-chan sse, <-chan string) {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		req, _ := http.NewRequestWithContext(ctx, "GET", srv+"/api/v1/stream?"+query, nil)
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("stream: %s %s", res.Status, res.Header.Get("Content-Type"))
		}
		return readSSE(res.Body)
	}

	resume, comments := open(t, "", "3")
	all, _ := open(t, "", "")
	onlyKE, _ := open(t, "country=ke", "")
	bustest.Eventually(t, 10*time.Second, "the three streams subscribe", func() bool { return bc.Subscribers() == 3 })

	// The resumed stream first sends what it missed, oldest first.
	for seq := 4; seq <= half; seq++ {
		e := next(t, resume, 5*time.Second)
		if e.ID != strconv.Itoa(seq) {
			t.Fatalf("resume: id %s, want %d", e.ID, seq)
		}
	}
	// Then the rest arrives live on every stream, through the wrapped
	// store as the projector would apply it.
	apply(t, bc.Wrap(st), uint64(half+1), steps[half:])
	for seq := half + 1; seq <= len(steps); seq++ {
		for name, s := range map[string]<-chan sse{"resumed": resume, "fresh": all} {
			e := next(t, s, 5*time.Second)
			if e.ID != strconv.Itoa(seq) {
				t.Fatalf("%s stream: id %s, want %d", name, e.ID, seq)
			}
			var ev struct {
				Seq  uint64 `json:"seq"`
				Link string `json:"link"`
			}
			if err := json.Unmarshal([]byte(e.Data), &ev); err != nil || ev.Seq != uint64(seq) || ev.Link == "" {
				t.Fatalf("%s stream: data %s (%v)", name, e.Data, err)
			}
		}
	}
	// The filtered stream got only Kenya's events of the second half.
	var wantKE []string
	for i := half; i < len(steps); i++ {
		if steps[i].Event.Extensions()[events.ExtCountry] == "ke" {
			wantKE = append(wantKE, strconv.Itoa(i+1))
		}
	}
	if len(wantKE) == 0 {
		t.Fatal("the story's second half has no Kenyan event; the test needs one")
	}
	for _, id := range wantKE {
		if e := next(t, onlyKE, 5*time.Second); e.ID != id {
			t.Fatalf("country=ke stream: id %s, want %s", e.ID, id)
		}
	}
	select {
	case e := <-onlyKE:
		t.Fatalf("country=ke stream sent a non-Kenyan event %s: %s", e.ID, e.Data)
	default:
	}
	// Heartbeats keep the connection alive.
	bustest.Eventually(t, 5*time.Second, "a heartbeat comment", func() bool {
		for {
			select {
			case c, ok := <-comments:
				if !ok {
					return false // the stream ended: no heartbeat will come
				}
				if strings.HasPrefix(c, "heartbeat") {
					return true
				}
			default:
				return false
			}
		}
	})
}

func TestStreamWithASearchSendsOnlyMatchingEvents(t *testing.T) {
	st := openStore(t)
	steps := story(t, storyBase)
	bc := feedhttp.NewBroadcaster()
	srv := newServer(t, feedhttp.New(st, feedhttp.WithBroadcaster(bc)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv+"/api/v1/stream?q=transliteration", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	evs, _ := readSSE(res.Body)
	bustest.Eventually(t, 10*time.Second, "the stream subscribes", func() bool { return bc.Subscribers() == 1 })
	apply(t, bc.Wrap(st), 1, steps)
	e := next(t, evs, 5*time.Second)
	if !strings.Contains(strings.ToLower(e.Data), "transliteration") {
		t.Fatalf("stream sent a non-matching event: %s", e.Data)
	}
}

func TestUIPagesRenderTheStory(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		path   string
		status int
		want   []string
	}{
		{"/", 200, []string{"Live feed", `name="q"`, "Handle a missing documents list", `data-stream="/api/v1/stream"`, `class="skip"`}},
		{"/?country=ke", 200, []string{"Search the feed", `<option value="ke" selected>`, "objects to lk-2026-07", `href="/feed.atom?country=ke"`}},
		{"/?q=" + url.QueryEscape(`"oops`), 400, []string{`role="alert"`, "That search could not run"}},
		{"/?limit=0", 400, []string{`role="alert"`, "limit"}},
		{"/fixes/ma-fix-0042", 200, []string{"Handle a missing documents list", `data-verdict="conflicts"`, "hunk 1", "IdRepoServiceImpl.java", "origin"}},
		{"/fixes/nope", 404, []string{"Unknown fix"}},
		{"/matrix", 200, []string{"ma-fix-0042", "lk-fix-0107", "ph-fix-0013", `<td class="u">·</td>`, "3 of 3 fixes"}},
		{"/matrix?project=mosip-registration", 200, []string{"ph-fix-0013", `<td class="n">N</td>`}},
		{"/matrix?verdict=maybe", 400, []string{"verdict"}},
		{"/matrix?age=3w", 400, []string{"age"}},
		{"/matrix?cve=CVE-x", 400, []string{"cve"}},
		{"/proposals", 200, []string{"Offline biometric authentication", "2 endorsements", "1 objection", `data-country="ma" data-vote="endorse"`, `data-country="ke" data-vote="object"`, "Accepted"}},
		{"/duplicates", 200, []string{"93 %", "Morocco (MA)", "Sri Lanka (LK)"}},
		{"/countries", 200, []string{"Kenya", "Morocco", "Hub services"}},
		{"/no/such/page", 404, []string{"Nothing here"}},
		{"/static/app.css", 200, []string{"--present-bg"}},
		{"/healthz", 200, []string{`"ok"`}},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			res, b := f.get(t, tc.path)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %.500s", res.StatusCode, tc.status, b)
			}
			for _, w := range tc.want {
				if !bytes.Contains(b, []byte(w)) {
					t.Errorf("page lacks %q", w)
				}
			}
		})
	}
}

func TestMetricsAndHealthzAreOptional(t *testing.T) {
	st := openStore(t)
	reg := prometheus.NewRegistry()
	m, err := feedhttp.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	// A handler made again on the same registry (a feed restarted in one
	// process) counts on the same collectors.
	if again, err := feedhttp.NewMetrics(reg); err != nil || again == nil {
		t.Fatalf("metrics registered again: %v", err)
	}
	with := newServer(t, feedhttp.New(st, feedhttp.WithGatherer(reg), feedhttp.WithMetrics(m)))
	without := newServer(t, feedhttp.New(st, feedhttp.WithoutHealthz()))
	get := func(u string) (int, string) {
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(res.Body)
		return res.StatusCode, b.String()
	}
	if code, _ := get(with + "/healthz"); code != 200 {
		t.Fatalf("healthz: %d", code)
	}
	if code, body := get(with + "/metrics"); code != 200 || !strings.Contains(body, "dpihub_feed_http_requests_total") {
		t.Fatalf("metrics: %d %.300s", code, body)
	}
	if code, _ := get(without + "/metrics"); code != 404 {
		t.Fatalf("metrics without a gatherer: %d, want 404", code)
	}
	if code, _ := get(without + "/healthz"); code != 404 {
		t.Fatalf("healthz turned off: %d, want 404", code)
	}
}

func TestStreamResumeFromZeroSendsEverythingInOrder(t *testing.T) {
	f := newFixture(t, feedhttp.WithBroadcaster(feedhttp.NewBroadcaster()))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", f.srv.URL+"/api/v1/stream", nil)
	req.Header.Set("Last-Event-ID", "0")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	evs, _ := readSSE(res.Body)
	for seq := 1; seq <= len(f.steps); seq++ { // more than one page of the catch-up
		if e := next(t, evs, 5*time.Second); e.ID != strconv.Itoa(seq) {
			t.Fatalf("id %s, want %d", e.ID, seq)
		}
	}
}
