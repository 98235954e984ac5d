package feedhttp

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/problem"
	"github.com/dpihub/dpihub/services/feed"
)

// Option changes the handler that New builds.
type Option func(*server)

// WithLogger logs failures to log (default: no logs).
func WithLogger(log *zap.Logger) Option { return func(s *server) { s.log = log } }

// WithBroadcaster takes live events from b for /api/v1/stream and the
// UI's live updates. The projector must call b.Publish after each event
// it applied.
func WithBroadcaster(b *Broadcaster) Option { return func(s *server) { s.bc = b } }

// WithGatherer serves GET /metrics from g. Without it there is no
// /metrics route (the hub serves its own).
func WithGatherer(g prometheus.Gatherer) Option { return func(s *server) { s.gatherer = g } }

// WithMetrics counts requests and open streams in m (see NewMetrics).
// Without it they are counted in collectors nobody registered.
func WithMetrics(m *Metrics) Option { return func(s *server) { s.metrics = m } }

// WithoutHealthz leaves out GET /healthz, for a host that serves its own.
func WithoutHealthz() Option { return func(s *server) { s.noHealthz = true } }

// WithGovernance shows, for each proposal g knows, its standing under its
// project's rules (feed.Outlook): in /api/v1/proposals as "outlook", and
// on the board as the rules, what would change the proposal's state next
// and the time left. Without it the board shows no rules and no time
// left.
func WithGovernance(g feed.Governance) Option { return func(s *server) { s.gov = g } }

// WithClock makes now the handler's clock (default time.Now): what
// "3 days ago", the matrix's age filter and the board's time left are
// measured from.
func WithClock(now func() time.Time) Option { return func(s *server) { s.now = now } }

// WithHeartbeat sets how often the stream sends a comment to keep
// connections open through proxies (default 15s).
func WithHeartbeat(d time.Duration) Option { return func(s *server) { s.heartbeat = d } }

// WithMaxStreams sets how many streams (GET /api/v1/stream) the handler
// serves at once (default DefaultMaxStreams); one more is answered 503
// with Retry-After.
func WithMaxStreams(n int) Option { return func(s *server) { s.maxStreams = n } }

// WithStreamBuffer sets how many events a live stream may be behind
// (default DefaultStreamBuffer): a stream further behind is dropped, its
// connection closed, and its client resumes with Last-Event-ID.
func WithStreamBuffer(n int) Option { return func(s *server) { s.streamBuffer = max(n, 1) } }

type server struct {
	st        feed.Store
	log       *zap.Logger
	bc        *Broadcaster
	gatherer  prometheus.Gatherer
	noHealthz bool
	heartbeat time.Duration
	pages     *pages
	md        *markdown
	metrics   *Metrics
	gov       feed.Governance
	now       func() time.Time

	fan          *fanout // nil without a Broadcaster
	maxStreams   int
	streamBuffer int
	openStreams  atomic.Int64

	props    propagationCache
	refusals *feed.RefusalLog // nil: the feed does not follow them
}

