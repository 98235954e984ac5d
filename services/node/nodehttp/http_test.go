package nodehttp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/problem"
	"github.com/dpihub/dpihub/services/node"
	"github.com/dpihub/dpihub/services/node/nodehttp"
)

// fakeNode is a node.Service over memory: it checks input as the real node
// does and knows one fix.
type fakeNode struct {
	forks     []node.ForkState
	published []node.PublishRequest
	refreshed []string
}

var known = node.ReceivedFix{ID: "ma:ma-1", Country: "ma", Project: "app",
	Fix:         events.FixPublished{FixID: "ma-1", Title: "t", Diff: "diff --git a/x b/x\n"},
	Assessments: []node.Assessment{{Branch: "ph-main", Verdict: events.VerdictApplies}}}

func (f *fakeNode) Forks(context.Context) ([]node.ForkState, error) { return f.forks, nil }
func (f *fakeNode) RegisterFork(_ context.Context, fk node.Fork) (node.ForkState, error) {
	if err := fk.Validate(); err != nil {
		return node.ForkState{}, err
	}
	if strings.HasPrefix(fk.Dir, "/home/") {
		// As a careless adapter would say it: the API must not.
		return node.ForkState{}, node.Invalid("fork dir %q: no such directory", fk.Dir)
	}
	st := node.ForkState{Fork: fk}
	f.forks = append(f.forks, st)
	return st, nil
}
func (f *fakeNode) Fixes(context.Context) ([]node.ReceivedFix, error) {
	return []node.ReceivedFix{known}, nil
}
func (f *fakeNode) Fix(_ context.Context, id string) (node.ReceivedFix, error) {
	if _, _, err := node.ParseFixKey(id); err != nil {
		return node.ReceivedFix{}, err
	}
	if id != known.ID {
		return node.ReceivedFix{}, fmt.Errorf("fix %s: %w", id, node.ErrNotFound)
	}
	return known, nil
}
func (f *fakeNode) PublishFix(_ context.Context, req node.PublishRequest) (events.FixPublished, error) {
	if !events.ValidProject(req.Project) {
		return events.FixPublished{}, node.Invalid("project %q is not a slug", req.Project)
	}
	if req.Commit == "boom" {
		return events.FixPublished{}, fmt.Errorf("git exploded at /secret/path")
	}
	f.published = append(f.published, req)
	return events.FixPublished{FixID: "ph-" + req.Commit}, nil
}
func (f *fakeNode) Refresh(_ context.Context, project string) error {
	f.refreshed = append(f.refreshed, project)
	return nil
}
func (f *fakeNode) Export(ctx context.Context, id string) ([]byte, error) {
	if _, err := f.Fix(ctx, id); err != nil {
		return nil, err
	}
	return []byte("From 0 Mon Sep 17 00:00:00 2001\n"), nil
}

const token = "kK8pB0pH2x7wJf3nL4sQ9vT1yZ6cE5aR0uG8iO2mD7w"

