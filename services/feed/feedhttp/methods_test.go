package feedhttp_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// A wrong method is 405 with Allow, never 404; every error under /api and
// /static is a problem; a page that does not exist is the HTML 404 page.
func TestAWrongMethodIs405AndEveryAPIOrStaticErrorIsAProblem(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		method, path string
		status       int
		contentType  string
		allow        string
	}{
		{"POST", "/api/v1/events", 405, "application/problem+json", "GET, HEAD"},
		{"DELETE", "/api/v1/fixes/ma-fix-1", 405, "application/problem+json", "GET, HEAD"},
		{"PUT", "/api/v1/proposals", 405, "application/problem+json", "GET, HEAD"},
		{"POST", "/", 405, "application/problem+json", "GET, HEAD"},
		{"DELETE", "/matrix", 405, "application/problem+json", "GET, HEAD"},
		{"POST", "/static/app.css", 405, "application/problem+json", "GET, HEAD"},
		{"GET", "/static/nope.css", 404, "application/problem+json", ""},
		{"GET", "/static/", 404, "application/problem+json", ""},
		{"GET", "/api/v1/nope", 404, "application/problem+json", ""},
		{"POST", "/api/v1/nope", 404, "application/problem+json", ""},
		{"GET", "/nope", 404, "text/html", ""},
		{"GET", "/static/app.css", 200, "text/css", ""},
	} {
		req, _ := http.NewRequest(tc.method, f.srv.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.contentType) || resp.Header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d %s Allow %q, want %d %s Allow %q", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Content-Type"),
				resp.Header.Get("Allow"), tc.status, tc.contentType, tc.allow)
		}
	}
}

// A filter given twice is refused, never half-read.
func TestAFilterGivenTwiceIsRefused(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{
		"/api/v1/events?country=lk&country=ph",
		"/api/v1/events.csv?type=fix.published&type=fix.assessed",
		"/api/v1/fixes?project=a&project=b",
		"/api/v1/proposals?sort=support&sort=newest",
		"/feed.atom?project=a&project=b",
	} {
		res, body := f.get(t, path)
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "give it once") {
			t.Errorf("GET %s: %d %s, want 400 naming the repeated filter", path, res.StatusCode, body)
		}
	}
}

// The documented filters of fixes, duplicates and proposals are applied.
func TestFixesDuplicatesAndProposalsApplyTheirFilters(t *testing.T) {
	f := newFixture(t)
	var all, mine []struct{ Country, Project, Status string }
	f.getJSON(t, "/api/v1/fixes", &all)
	f.getJSON(t, "/api/v1/fixes?country=ma", &mine)
	if len(all) == 0 || len(mine) == 0 || len(mine) == len(all) {
		t.Fatalf("fixes: %d in all, %d of ma: want some, not all, of them Morocco's", len(all), len(mine))
	}
	for _, x := range mine {
		if x.Country != "ma" {
			t.Errorf("fixes?country=ma lists a fix of %s", x.Country)
		}
	}
	var props []struct{ Status string }
	f.getJSON(t, "/api/v1/proposals?status=accepted", &props)
	if len(props) == 0 {
		t.Fatal("proposals?status=accepted: none")
	}
	for _, p := range props {
		if p.Status != "accepted" {
			t.Errorf("proposals?status=accepted lists a %s one", p.Status)
		}
	}
	var dups []struct{ Project string }
	f.getJSON(t, "/api/v1/duplicates?project=no-such-project", &dups)
	if len(dups) != 0 {
		t.Errorf("duplicates of a project without any: %v", dups)
	}
	for _, path := range []string{"/api/v1/fixes?country=Morocco", "/api/v1/proposals?status=rejected-ish", "/api/v1/duplicates?project=Not%20A%20Slug"} {
		if res, _ := f.get(t, path); res.StatusCode != http.StatusBadRequest {
			t.Errorf("GET %s: %d, want 400", path, res.StatusCode)
		}
	}
}

// A CSV page names the next one in Link, as the JSON API does.
func TestACSVPageNamesTheNextInLink(t *testing.T) {
	f := newFixture(t)
	res, body := f.get(t, "/api/v1/events.csv?limit=2")
	link := res.Header.Get("Link")
	if res.StatusCode != 200 || !strings.Contains(link, `rel="next"`) || !strings.Contains(link, "cursor=") || strings.Count(string(body), "\n") != 3 {
		t.Fatalf("%d Link %q, %d lines", res.StatusCode, link, strings.Count(string(body), "\n"))
	}
	next := strings.TrimSuffix(strings.TrimPrefix(strings.Split(link, ";")[0], "<"), ">")
	res2, body2 := f.get(t, next)
	if res2.StatusCode != 200 || string(body2) == string(body) {
		t.Fatalf("the next page %s: %d, same as the first: %v", next, res2.StatusCode, string(body2) == string(body))
	}
}

// /api/v1/fixes pages with a cursor: following Link rel=next visits every
// fix once, newest first, and the last page has no Link.
func TestFixesPageWithACursor(t *testing.T) {
	f := newFixture(t)
	var all []struct{ ID string }
	f.getJSON(t, "/api/v1/fixes", &all)
	if len(all) < 2 {
		t.Fatalf("the fixture has %d fixes, want at least 2", len(all))
	}
	var seen []string
	path := "/api/v1/fixes?limit=1"
	for range len(all) + 2 {
		res, body := f.get(t, path)
		var page []struct{ ID string }
		if err := json.Unmarshal(body, &page); err != nil || res.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, res.StatusCode, body)
		}
		for _, p := range page {
			seen = append(seen, p.ID)
		}
		link := res.Header.Get("Link")
		if link == "" {
			break
		}
		path = strings.TrimSuffix(strings.TrimPrefix(strings.Split(link, ";")[0], "<"), ">")
	}
	if len(seen) != len(all) {
		t.Fatalf("paging visited %v, want the %d fixes once each", seen, len(all))
	}
	for i := range all {
		if seen[i] != all[i].ID {
			t.Fatalf("page order %v, want %v", seen, all)
		}
	}
	if res, _ := f.get(t, "/api/v1/fixes?cursor=abc"); res.StatusCode != http.StatusBadRequest {
		t.Errorf("a made-up cursor: %d, want 400", res.StatusCode)
	}
}