// New returns the feed's HTTP handler over st: API, Atom, CSV, SSE and
// web UI.
func New(st feed.Store, opts ...Option) http.Handler {
	s := &server{st: st, log: zap.NewNop(), heartbeat: 15 * time.Second, now: time.Now,
		maxStreams: DefaultMaxStreams, streamBuffer: DefaultStreamBuffer}
	for _, o := range opts {
		o(s)
	}
	if s.metrics == nil {
		s.metrics = newMetrics()
	}
	s.metrics.propagation.st.Store(&st)
	if s.bc != nil {
		s.fan = newFanout(st, s.bc, s.log, s.metrics)
	}
	s.pages = mustParsePages()
	s.md = newMarkdown()

	mux := http.NewServeMux()
	handle := func(pattern string, h http.HandlerFunc) {
		mux.Handle(pattern, s.metrics.instrument(pattern, h))
	}
	if !s.noHealthz {
		handle("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
			problem.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		})
	}
	if s.gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{}))
	}
	handle("GET /api/v1/events", s.apiEvents)
	handle("GET /api/v1/events.csv", s.csvEvents)
	handle("GET /feed.atom", s.atom)
	handle("GET /api/v1/stream", s.stream)
	handle("GET /api/v1/fixes", s.apiFixes)
	handle("GET /api/v1/fixes/{id}", s.apiFix)
	handle("GET /api/v1/matrix", s.apiMatrix)
	handle("GET /api/v1/propagation", s.apiPropagation)
	handle("GET /api/v1/refused", s.apiRefused)
	handle("GET /api/v1/fixes/{id}/lacking", s.apiFixLacking)
	handle("GET /api/v1/countries/{cc}/lacking", s.apiCountryLacking)
	handle("GET /api/v1/proposals", s.apiProposals)
	handle("GET /api/v1/duplicates", s.apiDuplicates)
	handle("GET /api/v1/countries", s.apiCountries)
	handle("GET /api/v1/projects", s.apiProjects)
	handle("/api/", func(w http.ResponseWriter, r *http.Request) {
		if allowed(mux, r) {
			methodNotAllowed(w, r)
			return
		}
		problem.Write(w, r, problem.New(http.StatusNotFound, problem.TypeNotFound, fmt.Sprintf("no route %s %s", r.Method, r.URL.Path)))
	})

	handle("GET /{$}", s.uiFeed)
	handle("GET /fixes/{id}", s.uiFix)
	handle("GET /fixes/{id}/lacking", s.uiFixLacking)
	handle("GET /fixes/{id}/patch", s.rawPatch)
	handle("GET /countries/{cc}/lacking", s.uiCountryLacking)
	handle("GET /fixes", func(w http.ResponseWriter, r *http.Request) {
		target := "/matrix"
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
	})
	handle("GET /matrix", s.uiMatrix)
	handle("GET /propagation", s.uiPropagation)
	handle("GET /refused", s.uiRefused)
	handle("GET /proposals", s.uiProposals)
	handle("GET /duplicates", s.uiDuplicates)
	handle("GET /countries", s.uiCountries)
	mux.Handle("GET /static/", staticHandler())
	mux.HandleFunc("/static/", func(w http.ResponseWriter, r *http.Request) { methodNotAllowed(w, r) })
	handle("/", s.uiNotFound)
	return mux
}

// once refuses a filter given more than once: country=lk&country=ph
// would otherwise be read as country=lk, silently half-read.
func once(v url.Values, names ...string) error {
	for _, n := range names {
		if len(v[n]) > 1 {
			return events.Errorf(events.ErrBadInput, "%s is given %d times: give it once (one value per filter)", n, len(v[n]))
		}
	}
	return nil
}

// allowed reports whether r's path has a route for GET: then a request
// with another method is answered 405, not 404. The mux's catch-alls
// ("/", "/api/") do not count.
func allowed(mux *http.ServeMux, r *http.Request) bool {
	get := r.Clone(r.Context())
	get.Method = http.MethodGet
	_, pattern := mux.Handler(get)
	return pattern != "" && pattern != "/" && pattern != "/api/" && pattern != "/static/"
}

// methodNotAllowed answers 405 with Allow, as a problem.
func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", "GET, HEAD")
	problem.Write(w, r, problem.New(http.StatusMethodNotAllowed, problem.TypeInvalid, fmt.Sprintf("%s %s: this resource is read with GET", r.Method, r.URL.Path)))
}

