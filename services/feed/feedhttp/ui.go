package feedhttp

import (
	"bytes"
	"cmp"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/problem"
	"github.com/dpihub/dpihub/services/feed"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

func staticHandler() http.Handler {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	fsrv := http.StripPrefix("/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		if st, err := fs.Stat(sub, name); err != nil || st.IsDir() {
			problem.Write(w, r, problem.New(http.StatusNotFound, problem.TypeNotFound, "no static file "+r.URL.Path))
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=300")
		fsrv.ServeHTTP(w, r)
	})
}

// pages are the parsed templates, one set per page, each with the layout.
type pages struct {
	byName map[string]*template.Template
}

var pageNames = []string{"feed", "fix", "matrix", "proposals", "duplicates", "countries", "error", "lacking-fix", "lacking-country", "propagation", "refused"}

func mustParsePages() *pages {
	p := &pages{byName: map[string]*template.Template{}}
	base := template.Must(template.New("layout").Funcs(funcs).ParseFS(templateFS, "templates/layout.html"))
	for _, name := range pageNames {
		t := template.Must(base.Clone())
		p.byName[name] = template.Must(t.ParseFS(templateFS, "templates/"+name+".html"))
	}
	return p
}

// view is what every page gets; Data is the page's own.
type view struct {
	Title    string
	Nav      string // feed, matrix, proposals, duplicates, countries
	Wide     bool   // the page uses the window's full width (the matrix)
	Forgery  *forgeryNotice
	AtomHref string
	Now      time.Time
	Data     any
}

// render writes a page; it renders into a buffer first, so a template
// error is a clean 500 rather than half a page.
func (s *server) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	v.Now = s.now()
	if name != "refused" {
		v.Forgery = s.forgeryNotice()
	}
	var buf bytes.Buffer
	if err := s.pages.byName[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		s.log.Sugar().Errorw("render page", "page", name, "error", err)
		http.Error(w, "the page could not be rendered; the feed's log says why", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "same-origin")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

type errorData struct {
	Status  int
	Heading string
	Detail  string
}

// uiFail answers an HTML error page with the status and detail the API
// would answer (problem.For): a failure of no known kind is logged, and
// its page names no internals.
func (s *server) uiFail(w http.ResponseWriter, r *http.Request, err error) {
	p, internal := problem.For(err)
	if internal {
		s.log.Error("request failed", zap.String("method", r.Method), zap.String("uri", r.URL.RequestURI()), zap.Error(err))
	}
	s.render(w, r, p.Status, "error", view{Title: p.Title, Data: errorData{Status: p.Status, Heading: p.Title, Detail: p.Detail}})
}

func (s *server) uiNotFound(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if r.URL.Path == "/" || allowedPage(r.URL.Path) {
			methodNotAllowed(w, r)
			return
		}
	}
	s.render(w, r, http.StatusNotFound, "error", view{Title: "Not found", Data: errorData{
		Status: http.StatusNotFound, Heading: "Nothing here", Detail: fmt.Sprintf("The feed has no page %s.", r.URL.Path),
	}})
}

// allowedPage reports whether path is one of the UI's pages (read with
// GET).
func allowedPage(path string) bool {
	switch path {
	case "/matrix", "/proposals", "/duplicates", "/countries", "/fixes", "/propagation", "/refused":
		return true
	}
	return strings.HasPrefix(path, "/fixes/") || strings.HasPrefix(path, "/countries/")
}

// option is one entry of a filter's select.
type option struct {
	Value, Label string
	Selected     bool
}

type feedData struct {
	Query      feed.Query
	QText      string // as typed
	Since      string // yyyy-mm-dd as typed
	Until      string
	Error      string // a bad query, said to the user
	Countries  []option
	Projects   []option
	Types      []option
	Events     []feed.Event
	Older      string // URL of the next page
	Newest     string // URL of the first page when on a later one
	CSVHref    string
	StreamHref string // "" on later pages: they do not grow
	Filtered   bool
}

