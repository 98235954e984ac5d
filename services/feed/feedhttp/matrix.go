package feedhttp

import (
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/problem"
	"github.com/dpihub/dpihub/services/feed"
)

// MatrixPageSize is how many fixes a page of the matrix shows by
// default: at fifty countries, 5,000 cells, about 100 kB of HTML.
const MatrixPageSize = 100

// ages are the choices of the matrix's age filter: fixes published at
// least so long ago.
var ages = []struct {
	Value, Label string
	D            time.Duration
}{
	{"1d", "older than a day", 24 * time.Hour},
	{"7d", "older than a week", 7 * 24 * time.Hour},
	{"30d", "older than 30 days", 30 * 24 * time.Hour},
	{"90d", "older than 90 days", 90 * 24 * time.Hour},
}

var cveRE = regexp.MustCompile(`^CVE-[0-9]{4}-[0-9]{4,}$`)

// parseFixFilter reads the matrix's filters (project, country, verdict,
// age, cve, cursor, limit) and checks them, as parseQuery does the
// events'.
func parseFixFilter(v url.Values, now time.Time) (feed.FixFilter, error) {
	if err := once(v, "project", "country", "verdict", "age", "cve", "cursor", "limit"); err != nil {
		return feed.FixFilter{}, err
	}
	f := feed.FixFilter{
		Project: strings.TrimSpace(v.Get("project")),
		Country: strings.ToLower(strings.TrimSpace(v.Get("country"))),
		Verdict: strings.TrimSpace(v.Get("verdict")),
		CVE:     strings.TrimSpace(v.Get("cve")),
		Cursor:  v.Get("cursor"),
		Limit:   MatrixPageSize,
	}
	if f.Project != "" && !events.ValidProject(f.Project) {
		return f, events.Errorf(events.ErrBadInput, "project %q is not a project slug ([a-z0-9][a-z0-9-]*)", f.Project)
	}
	if f.Country != "" && (!events.ValidCountry(f.Country) || f.Country == events.HubCountry) {
		return f, events.Errorf(events.ErrBadInput, "country %q is not a lower-case ISO 3166-1 alpha-2 code", f.Country)
	}
	if f.Verdict != "" && !slices.Contains(append(events.Verdicts(), events.VerdictPending), f.Verdict) {
		return f, events.Errorf(events.ErrBadInput, "verdict %q is not one of %s, %s", f.Verdict, strings.Join(events.Verdicts(), ", "), events.VerdictPending)
	}
	if f.CVE != "" && f.CVE != feed.CVEAny {
		f.CVE = strings.ToUpper(f.CVE)
		if !cveRE.MatchString(f.CVE) {
			return f, events.Errorf(events.ErrBadInput, "cve %q is neither a CVE id (CVE-2025-12345) nor %q", v.Get("cve"), feed.CVEAny)
		}
	}
	if a := strings.TrimSpace(v.Get("age")); a != "" {
		i := slices.IndexFunc(ages, func(x struct {
			Value, Label string
			D            time.Duration
		}) bool {
			return x.Value == a
		})
		if i < 0 {
			return f, events.Errorf(events.ErrBadInput, "age %q is not one of 1d, 7d, 30d, 90d", a)
		}
		f.PublishedBefore = now.Add(-ages[i].D)
	}
	if s := strings.TrimSpace(v.Get("limit")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > events.MaxPageLimit {
			return f, events.Errorf(events.ErrBadInput, "limit %q is not a whole number from 1 to %d", s, events.MaxPageLimit)
		}
		f.Limit = n
	}
	return f, nil
}

// matrixParams are the matrix's filters as given (without cursor): what
// its links keep.
func matrixParams(v url.Values) url.Values {
	out := url.Values{}
	for _, k := range []string{"project", "country", "verdict", "age", "cve", "limit"} {
		if s := strings.TrimSpace(v.Get(k)); s != "" {
			out.Set(k, s)
		}
	}
	return out
}

// verdictLetters are the letters of a heatmap cell: a cell reads without
// its colour, and the legend says what each letter means.
var verdictLetters = map[string]string{
	events.VerdictOrigin:        "O",
	events.VerdictPresent:       "P",
	events.VerdictApplies:       "A",
	events.VerdictConflicts:     "C",
	events.VerdictNotApplicable: "N",
	events.VerdictPending:       "·",
}

// verdictClasses are the CSS classes of heatmap cells, one letter each:
// the page repeats them thousands of times.
var verdictClasses = map[string]string{
	events.VerdictOrigin:        "o",
	events.VerdictPresent:       "p",
	events.VerdictApplies:       "a",
	events.VerdictConflicts:     "c",
	events.VerdictNotApplicable: "n",
	events.VerdictPending:       "u",
}

// heatCells renders a fix's row of heatmap cells. The page has thousands
// of them, so they are written here, a few bytes each, rather than by the
// template (whose escaping of known constants would only cost time): the
// only values are the fixed letters and classes above.
func heatCells(f feed.Fix, countries []string) template.HTML {
	var b strings.Builder
	b.Grow(len(countries) * 20)
	for _, c := range matrixRow(f, countries) {
		cls, letter := verdictClasses[c.Verdict], verdictLetters[c.Verdict]
		if c.Verdict == events.VerdictApplies && c.Assessment != nil && c.Assessment.AdoptedAt != nil {
			cls, letter = "p", "P" // adopted since: the fork has it
		}
		b.WriteString(`<td class="`)
		b.WriteString(cls)
		b.WriteString(`">`)
		b.WriteString(letter)
		b.WriteString(`</td>`)
	}
	return template.HTML(b.String())
}