func TestAPI(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "dpihub_test_total", Help: "t"})
	reg.MustRegister(c)
	srv := httptest.NewServer(nodehttp.Handler(&fakeNode{}, token, reg, nil))
	t.Cleanup(srv.Close)

	for _, tc := range []struct {
		name, method, path, ctype, body string
		status                          int
		problem                         string // problem type when an error
		contains                        string
	}{
		{"healthz says ok", "GET", "/healthz", "", "", 200, "", `"ok"`},
		{"metrics come from the registry given", "GET", "/metrics", "", "", 200, "", "dpihub_test_total"},
		{"an empty fork list is an empty array", "GET", "/api/v1/forks", "", "", 200, "", "[]"},
		{"a fork registers", "POST", "/api/v1/forks", "application/json",
			`{"project":"app","upstream":"file:///u","dir":"/tmp/x","branch":"ph-main"}`, 201, "", `"branch":"ph-main"`},
		{"a fork with a bad slug is a 400", "POST", "/api/v1/forks", "application/json",
			`{"project":"Not A Slug","upstream":"file:///u","dir":"/x","branch":"b"}`, 400, problem.TypeInvalid, "slug"},
		{"a fork with an unknown field is a 400", "POST", "/api/v1/forks", "application/json",
			`{"project":"app","colour":"red"}`, 400, problem.TypeInvalid, "colour"},
		{"a body that is not JSON is a 400", "POST", "/api/v1/forks", "application/json", `{"project":`, 400, problem.TypeInvalid, "JSON"},
		{"two JSON values are a 400", "POST", "/api/v1/fixes", "", `{"project":"app","commit":"a"}{}`, 400, problem.TypeInvalid, "more than one"},
		{"a body that is not JSON by type is a 415", "POST", "/api/v1/forks", "text/plain", `{}`, 415, problem.TypeMediaType, "text/plain"},
		{"fixes are listed without their diffs", "GET", "/api/v1/fixes", "", "", 200, "", `"verdict":"applies"`},
		{"a known fix is found", "GET", "/api/v1/fixes/ma:ma-1", "", "", 200, "", `"diff":"diff --git`},
		{"a fix id without a country is a 400", "GET", "/api/v1/fixes/ma-1", "", "", 400, problem.TypeInvalid, "<country>:<fix_id>"},
		{"an unknown fix is a 404", "GET", "/api/v1/fixes/lk:nope", "", "", 404, problem.TypeNotFound, "lk:nope"},
		{"a fix exports as an mbox", "GET", "/api/v1/fixes/ma:ma-1/mbox", "", "", 200, "", "From 0"},
		{"publishing a fix answers what was published", "POST", "/api/v1/fixes", "application/json", `{"project":"app","commit":"abc"}`, 201, "", `"fix_id":"ph-abc"`},
		{"publishing for a bad project is a 400", "POST", "/api/v1/fixes", "application/json", `{"project":"-x","commit":"abc"}`, 400, problem.TypeInvalid, "slug"},
		{"a failure of the node is a 500 that hides its internals", "POST", "/api/v1/fixes", "application/json", `{"project":"app","commit":"boom"}`, 500, problem.TypeInternal, "log"},
		{"refresh answers no content", "POST", "/api/v1/refresh", "", "", 204, "", ""},
		{"refresh of a bad project is a 400", "POST", "/api/v1/refresh?project=B%20ad", "", "", 400, problem.TypeInvalid, "slug"},
		{"an unknown path is a 404 problem", "GET", "/api/v2/nothing", "", "", 404, problem.TypeNotFound, "/api/v2/nothing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if !strings.Contains(string(body), tc.contains) {
				t.Errorf("body %s does not contain %q", body, tc.contains)
			}
			if tc.problem == "" {
				if tc.path == "/api/v1/fixes" && tc.method == "GET" && strings.Contains(string(body), "diff --git") {
					t.Errorf("the list carries diffs: %s", body)
				}
				return
			}
			if ct := resp.Header.Get("Content-Type"); ct != problem.ContentType {
				t.Errorf("Content-Type %q, want %s", ct, problem.ContentType)
			}
			var p problem.Problem
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatal(err)
			}
			if p.Type != tc.problem || p.Status != tc.status || p.Title != http.StatusText(tc.status) || p.Detail == "" {
				t.Errorf("problem %+v", p)
			}
			if strings.Contains(p.Detail, "/secret/path") {
				t.Errorf("a 500 leaks internals: %q", p.Detail)
			}
		})
	}
}