// parseQuery reads the event filters of a request and checks them: this is
// the one place that does (feed.Query), so the store gets only well-formed
// filters. Unknown parameters are ignored (a UI form may add its own); known
// ones must be well formed. q and cursor are the store's to check.
func parseQuery(v url.Values) (feed.Query, error) {
	if err := once(v, "q", "country", "project", "type", "cursor", "limit", "since", "until", "sort"); err != nil {
		return feed.Query{}, err
	}
	q := feed.Query{
		Q:       strings.TrimSpace(v.Get("q")),
		Country: strings.ToLower(strings.TrimSpace(v.Get("country"))),
		Project: strings.TrimSpace(v.Get("project")),
		Type:    strings.TrimSpace(v.Get("type")),
		Cursor:  v.Get("cursor"),
		Limit:   events.DefaultPageLimit,
	}
	if q.Country != "" && !events.ValidCountry(q.Country) {
		return q, events.Errorf(events.ErrBadInput, "country %q is not a lower-case ISO 3166-1 alpha-2 code or %q", q.Country, events.HubCountry)
	}
	if q.Project != "" && !events.ValidProject(q.Project) {
		return q, events.Errorf(events.ErrBadInput, "project %q is not a project slug ([a-z0-9][a-z0-9-]*)", q.Project)
	}
	if q.Type != "" {
		full, ok := events.FullType(q.Type)
		if !ok {
			return q, events.Errorf(events.ErrBadInput, "type %q is not an event type of the catalog (e.g. fix.published or org.dpihub.fix.published.v1)", q.Type)
		}
		q.Type = full
	}
	var err error
	if q.Since, err = parseTime("since", v.Get("since"), false); err != nil {
		return q, err
	}
	if q.Until, err = parseTime("until", v.Get("until"), true); err != nil {
		return q, err
	}
	// The range is since <= time < until: an until that is not after
	// since leaves nothing to find.
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Until.After(q.Since) {
		return q, events.Errorf(events.ErrBadInput, "until (%s) is not after since (%s)", q.Until.Format(time.RFC3339), q.Since.Format(time.RFC3339))
	}
	if s := strings.TrimSpace(v.Get("limit")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > events.MaxPageLimit {
			return q, events.Errorf(events.ErrBadInput, "limit %q is not a whole number from 1 to %d", s, events.MaxPageLimit)
		}
		q.Limit = n
	}
	return q, nil
}

// parseTime reads an RFC 3339 time, a date-time without zone as an HTML
// datetime-local input sends it (UTC), or a date. A date as the end of a
// range means the end of that day.
func parseTime(name, s string, end bool) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		if end {
			t = t.Add(24*time.Hour - time.Nanosecond)
		}
		return t, nil
	}
	return time.Time{}, events.Errorf(events.ErrBadInput, "%s %q is not a time: use RFC 3339 (2025-03-14T09:30:00Z) or a date (2025-03-14)", name, s)
}

// encodeQuery writes q's filters back as URL parameters (without limit
// and cursor unless asked), in a stable order, with types in short form.
func encodeQuery(q feed.Query, withPaging bool) url.Values {
	v := url.Values{}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("q", q.Q)
	set("country", q.Country)
	set("project", q.Project)
	if q.Type != "" {
		set("type", events.ShortType(q.Type))
	}
	if !q.Since.IsZero() {
		set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if !q.Until.IsZero() {
		set("until", q.Until.UTC().Format(time.RFC3339Nano))
	}
	if withPaging {
		if q.Limit != 0 && q.Limit != events.DefaultPageLimit {
			set("limit", strconv.Itoa(q.Limit))
		}
		set("cursor", q.Cursor)
	}
	return v
}

func (s *server) apiEvents(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r.URL.Query())
	if err != nil {
		problem.Error(w, r, s.log, err)
		return
	}
	p, err := s.st.Events(r.Context(), q)
	if err != nil {
		problem.Error(w, r, s.log, err)
		return
	}
	if p.Events == nil {
		p.Events = []feed.Event{}
	}
	if p.Next != "" {
		next := encodeQuery(q, false)
		if q.Limit != events.DefaultPageLimit {
			next.Set("limit", strconv.Itoa(q.Limit))
		}
		next.Set("cursor", p.Next)
		w.Header().Add("Link", fmt.Sprintf("</api/v1/events?%s>; rel=\"next\"", next.Encode()))
	}
	problem.WriteJSON(w, http.StatusOK, p)
}