type matrixData struct {
	Params    url.Values // the filters as given
	Projects  []option
	Origins   []option
	Verdicts  []option
	Ages      []option
	CVE       string
	Countries []string
	Fixes     []matrixFix
	Total     int
	Older     string // URL of the next page
	Newest    string // URL of the first page, on a later one
	Legend    []legendEntry
	APIHref   string
}

type matrixFix struct {
	Fix   feed.Fix
	Cells template.HTML
}

// matrix reads the page a request asks for, with the columns it shows.
func (s *server) matrix(r *http.Request) (feed.FixFilter, feed.FixPage, []string, error) {
	f, err := parseFixFilter(r.URL.Query(), s.now())
	if err != nil {
		return f, feed.FixPage{}, nil, err
	}
	page, err := s.st.FixMatrix(r.Context(), f)
	if err != nil {
		return f, feed.FixPage{}, nil, err
	}
	countries, err := s.knownCountries(r, page.Fixes)
	return f, page, countries, err
}

func (s *server) uiMatrix(w http.ResponseWriter, r *http.Request) {
	f, page, countries, err := s.matrix(r)
	if err != nil {
		s.uiFail(w, r, err)
		return
	}
	vals := r.URL.Query()
	_, projects, err := s.filterOptions(r, "", f.Project)
	if err != nil {
		s.uiFail(w, r, err)
		return
	}
	d := matrixData{Params: matrixParams(vals), Projects: projects, CVE: vals.Get("cve"), Countries: countries,
		Total: page.Total, Legend: heatLegend}
	d.Origins = []option{{Value: "", Label: "All countries", Selected: f.Country == ""}}
	for _, cc := range countries {
		d.Origins = append(d.Origins, option{Value: cc, Label: countryName(cc), Selected: cc == f.Country})
	}
	slices.SortStableFunc(d.Origins[1:], func(a, b option) int { return strings.Compare(a.Label, b.Label) })
	d.Verdicts = []option{{Value: "", Label: "Any", Selected: f.Verdict == ""}}
	for _, v := range append(events.Verdicts(), events.VerdictPending) {
		d.Verdicts = append(d.Verdicts, option{Value: v, Label: "some country: " + verdictText(v), Selected: v == f.Verdict})
	}
	d.Ages = []option{{Value: "", Label: "Any age", Selected: vals.Get("age") == ""}}
	for _, a := range ages {
		d.Ages = append(d.Ages, option{Value: a.Value, Label: a.Label, Selected: a.Value == vals.Get("age")})
	}
	for _, fx := range page.Fixes {
		d.Fixes = append(d.Fixes, matrixFix{Fix: fx, Cells: heatCells(fx, countries)})
	}
	enc := d.Params.Encode()
	if page.Next != "" {
		next := matrixParams(vals)
		next.Set("cursor", page.Next)
		d.Older = "/matrix?" + next.Encode()
	}
	if f.Cursor != "" {
		d.Newest = "/matrix"
		if enc != "" {
			d.Newest += "?" + enc
		}
	}
	d.APIHref = "/api/v1/matrix"
	if q := r.URL.Query().Encode(); q != "" {
		d.APIHref += "?" + q
	}
	title := "Fix matrix"
	if f.Project != "" {
		title += ": " + f.Project
	}
	s.render(w, r, http.StatusOK, "matrix", view{Title: title, Nav: "matrix", Wide: true, Data: d})
}

// matrixJSON is the API's page of the matrix: the fixes with their
// assessments (never their bodies), the columns, the total and the
// cursor.
type matrixJSON struct {
	Countries []string   `json:"countries"`
	Fixes     []feed.Fix `json:"fixes"`
	Total     int        `json:"total"`
	Next      string     `json:"next,omitempty"`
}

func (s *server) apiMatrix(w http.ResponseWriter, r *http.Request) {
	_, page, countries, err := s.matrix(r)
	if err != nil {
		problem.Error(w, r, s.log, err)
		return
	}
	if page.Fixes == nil {
		page.Fixes = []feed.Fix{}
	}
	if page.Next != "" {
		next := matrixParams(r.URL.Query())
		next.Set("cursor", page.Next)
		w.Header().Set("Link", "</api/v1/matrix?"+next.Encode()+`>; rel="next"`)
	}
	problem.WriteJSON(w, http.StatusOK, matrixJSON{Countries: countries, Fixes: page.Fixes, Total: page.Total, Next: page.Next})
}

// heatLegend says what the heatmap's letters mean.
var heatLegend = legend(map[string]string{
	events.VerdictOrigin:        "made here",
	events.VerdictPresent:       "in the fork (already, or adopted)",
	events.VerdictApplies:       "applies cleanly, not adopted",
	events.VerdictConflicts:     "some hunks fail",
	events.VerdictNotApplicable: "files absent",
	events.VerdictPending:       "not assessed yet",
})
