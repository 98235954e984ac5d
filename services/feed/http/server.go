package feedhttp

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/services/feed"
)

// Limits of a page of events.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// Problem is an RFC 9457 problem detail.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
}

// Problem types and the media type of problems.
const (
	ProblemInvalid     = "urn:dpihub:problem:invalid-input"
	ProblemNotFound    = "urn:dpihub:problem:not-found"
	ProblemInternal    = "urn:dpihub:problem:internal"
	ContentTypeProblem = "application/problem+json"
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

// WithRegisterer registers the handler's own collectors (requests by
// route and code, open streams) with reg.
func WithRegisterer(reg prometheus.Registerer) Option { return func(s *server) { s.reg = reg } }

// WithoutHealthz leaves out GET /healthz, for a host that serves its own.
func WithoutHealthz() Option { return func(s *server) { s.noHealthz = true } }

// WithHeartbeat sets how often the stream sends a comment to keep
// connections open through proxies (default 15s).
func WithHeartbeat(d time.Duration) Option { return func(s *server) { s.heartbeat = d } }

// WithBaseURL sets the absolute URL that Atom links start with, e.g.
// "https://feed.example.org". Default: taken from each request's Host.
func WithBaseURL(u string) Option {
	return func(s *server) { s.baseURL = strings.TrimRight(u, "/") }
}

type server struct {
	st        feed.Store
	log       *zap.Logger
	bc        *Broadcaster
	gatherer  prometheus.Gatherer
	reg       prometheus.Registerer
	noHealthz bool
	heartbeat time.Duration
	baseURL   string
	pages     *pages
	metrics   *metrics
	now       func() time.Time
}

// New returns the feed's HTTP handler over st: API, Atom, CSV, SSE and
// web UI.
func New(st feed.Store, opts ...Option) http.Handler {
	s := &server{st: st, log: zap.NewNop(), heartbeat: 15 * time.Second, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	s.metrics = newMetrics(s.reg)
	s.pages = mustParsePages()

	mux := http.NewServeMux()
	handle := func(pattern string, h http.HandlerFunc) {
		mux.Handle(pattern, s.metrics.instrument(pattern, h))
	}
	if !s.noHealthz {
		handle("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
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
	handle("GET /api/v1/proposals", s.apiProposals)
	handle("GET /api/v1/duplicates", s.apiDuplicates)
	handle("GET /api/v1/countries", s.apiCountries)
	handle("GET /api/v1/projects", s.apiProjects)
	handle("/api/", func(w http.ResponseWriter, r *http.Request) {
		s.problem(w, r, http.StatusNotFound, ProblemNotFound, fmt.Sprintf("no route %s %s", r.Method, r.URL.Path))
	})

	handle("GET /{$}", s.uiFeed)
	handle("GET /fixes/{id}", s.uiFix)
	handle("GET /fixes", func(w http.ResponseWriter, r *http.Request) {
		target := "/matrix"
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
	})
	handle("GET /matrix", s.uiMatrix)
	handle("GET /proposals", s.uiProposals)
	handle("GET /duplicates", s.uiDuplicates)
	handle("GET /countries", s.uiCountries)
	mux.Handle("GET /static/", staticHandler())
	handle("/", s.uiNotFound)
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// problem answers an RFC 9457 problem; instance is the request's path and
// query, so a log line and the answer can be matched.
func (s *server) problem(w http.ResponseWriter, r *http.Request, status int, typ, detail string) {
	w.Header().Set("Content-Type", ContentTypeProblem)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(Problem{Type: typ, Title: http.StatusText(status), Status: status, Detail: detail, Instance: r.URL.RequestURI()})
}

// fail answers err as a problem: 400 for feed.ErrBadQuery and
// errBadInput, 404 for feed.ErrNotFound, 500 otherwise (the detail then
// tells nothing of the internals; the log does).
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, typ, detail := s.classify(r, err)
	s.problem(w, r, status, typ, detail)
}

func (s *server) classify(r *http.Request, err error) (status int, typ, detail string) {
	switch {
	case errors.Is(err, feed.ErrBadQuery), errors.Is(err, errBadInput):
		return http.StatusBadRequest, ProblemInvalid, err.Error()
	case errors.Is(err, feed.ErrNotFound):
		return http.StatusNotFound, ProblemNotFound, err.Error()
	default:
		s.log.Error("request failed", zap.String("method", r.Method), zap.String("uri", r.URL.RequestURI()), zap.Error(err))
		return http.StatusInternalServerError, ProblemInternal, "the feed failed to answer; its log says why"
	}
}

// errBadInput is wrapped by errors in the request's parameters.
var errBadInput = errors.New("bad input")

func badInput(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBadInput, fmt.Sprintf(format, args...))
}

// parseQuery reads the event filters of a request. Unknown parameters are
// ignored (a UI form may add its own); known ones must be well formed.
func parseQuery(v url.Values) (feed.Query, error) {
	q := feed.Query{
		Q:       strings.TrimSpace(v.Get("q")),
		Country: strings.ToLower(strings.TrimSpace(v.Get("country"))),
		Project: strings.TrimSpace(v.Get("project")),
		Type:    strings.TrimSpace(v.Get("type")),
		Cursor:  v.Get("cursor"),
		Limit:   DefaultLimit,
	}
	if len(q.Q) > 1000 {
		return q, badInput("q is longer than 1000 characters")
	}
	if q.Country != "" && !events.ValidCountry(q.Country) {
		return q, badInput("country %q is not a lower-case ISO 3166-1 alpha-2 code or %q", q.Country, events.HubCountry)
	}
	if q.Project != "" && !events.ValidProject(q.Project) {
		return q, badInput("project %q is not a project slug ([a-z0-9][a-z0-9-]*)", q.Project)
	}
	if q.Type != "" {
		full, ok := fullType(q.Type)
		if !ok {
			return q, badInput("type %q is not an event type of the catalog (e.g. fix.published or org.dpihub.fix.published.v1)", q.Type)
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
	if !q.Since.IsZero() && !q.Until.IsZero() && q.Until.Before(q.Since) {
		return q, badInput("until (%s) is before since (%s)", q.Until.Format(time.RFC3339), q.Since.Format(time.RFC3339))
	}
	if s := strings.TrimSpace(v.Get("limit")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			return q, badInput("limit %q is not a whole number from 1 to %d", s, MaxLimit)
		}
		q.Limit = n
	}
	if len(q.Cursor) > 512 {
		return q, badInput("cursor is not one this feed gave out")
	}
	return q, nil
}

// fullType turns a short type (fix.published) into the catalog's full
// name; a full name is returned as it is.
func fullType(t string) (string, bool) {
	if _, ok := events.Lookup(t); ok {
		return t, true
	}
	for _, s := range events.Catalog() {
		if s.Kind+"."+s.Verb == t {
			return s.Type, true
		}
	}
	return "", false
}

// shortType is the inverse of fullType: org.dpihub.fix.published.v1 ->
// fix.published.
func shortType(t string) string {
	if s, ok := events.Lookup(t); ok {
		return s.Kind + "." + s.Verb
	}
	return t
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
	return time.Time{}, badInput("%s %q is not a time: use RFC 3339 (2025-03-14T09:30:00Z) or a date (2025-03-14)", name, s)
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
		set("type", shortType(q.Type))
	}
	if !q.Since.IsZero() {
		set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if !q.Until.IsZero() {
		set("until", q.Until.UTC().Format(time.RFC3339Nano))
	}
	if withPaging {
		if q.Limit != 0 && q.Limit != DefaultLimit {
			set("limit", strconv.Itoa(q.Limit))
		}
		set("cursor", q.Cursor)
	}
	return v
}

func (s *server) apiEvents(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r.URL.Query())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p, err := s.st.Events(r.Context(), q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if p.Events == nil {
		p.Events = []feed.Event{}
	}
	if p.Next != "" {
		next := encodeQuery(q, false)
		if q.Limit != DefaultLimit {
			next.Set("limit", strconv.Itoa(q.Limit))
		}
		next.Set("cursor", p.Next)
		w.Header().Add("Link", fmt.Sprintf("</api/v1/events?%s>; rel=\"next\"", next.Encode()))
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *server) apiFixes(w http.ResponseWriter, r *http.Request) {
	project := r.URL.Query().Get("project")
	if project != "" && !events.ValidProject(project) {
		s.fail(w, r, badInput("project %q is not a project slug", project))
		return
	}
	limit := 100
	if ls := r.URL.Query().Get("limit"); ls != "" {
		n, err := strconv.Atoi(ls)
		if err != nil || n < 1 || n > MaxLimit {
			s.fail(w, r, badInput("limit %q is not a whole number from 1 to %d", ls, MaxLimit))
			return
		}
		limit = n
	}
	fs, err := s.st.Fixes(r.Context(), project, limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if fs == nil {
		fs = []feed.Fix{}
	}
	writeJSON(w, http.StatusOK, fs)
}

func (s *server) apiFix(w http.ResponseWriter, r *http.Request) {
	f, err := s.st.Fix(r.Context(), r.PathValue("id"))
	if err != nil {
		if errors.Is(err, feed.ErrNotFound) {
			s.problem(w, r, http.StatusNotFound, ProblemNotFound, fmt.Sprintf("no fix %q", r.PathValue("id")))
			return
		}
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, f)
}

func (s *server) apiProposals(w http.ResponseWriter, r *http.Request) {
	project := r.URL.Query().Get("project")
	if project != "" && !events.ValidProject(project) {
		s.fail(w, r, badInput("project %q is not a project slug", project))
		return
	}
	ps, err := s.st.Proposals(r.Context(), project)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if ps == nil {
		ps = []feed.Proposal{}
	}
	writeJSON(w, http.StatusOK, ps)
}

func (s *server) apiDuplicates(w http.ResponseWriter, r *http.Request) {
	ds, err := s.st.Duplicates(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if ds == nil {
		ds = []feed.Duplicate{}
	}
	writeJSON(w, http.StatusOK, ds)
}

func (s *server) apiCountries(w http.ResponseWriter, r *http.Request) {
	cs, err := s.st.Countries(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if cs == nil {
		cs = []feed.CountryStatus{}
	}
	writeJSON(w, http.StatusOK, cs)
}

func (s *server) apiProjects(w http.ResponseWriter, r *http.Request) {
	ps, err := s.st.Projects(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if ps == nil {
		ps = []string{}
	}
	writeJSON(w, http.StatusOK, ps)
}