func (s *server) apiFixes(w http.ResponseWriter, r *http.Request) {
	if err := once(r.URL.Query(), "project", "country", "limit", "cursor"); err != nil {
		problem.Error(w, r, s.log, err)
		return
	}
	country := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("country")))
	if country != "" && !events.ValidCountry(country) {
		problem.Error(w, r, s.log, events.Errorf(events.ErrBadInput, "country %q is not a lower-case ISO 3166-1 alpha-2 code", country))
		return
	}
	project := r.URL.Query().Get("project")
	if project != "" && !events.ValidProject(project) {
		problem.Error(w, r, s.log, events.Errorf(events.ErrBadInput, "project %q is not a project slug", project))
		return
	}
	limit := 100
	if ls := r.URL.Query().Get("limit"); ls != "" {
		n, err := strconv.Atoi(ls)
		if err != nil || n < 1 || n > events.MaxPageLimit {
			problem.Error(w, r, s.log, events.Errorf(events.ErrBadInput, "limit %q is not a whole number from 1 to %d", ls, events.MaxPageLimit))
			return
		}
		limit = n
	}
	var before uint64
	if c := r.URL.Query().Get("cursor"); c != "" {
		n, err := strconv.ParseUint(c, 10, 64)
		if err != nil || n == 0 {
			problem.Error(w, r, s.log, events.Errorf(events.ErrBadInput, "cursor %q is not one this API gave (a Link rel=next)", c))
			return
		}
		before = n
	}
	// The store filters by project; by origin country here, over the
	// newest fixes the store gives at most.
	fetch := limit
	if country != "" {
		fetch = events.MaxPageLimit
	}
	fs, err := s.st.Fixes(r.Context(), project, before, fetch)
	if err != nil {
		problem.Error(w, r, s.log, err)
		return
	}
	// Filter by origin country; a full page may have more behind it: Link
	// names the next, after the last fix looked at (the last kept, when the
	// page filled up before the store's rows ran out).
	var last uint64
	if len(fs) == fetch && len(fs) > 0 {
		last = fs[len(fs)-1].Seq
	}
	if country != "" {
		kept := fs[:0]
		for _, f := range fs {
			if f.Country != country {
				continue
			}
			if len(kept) == limit {
				last = kept[len(kept)-1].Seq
				break
			}
			kept = append(kept, f)
		}
		fs = kept
	}
	if last != 0 {
		next := r.URL.Query()
		next.Set("cursor", strconv.FormatUint(last, 10))
		w.Header().Set("Link", fmt.Sprintf("</api/v1/fixes?%s>; rel=\"next\"", next.Encode()))
	}
	if fs == nil {
		fs = []feed.Fix{}
	}
	problem.WriteJSON(w, http.StatusOK, fs)
}

// apiFixFail answers an API request about fix {id} that failed: 404 for
// a fix the feed has not seen, else the error's problem.
func (s *server) apiFixFail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, feed.ErrNotFound) {
		problem.Write(w, r, problem.New(http.StatusNotFound, problem.TypeNotFound, fmt.Sprintf("no fix %q", r.PathValue("id"))))
		return
	}
	problem.Error(w, r, s.log, err)
}

func (s *server) apiFix(w http.ResponseWriter, r *http.Request) {
	f, err := s.st.Fix(r.Context(), r.PathValue("id"))
	if err != nil {
		s.apiFixFail(w, r, err)
		return
	}
	c, err := s.st.FixContent(r.Context(), f.ID)
	if err != nil {
		problem.Error(w, r, s.log, err)
		return
	}
	problem.WriteJSON(w, http.StatusOK, fixJSON{Fix: f, Content: c})
}

// fixJSON is one fix as /api/v1/fixes/{id} answers: the fix with its
// matrix and, only here, what its publication carried (message, diff):
// lists never inline a body.
type fixJSON struct {
	feed.Fix
	Content feed.FixContent `json:"content"`
}