func (s *server) uiFeed(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	vals := r.URL.Query()
	d := feedData{QText: vals.Get("q"), Since: vals.Get("since"), Until: vals.Get("until")}
	status := http.StatusOK
	q, err := parseQuery(vals)
	if err == nil {
		var p feed.Page
		p, err = s.st.Events(ctx, q)
		d.Events = p.Events
		if err == nil && p.Next != "" {
			next := encodeQuery(q, false)
			next.Set("cursor", p.Next)
			if q.Limit != events.DefaultPageLimit {
				next.Set("limit", strconv.Itoa(q.Limit))
			}
			d.Older = "/?" + next.Encode()
		}
	}
	if err != nil {
		// A search that cannot run shows on the page, with the form to
		// correct it; any other failure is an error page.
		p, _ := problem.For(err)
		if p.Status != http.StatusBadRequest {
			s.uiFail(w, r, err)
			return
		}
		status = p.Status
		d.Error = events.Detail(err)
	}
	d.Query = q
	filters := encodeQuery(q, false)
	// Keep what the user typed in the form, even when it did not parse.
	if d.Error != "" {
		filters = url.Values{}
		for _, k := range []string{"q", "country", "project", "type"} {
			if v := vals.Get(k); v != "" {
				filters.Set(k, v)
			}
		}
	}
	d.Filtered = len(filters) > 0
	enc := filters.Encode()
	d.CSVHref = "/api/v1/events.csv"
	atom := "/feed.atom"
	if enc != "" {
		d.CSVHref += "?" + enc
		atom += "?" + enc
	}
	if q.Cursor == "" && d.Error == "" {
		d.StreamHref = "/api/v1/stream"
		if enc != "" {
			d.StreamHref += "?" + enc
		}
	} else if q.Cursor != "" {
		d.Newest = "/"
		if enc != "" {
			d.Newest += "?" + enc
		}
	}
	if d.Countries, d.Projects, err = s.filterOptions(r, vals.Get("country"), vals.Get("project")); err != nil {
		s.uiFail(w, r, err)
		return
	}
	d.Types = typeOptions(vals.Get("type"))
	title := "Live feed"
	if d.Filtered {
		title = "Search"
	}
	s.render(w, r, status, "feed", view{Title: title, Nav: "feed", AtomHref: atom, Data: d})
}

// filterOptions lists the countries and projects the store knows, with
// the chosen ones selected (kept even if the store does not know them).
func (s *server) filterOptions(r *http.Request, country, project string) (cs, ps []option, err error) {
	countries, err := s.st.Countries(r.Context())
	if err != nil {
		return nil, nil, err
	}
	projects, err := s.st.Projects(r.Context())
	if err != nil {
		return nil, nil, err
	}
	cs = []option{{Value: "", Label: "All countries", Selected: country == ""}}
	seen := false
	for _, c := range countries {
		cs = append(cs, option{Value: c.Country, Label: countryName(c.Country) + " (" + strings.ToUpper(c.Country) + ")", Selected: c.Country == country})
		seen = seen || c.Country == country
	}
	if country != "" && !seen {
		cs = append(cs, option{Value: country, Label: strings.ToUpper(country), Selected: true})
	}
	ps = []option{{Value: "", Label: "All projects", Selected: project == ""}}
	seen = false
	for _, p := range projects {
		ps = append(ps, option{Value: p, Label: p, Selected: p == project})
		seen = seen || p == project
	}
	if project != "" && !seen {
		ps = append(ps, option{Value: project, Label: project, Selected: true})
	}
	return cs, ps, nil
}

func typeOptions(chosen string) []option {
	full, _ := events.FullType(chosen)
	out := []option{{Value: "", Label: "All types", Selected: chosen == ""}}
	for _, s := range events.Catalog() {
		short := events.ShortType(s.Type)
		out = append(out, option{Value: short, Label: short, Selected: s.Type == full})
	}
	return out
}

// cell is one country's state in a propagation matrix.
type cell struct {
	Country    string
	Verdict    string // one of cellStates
	Assessment *feed.Assessment
}

