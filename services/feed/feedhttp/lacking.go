package feedhttp

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/problem"
	"github.com/dpihub/dpihub/services/feed"
)

// The lacking views: per fix, the countries without it; per country, the
// fixes it lacks.

// LackingPageSize is how many fixes a country's lacking page lists at
// most (the API takes limit up to events.MaxPageLimit).
const LackingPageSize = 200

// countriesLacking reads the fix a request names and the countries that
// lack it.
func (s *server) countriesLacking(r *http.Request) (feed.Fix, []feed.LackingCountry, error) {
	f, err := s.st.Fix(r.Context(), r.PathValue("id"))
	if err != nil {
		return f, nil, err
	}
	countries, err := s.knownCountries(r, []feed.Fix{f})
	if err != nil {
		return f, nil, err
	}
	return f, feed.CountriesLacking(f, countries), nil
}

type lackingFixJSON struct {
	Fix       string                `json:"fix"`
	Countries []feed.LackingCountry `json:"countries"`
}

func (s *server) apiFixLacking(w http.ResponseWriter, r *http.Request) {
	f, ls, err := s.countriesLacking(r)
	if err != nil {
		s.apiFixFail(w, r, err)
		return
	}
	if ls == nil {
		ls = []feed.LackingCountry{}
	}
	problem.WriteJSON(w, http.StatusOK, lackingFixJSON{Fix: f.ID, Countries: ls})
}

type lackingFixData struct {
	Fix       feed.Fix
	Countries []feed.LackingCountry
	Counts    []verdictCount
}

func (s *server) uiFixLacking(w http.ResponseWriter, r *http.Request) {
	f, ls, err := s.countriesLacking(r)
	if err != nil {
		s.uiFixFail(w, r, err)
		return
	}
	d := lackingFixData{Fix: f, Countries: ls}
	n := map[string]int{}
	for _, l := range ls {
		n[l.State]++
	}
	for _, v := range []string{events.VerdictPending, events.VerdictConflicts, events.VerdictApplies} {
		d.Counts = append(d.Counts, verdictCount{Verdict: v, N: n[v]})
	}
	s.render(w, r, http.StatusOK, "lacking-fix", view{Title: "Countries without " + f.ID, Nav: "matrix", Data: d})
}

// fixesLacking reads the fixes the country a request names lacks
// (?project=, ?limit=).
func (s *server) fixesLacking(r *http.Request, limit int) (string, string, []feed.LackingFix, int, error) {
	v := r.URL.Query()
	if err := once(v, "project", "limit"); err != nil {
		return "", "", nil, 0, err
	}
	cc := strings.ToLower(r.PathValue("cc"))
	if !events.ValidCountry(cc) || cc == events.HubCountry {
		return "", "", nil, 0, events.Errorf(events.ErrBadInput, "country %q is not a lower-case ISO 3166-1 alpha-2 code", r.PathValue("cc"))
	}
	project := strings.TrimSpace(v.Get("project"))
	if project != "" && !events.ValidProject(project) {
		return "", "", nil, 0, events.Errorf(events.ErrBadInput, "project %q is not a project slug ([a-z0-9][a-z0-9-]*)", project)
	}
	if ls := strings.TrimSpace(v.Get("limit")); ls != "" {
		n, err := strconv.Atoi(ls)
		if err != nil || n < 1 || n > events.MaxPageLimit {
			return "", "", nil, 0, events.Errorf(events.ErrBadInput, "limit %q is not a whole number from 1 to %d", ls, events.MaxPageLimit)
		}
		limit = n
	}
	// A country the feed has not heard from has no fork to lack
	// anything in: not an empty list, an unknown country.
	known, err := s.st.Countries(r.Context())
	if err != nil {
		return "", "", nil, 0, err
	}
	if !slices.ContainsFunc(known, func(c feed.CountryStatus) bool { return c.Country == cc }) {
		return "", "", nil, 0, fmt.Errorf("country %s: %w", cc, feed.ErrNotFound)
	}
	fs, total, err := s.st.FixesLacking(r.Context(), cc, project, limit)
	return cc, project, fs, total, err
}

type lackingCountryJSON struct {
	Country string            `json:"country"`
	Total   int               `json:"total"`
	Fixes   []feed.LackingFix `json:"fixes"`
}

func (s *server) apiCountryLacking(w http.ResponseWriter, r *http.Request) {
	cc, _, fs, total, err := s.fixesLacking(r, events.DefaultPageLimit)
	if err != nil {
		problem.Error(w, r, s.log, err)
		return
	}
	problem.WriteJSON(w, http.StatusOK, lackingCountryJSON{Country: cc, Total: total, Fixes: fs})
}

type lackingCountryData struct {
	Country  string
	Project  string
	Projects []option
	Fixes    []feed.LackingFix
	Total    int
}

func (s *server) uiCountryLacking(w http.ResponseWriter, r *http.Request) {
	cc, project, fs, total, err := s.fixesLacking(r, LackingPageSize)
	if err != nil {
		s.uiFail(w, r, err)
		return
	}
	_, projects, err := s.filterOptions(r, "", project)
	if err != nil {
		s.uiFail(w, r, err)
		return
	}
	d := lackingCountryData{Country: cc, Project: project, Projects: projects, Fixes: fs, Total: total}
	s.render(w, r, http.StatusOK, "lacking-country", view{Title: "Fixes " + countryName(cc) + " lacks", Nav: "countries", Data: d})
}