func TestEveryRequestThatChangesTheNodeNeedsTheToken(t *testing.T) {
	fake := &fakeNode{}
	srv := httptest.NewServer(nodehttp.Handler(fake, token, prometheus.NewRegistry(), nil))
	t.Cleanup(srv.Close)
	posts := []struct{ path, body string }{
		{"/api/v1/forks", `{"project":"app","upstream":"file:///u","dir":"/tmp/x","branch":"ph-main"}`},
		{"/api/v1/fixes", `{"project":"app","repo":"/some/other/repo","commit":"HEAD"}`},
		{"/api/v1/refresh", ""},
	}
	for _, who := range []struct {
		name, authorization, challenge string
	}{
		{"no Authorization header", "", "Bearer"},
		{"another scheme", "Basic " + token, "Bearer"},
		{"a wrong token", "Bearer " + strings.ToUpper(token), `Bearer error="invalid_token"`},
		{"the token's first half", "Bearer " + token[:len(token)/2], `Bearer error="invalid_token"`},
		{"a bare scheme", "Bearer", "Bearer"},
		{"a token with a space before it", "Bearer  x", `Bearer error="invalid_token"`},
	} {
		for _, p := range posts {
			t.Run(who.name+" is refused POST "+p.path, func(t *testing.T) {
				req, _ := http.NewRequest("POST", srv.URL+p.path, strings.NewReader(p.body))
				req.Header.Set("Content-Type", "application/json")
				if who.authorization != "" {
					req.Header.Set("Authorization", who.authorization)
				}
				resp, err := srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var pr problem.Problem
				if err := json.NewDecoder(resp.Body).Decode(&pr); err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != 401 || pr.Status != 401 || pr.Type != problem.TypeUnauthorized ||
					resp.Header.Get("Content-Type") != problem.ContentType {
					t.Fatalf("%d %+v", resp.StatusCode, pr)
				}
				if got := resp.Header.Get("WWW-Authenticate"); got != who.challenge {
					t.Errorf("WWW-Authenticate %q, want %q", got, who.challenge)
				}
				if strings.Contains(pr.Detail, token) {
					t.Errorf("the answer shows the token: %s", pr.Detail)
				}
			})
		}
	}
	if len(fake.forks) != 0 || len(fake.published) != 0 || len(fake.refreshed) != 0 {
		t.Fatalf("the node was changed: forks %v, published %v, refreshed %v", fake.forks, fake.published, fake.refreshed)
	}
	t.Run("the token, scheme in any case, is let through", func(t *testing.T) {
		req, _ := http.NewRequest("POST", srv.URL+"/api/v1/refresh", nil)
		req.Header.Set("Authorization", "bearer "+token)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent || len(fake.refreshed) != 1 {
			t.Fatalf("status %d, refreshed %v", resp.StatusCode, fake.refreshed)
		}
	})
	t.Run("reads need no token", func(t *testing.T) {
		for _, path := range []string{"/healthz", "/metrics", "/api/v1/forks", "/api/v1/fixes", "/api/v1/fixes/ma:ma-1", "/api/v1/fixes/ma:ma-1/mbox"} {
			resp, err := srv.Client().Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s: %d", path, resp.StatusCode)
			}
		}
	})
	t.Run("an API made without a token refuses every change", func(t *testing.T) {
		fake := &fakeNode{}
		srv := httptest.NewServer(nodehttp.Handler(fake, "", prometheus.NewRegistry(), nil))
		t.Cleanup(srv.Close)
		for _, authorization := range []string{"Bearer ", "Bearer  ", "Bearer x"} {
			req, _ := http.NewRequest("POST", srv.URL+"/api/v1/refresh", nil)
			req.Header.Set("Authorization", authorization)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 401 || len(fake.refreshed) != 0 {
				t.Fatalf("%q: status %d", authorization, resp.StatusCode)
			}
		}
	})
}

func TestAnErrorEchoesABoundedPartOfTheInputAndNoPath(t *testing.T) {
	srv := httptest.NewServer(nodehttp.Handler(&fakeNode{}, token, prometheus.NewRegistry(), nil))
	t.Cleanup(srv.Close)
	post := func(t *testing.T, path, body string) problem.Problem {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var p problem.Problem
		if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 400 || p.Type != problem.TypeInvalid {
			t.Fatalf("status %d, %+v", resp.StatusCode, p)
		}
		return p
	}
	t.Run("a path the node's error repeats is not answered", func(t *testing.T) {
		p := post(t, "/api/v1/forks", `{"project":"app","upstream":"file:///u","dir":"/home/victim/.ssh","branch":"b"}`)
		if strings.Contains(p.Detail, "/home/") || strings.Contains(p.Detail, ".ssh") || !strings.Contains(p.Detail, problem.Redacted) {
			t.Fatalf("detail %q", p.Detail)
		}
	})
	t.Run("a huge input is echoed at most MaxDetail characters", func(t *testing.T) {
		p := post(t, "/api/v1/forks", `{"project":"`+strings.Repeat("A", 500<<10)+`"}`)
		if n := len([]rune(p.Detail)); n > problem.MaxDetail+1 || !strings.HasSuffix(p.Detail, "…") {
			t.Fatalf("detail of %d characters: %.80q", n, p.Detail)
		}
	})
}