// cellStates are the states a matrix cell shows, in the order legends and
// tallies list them: where the fix was made, the verdicts in the order
// events gives them, then not assessed yet.
func cellStates() []string {
	return slices.Concat([]string{events.VerdictOrigin}, events.Verdicts(), []string{events.VerdictPending})
}

// legendEntry is one state in a legend under a matrix, with what it means
// on that page.
type legendEntry struct {
	Verdict, Text string
}

// legend lists the states that texts explains, in cellStates order.
func legend(texts map[string]string) []legendEntry {
	var out []legendEntry
	for _, v := range cellStates() {
		if t, ok := texts[v]; ok {
			out = append(out, legendEntry{Verdict: v, Text: t})
		}
	}
	return out
}

// The legends of the fix page (whose tally names the origin already) and
// of the project matrix.
var (
	fixLegend = legend(map[string]string{
		events.VerdictPresent:       "the fork already has it",
		events.VerdictApplies:       "it applies cleanly",
		events.VerdictConflicts:     "some hunks fail",
		events.VerdictNotApplicable: "the fork lacks the files",
		events.VerdictPending:       "not assessed yet",
	})
)

type fixData struct {
	Fix     feed.Fix
	Content feed.FixContent
	Body    string // the message without its first line (the title)
	Diff    renderedDiff
	Lacking int // countries that could take it and do not have it
	Rows    []cell
	Counts  []verdictCount
	Pending int
	Legend  []legendEntry
}

type verdictCount struct {
	Verdict string
	N       int
}

// uiFixFail answers a page about the fix {id} that could not be read: a
// 404 page for a fix the feed has not seen, uiFail otherwise.
func (s *server) uiFixFail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, feed.ErrNotFound) {
		s.render(w, r, http.StatusNotFound, "error", view{Title: "Unknown fix", Nav: "matrix", Data: errorData{
			Status: http.StatusNotFound, Heading: "Unknown fix", Detail: fmt.Sprintf("The feed has not seen a fix %q.", r.PathValue("id")),
		}})
		return
	}
	s.uiFail(w, r, err)
}

func (s *server) uiFix(w http.ResponseWriter, r *http.Request) {
	f, err := s.st.Fix(r.Context(), r.PathValue("id"))
	if err != nil {
		s.uiFixFail(w, r, err)
		return
	}
	countries, err := s.knownCountries(r, []feed.Fix{f})
	if err != nil {
		s.uiFail(w, r, err)
		return
	}
	content, err := s.st.FixContent(r.Context(), f.ID)
	if err != nil {
		s.uiFail(w, r, err)
		return
	}
	d := fixData{Fix: f, Content: content, Diff: renderDiff(content.Diff), Rows: matrixRow(f, countries), Legend: fixLegend, Lacking: len(feed.CountriesLacking(f, countries))}
	if _, body, ok := strings.Cut(content.Message, "\n"); ok {
		d.Body = strings.TrimSpace(body)
	}
	// On one fix's page, rows read best from where it was made, then by
	// country name.
	slices.SortStableFunc(d.Rows, func(a, b cell) int {
		if ao, bo := a.Verdict == events.VerdictOrigin, b.Verdict == events.VerdictOrigin; ao != bo {
			if ao {
				return -1
			}
			return 1
		}
		return cmp.Compare(countryName(a.Country), countryName(b.Country))
	})
	counts := map[string]int{}
	for _, c := range d.Rows {
		counts[c.Verdict]++
	}
	// The tally counts the countries that could take the fix, so not the
	// origin.
	for _, v := range append(events.Verdicts(), events.VerdictPending) {
		d.Counts = append(d.Counts, verdictCount{Verdict: v, N: counts[v]})
	}
	d.Pending = counts[events.VerdictPending]
	s.render(w, r, http.StatusOK, "fix", view{Title: "Fix " + f.ID, Nav: "matrix", Data: d})
}