func (s *server) apiProposals(w http.ResponseWriter, r *http.Request) {
	ps, _, err := s.proposals(r, s.now())
	if err != nil {
		problem.Error(w, r, s.log, err)
		return
	}
	problem.WriteJSON(w, http.StatusOK, ps)
}

// proposals are the proposals a request asks for (?project=, ?sort=),
// with their outlooks as of now, in its order: what the API and the board
// show.
func (s *server) proposals(r *http.Request, now time.Time) ([]feed.Proposal, feed.ProposalOrder, error) {
	v := r.URL.Query()
	if err := once(v, "project", "sort", "status"); err != nil {
		return nil, "", err
	}
	status := strings.TrimSpace(v.Get("status"))
	if status != "" && !slices.Contains(events.ProposalStatuses(), status) {
		return nil, "", events.Errorf(events.ErrBadInput, "status %q is not one of %s", status, strings.Join(events.ProposalStatuses(), ", "))
	}
	project := strings.TrimSpace(v.Get("project"))
	if project != "" && !events.ValidProject(project) {
		return nil, "", events.Errorf(events.ErrBadInput, "project %q is not a project slug", project)
	}
	order, err := feed.ParseProposalOrder(strings.TrimSpace(v.Get("sort")))
	if err != nil {
		return nil, "", err
	}
	ps, err := s.st.Proposals(r.Context(), project)
	if err != nil {
		return nil, "", err
	}
	if ps == nil {
		ps = []feed.Proposal{}
	}
	if status != "" {
		kept := ps[:0]
		for _, p := range ps {
			if p.Status == status {
				kept = append(kept, p)
			}
		}
		ps = kept
	}
	feed.AddOutlooks(ps, s.gov, now)
	feed.SortProposals(ps, order)
	return ps, order, nil
}

func (s *server) apiDuplicates(w http.ResponseWriter, r *http.Request) {
	if err := once(r.URL.Query(), "project"); err != nil {
		problem.Error(w, r, s.log, err)
		return
	}
	project := strings.TrimSpace(r.URL.Query().Get("project"))
	if project != "" && !events.ValidProject(project) {
		problem.Error(w, r, s.log, events.Errorf(events.ErrBadInput, "project %q is not a project slug", project))
		return
	}
	ds, err := s.st.Duplicates(r.Context())
	if err != nil {
		problem.Error(w, r, s.log, err)
		return
	}
	if project != "" {
		kept := ds[:0]
		for _, d := range ds {
			if d.Project == project {
				kept = append(kept, d)
			}
		}
		ds = kept
	}
	if ds == nil {
		ds = []feed.Duplicate{}
	}
	problem.WriteJSON(w, http.StatusOK, ds)
}

// countryJSON is a country as /api/v1/countries answers: what the feed
// knows of it, its node's state, latest heartbeat and backlog.
type countryJSON struct {
	feed.CountryStatus
	State string         `json:"state"` // online, stale, no-heartbeat, service
	Node  feed.NodeState `json:"node"`
}

func (s *server) apiCountries(w http.ResponseWriter, r *http.Request) {
	rows, err := s.countryRows(r)
	if err != nil {
		problem.Error(w, r, s.log, err)
		return
	}
	out := make([]countryJSON, 0, len(rows))
	for _, row := range rows {
		out = append(out, countryJSON{CountryStatus: row.CountryStatus, State: row.State, Node: row.Node})
	}
	problem.WriteJSON(w, http.StatusOK, out)
}

func (s *server) apiProjects(w http.ResponseWriter, r *http.Request) {
	ps, err := s.st.Projects(r.Context())
	if err != nil {
		problem.Error(w, r, s.log, err)
		return
	}
	if ps == nil {
		ps = []string{}
	}
	problem.WriteJSON(w, http.StatusOK, ps)
}