// knownCountries are the countries a matrix has a column for: every
// country the feed has heard of (not the hub) and every one named by the
// fixes, sorted.
func (s *server) knownCountries(r *http.Request, fixes []feed.Fix) ([]string, error) {
	cs, err := s.st.Countries(r.Context())
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, c := range cs {
		if c.Country != events.HubCountry {
			set[c.Country] = true
		}
	}
	for _, f := range fixes {
		set[f.Country] = true
		for _, a := range f.Assessments {
			set[a.Country] = true
		}
	}
	out := make([]string, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	slices.Sort(out)
	return out, nil
}

// matrixRow is a fix's cell in each country's column.
func matrixRow(f feed.Fix, countries []string) []cell {
	by := map[string]*feed.Assessment{}
	for i := range f.Assessments {
		by[f.Assessments[i].Country] = &f.Assessments[i]
	}
	row := make([]cell, 0, len(countries))
	for _, cc := range countries {
		c := cell{Country: cc, Verdict: events.VerdictPending}
		if a, ok := by[cc]; ok {
			c.Verdict, c.Assessment = a.Verdict, a
		} else if cc == f.Country {
			c.Verdict = events.VerdictOrigin
		}
		row = append(row, c)
	}
	return row
}

// Proposal statuses in board order.
var boardColumns = events.ProposalStatuses()

// orderLabels name the orders of the board's sort links.
var orderLabels = map[feed.ProposalOrder]string{
	feed.BySupport: "Most support",
	feed.ByNewest:  "Newest",
}

type proposalsData struct {
	Project  string
	Projects []option
	Sort     string // the order's name, "" for the default: what links keep
	Sorts    []sortLink
	Columns  []boardColumn
	Total    int
	Governed bool // the feed has a Governance
}

// sortLink is one order on the board's sort links.
type sortLink struct {
	Label, Href string
	Current     bool
}

type boardColumn struct {
	Status string
	Cards  []proposalCard
}

// proposalCard is a proposal as its card shows it, with what the page
// works out once per request: the body as HTML, the votes by country and
// the time left.
type proposalCard struct {
	feed.Proposal
	BodyHTML template.HTML
	Votes    []feed.Vote
	Said     int    // endorsements with a comment, and comments
	TimeLeft string // "" without a deadline
	Passed   bool   // the deadline has passed
}

func (s *server) uiProposals(w http.ResponseWriter, r *http.Request) {
	now := s.now()
	ps, order, err := s.proposals(r, now)
	if err != nil {
		s.uiFail(w, r, err)
		return
	}
	project := strings.TrimSpace(r.URL.Query().Get("project"))
	_, projects, err := s.filterOptions(r, "", project)
	if err != nil {
		s.uiFail(w, r, err)
		return
	}
	d := proposalsData{Project: project, Projects: projects, Total: len(ps), Governed: s.gov != nil}
	if order != feed.BySupport {
		d.Sort = string(order)
	}
	for _, o := range feed.ProposalOrders() {
		v := url.Values{}
		if project != "" {
			v.Set("project", project)
		}
		v.Set("sort", string(o))
		d.Sorts = append(d.Sorts, sortLink{Label: cmp.Or(orderLabels[o], string(o)), Href: "/proposals?" + v.Encode(), Current: o == order})
	}
	by := map[string][]proposalCard{}
	for _, p := range ps {
		by[p.Status] = append(by[p.Status], s.card(p, now))
	}
	cols := slices.Clone(boardColumns)
	for st := range by { // a status this UI does not know still shows
		if !slices.Contains(cols, st) {
			cols = append(cols, st)
		}
	}
	for _, st := range cols {
		d.Columns = append(d.Columns, boardColumn{Status: st, Cards: by[st]})
	}
	s.render(w, r, http.StatusOK, "proposals", view{Title: "Proposals", Nav: "proposals", Data: d})
}

// card renders what p's card shows, as of now.
func (s *server) card(p feed.Proposal, now time.Time) proposalCard {
	c := proposalCard{Proposal: p, BodyHTML: s.md.render(p.Body), Votes: p.Votes(), Said: len(p.Comments)}
	for _, e := range p.Endorsements {
		if e.Text != "" {
			c.Said++
		}
	}
	if o := p.Outlook; o != nil && !o.Deadline.IsZero() {
		c.TimeLeft, c.Passed = timeLeft(now, o.Deadline), !o.Deadline.After(now)
	}
	return c
}

// timeLeft says how long is left until deadline, as of now: "3 days
// left", "5 h 20 min left", "deadline passed".
func timeLeft(now, deadline time.Time) string {
	d := deadline.Sub(now)
	if d <= 0 {
		return "deadline passed"
	}
	return humanDuration(d) + " left"
}

func (s *server) uiDuplicates(w http.ResponseWriter, r *http.Request) {
	ds, err := s.st.Duplicates(r.Context())
	if err != nil {
		s.uiFail(w, r, err)
		return
	}
	slices.SortStableFunc(ds, func(a, b feed.Duplicate) int { return cmp.Compare(b.Similarity, a.Similarity) })
	s.render(w, r, http.StatusOK, "duplicates", view{Title: "Duplicates", Nav: "duplicates", Data: ds})
}

// StaleAfter is how long without a heartbeat before a country shows as
// stale.
const StaleAfter = 5 * time.Minute

type countryRow struct {
	feed.CountryStatus
	State string // online, stale, no-heartbeat, service
	Node  feed.NodeState
	// Seen is when the node was last heard of: its heartbeat, or its last
	// event without one.
	Seen time.Time
}

// countryRows are the countries with their nodes' states as of now,
// those that need a look first: no heartbeat or stale, the longest
// silent first; then online, the longest silent first; the hub's shared
// services last.
func (s *server) countryRows(r *http.Request) ([]countryRow, error) {
	cs, err := s.st.Countries(r.Context())
	if err != nil {
		return nil, err
	}
	nodes, err := s.st.NodeStates(r.Context())
	if err != nil {
		return nil, err
	}
	now := s.now()
	rows := make([]countryRow, 0, len(cs))
	for _, c := range cs {
		row := countryRow{CountryStatus: c, State: "no-heartbeat", Node: nodes[c.Country], Seen: c.LastEvent}
		if c.Country == events.HubCountry && c.LastHeartbeat == nil {
			row.State = "service" // the hub's services send no heartbeats
		}
		if c.LastHeartbeat != nil {
			row.State, row.Seen = "online", *c.LastHeartbeat
			if now.Sub(*c.LastHeartbeat) > StaleAfter {
				row.State = "stale"
			}
		}
		rows = append(rows, row)
	}
	rank := map[string]int{"no-heartbeat": 0, "stale": 0, "online": 1, "service": 2}
	slices.SortStableFunc(rows, func(a, b countryRow) int {
		return cmp.Or(cmp.Compare(rank[a.State], rank[b.State]), a.Seen.Compare(b.Seen), cmp.Compare(a.Country, b.Country))
	})
	return rows, nil
}

func (s *server) uiCountries(w http.ResponseWriter, r *http.Request) {
	rows, err := s.countryRows(r)
	if err != nil {
		s.uiFail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "countries", view{Title: "Countries", Nav: "countries", Data: rows})
}

// Template functions.
var funcs = template.FuncMap{
	"upper":       strings.ToUpper,
	"dayBars":     dayBars,
	"country":     countryName,
	"shortType":   events.ShortType,
	"verdicts":    func() verdictNames { return theVerdicts },
	"kind":        kind,
	"eventLink":   eventLink,
	"verdictText": verdictText,
	"verdictIcon": verdictIcon,
	"statusText":  func(s string) string { return strings.ToUpper(s[:1]) + s[1:] },
	"time":        func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"iso":         func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"date":        func(t time.Time) string { return t.UTC().Format(time.DateOnly) },
	"secs": func(d any) string {
		switch d := d.(type) {
		case feed.Duration:
			return strconv.FormatFloat(time.Duration(d).Seconds(), 'f', 0, 64)
		case *feed.Duration:
			return strconv.FormatFloat(time.Duration(*d).Seconds(), 'f', 0, 64)
		}
		return ""
	},
	"ago": ago,
	"dur": func(d feed.Duration) string { return humanDuration(time.Duration(d)) },
	"durp": func(d *feed.Duration) string {
		if d == nil {
			return ""
		}
		return humanDuration(time.Duration(*d))
	},
	"pct":   func(f float64) string { return strconv.Itoa(int(math.Round(100*f))) + " %" },
	"pctn":  func(f float64) int { return int(math.Round(100 * f)) },
	"short": func(s string, n int) string { return shorten(s, n) },
	"prefix": func(s string, n int) string {
		if len(s) > n {
			return s[:n]
		}
		return s
	},
	"join": strings.Join,
	"signed": func(n int) string {
		if n > 0 {
			return "+" + strconv.Itoa(n)
		}
		return strconv.Itoa(n)
	},
	"plural": func(n int, one, many string) string {
		if n == 1 {
			return "1 " + one
		}
		return strconv.Itoa(n) + " " + many
	},
	"deref":          func(b *bool) bool { return b != nil && *b },
	"base":           path.Base,
	"proposalAnchor": proposalAnchor,
	"countryAnchor":  countryAnchor,
	"letter":         func(v string) string { return verdictLetters[v] },
	"vclass":         func(v string) string { return verdictClasses[v] },
	"dupHref":        dupHref,
	"dupSide":        dupSide,
}

// kind is the kind of an event type: fix, fork, proposal, node.
func kind(t string) string {
	s, _ := events.Lookup(t)
	return s.Kind
}

func shorten(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// verdictNames gives templates the states of a matrix cell by name
// ({{if eq .Verdict verdicts.Applies}}), so that a page compares with the
// constants of events rather than a copy of their values.
type verdictNames struct {
	Present, Applies, Conflicts, NotApplicable, Origin, Pending string
}

var theVerdicts = verdictNames{
	Present: events.VerdictPresent, Applies: events.VerdictApplies, Conflicts: events.VerdictConflicts,
	NotApplicable: events.VerdictNotApplicable, Origin: events.VerdictOrigin, Pending: events.VerdictPending,
}

// verdictText is a cell's state as words: the state itself, but for the
// one with a dash.
func verdictText(v string) string {
	if v == events.VerdictNotApplicable {
		return "not applicable"
	}
	return v
}

// verdictIcon is a shape for each verdict, so cells differ in more than
// colour; the text is always next to it.
func verdictIcon(v string) string {
	switch v {
	case events.VerdictPresent:
		return "✓"
	case events.VerdictApplies:
		return "+"
	case events.VerdictConflicts:
		return "✕"
	case events.VerdictNotApplicable:
		return "–"
	case events.VerdictOrigin:
		return "★"
	}
	return "…"
}

// dupSide renders one side of a duplicate, "ma" or "ma/ma-fix-0042".
// dupHref links one side of a duplicate to what the feed shows of it: a
// fix's page, a proposal on the board, a fork's snapshots in the feed.
func dupHref(kind, project, side string) string {
	cc, id, _ := strings.Cut(side, "/")
	switch kind {
	case "fix":
		return "/fixes/" + url.PathEscape(id)
	case "proposal":
		return "/proposals?project=" + url.QueryEscape(project) + "#proposal-" + url.QueryEscape(id)
	}
	return "/?type=fork.snapshot&country=" + url.QueryEscape(cc) + "&project=" + url.QueryEscape(project)
}

func dupSide(s string) string {
	cc, rest, ok := strings.Cut(s, "/")
	if !ok {
		return countryName(cc) + " (" + strings.ToUpper(cc) + ")"
	}
	return countryName(cc) + " (" + strings.ToUpper(cc) + ") " + rest
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	if d < 0 {
		return "in " + humanDuration(-d)
	}
	if d < 5*time.Second {
		return "just now"
	}
	return humanDuration(d) + " ago"
}

// humanDuration is a duration as a person says it: 0.4 s, 12 s, 3 min,
// 2 h 5 min, 3 days.
func humanDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + humanDuration(-d)
	case d < time.Second:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + " s"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + " min"
	case d < 48*time.Hour:
		h := int(d.Hours())
		m := int(d.Minutes()) - 60*h
		if m == 0 {
			return strconv.Itoa(h) + " h"
		}
		return fmt.Sprintf("%d h %d min", h, m)
	}
	return strconv.Itoa(int(d.Hours()/24)) + " days"
}
