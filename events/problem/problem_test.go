package problem_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/problem"
)

var errDomain = events.Sentinel(events.ErrBadInput, "invalid input")

func TestErrorAnswersByKindNeverByText(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		status     int
		typ        string
		detail     string
		logsIt     bool
		detailHide string
	}{
		{"a bad input is 400 with its text", events.Errorf(events.ErrBadInput, "limit %q is not a number", "x"),
			400, problem.TypeInvalid, `bad input: limit "x" is not a number`, false, ""},
		{"a domain sentinel of kind bad input is 400", fmt.Errorf("%w: project is not a slug", errDomain),
			400, problem.TypeInvalid, "invalid input: project is not a slug", false, ""},
		{"an invalid event is 400", fmt.Errorf("publish: %w", events.ErrInvalid),
			400, problem.TypeInvalid, "publish: invalid event", false, ""},
		{"an event the authority table refuses is 403", fmt.Errorf("publish: %w", &events.AuthorityError{Type: events.TypeProposalEndorsed, Source: "urn:dpihub:lk:cli", Rule: events.RuleOthersProposal, Reason: "lk endorses its own proposal lk-1"}),
			403, problem.TypeForbidden, "publish: not authorized: proposal.endorsed from urn:dpihub:lk:cli breaks rule others-proposal: lk endorses its own proposal lk-1", false, ""},
		{"not found is 404", events.Errorf(events.ErrNotFound, "no fix %q", "ma:1"),
			404, problem.TypeNotFound, `not found: no fix "ma:1"`, false, ""},
		{"unauthorized is 401", events.Errorf(events.ErrUnauthorized, "send a bearer token"),
			401, problem.TypeUnauthorized, "unauthorized: send a bearer token", false, ""},
		{"text that says not found is still a 500", errors.New("not found: /var/lib/secret"),
			500, problem.TypeInternal, "the service failed to answer; its log says why", true, "/var/lib/secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core, logs := observer.New(zap.ErrorLevel)
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodGet, "/api/v1/x?q=1", nil)
			problem.Error(w, r, zap.New(core), tt.err)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d", w.Code, tt.status)
			}
			if ct := w.Header().Get("Content-Type"); ct != problem.ContentType {
				t.Fatalf("Content-Type %q", ct)
			}
			var p problem.Problem
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
				t.Fatal(err)
			}
			want := problem.Problem{Type: tt.typ, Title: http.StatusText(tt.status), Status: tt.status, Detail: tt.detail, Instance: "/api/v1/x?q=1"}
			if p != want {
				t.Fatalf("problem %+v, want %+v", p, want)
			}
			if got := logs.Len() == 1; got != tt.logsIt {
				t.Fatalf("logged %d lines, want logged=%v", logs.Len(), tt.logsIt)
			}
			if tt.detailHide != "" && strings.Contains(w.Body.String(), tt.detailHide) {
				t.Fatalf("the answer shows %q: %s", tt.detailHide, w.Body)
			}
		})
	}
}

func TestDetailIsWhatTheCallerWrote(t *testing.T) {
	err := fmt.Errorf("search: %w", events.Errorf(events.ErrBadInput, "cursor %q is malformed", "zz"))
	if got, want := events.Detail(err), `cursor "zz" is malformed`; got != want {
		t.Fatalf("Detail = %q, want %q", got, want)
	}
	if got := events.Detail(errors.New("plain")); got != "plain" {
		t.Fatalf("Detail of a plain error = %q", got)
	}
	if !errors.Is(err, events.ErrBadInput) {
		t.Fatal("an Errorf of kind bad input is not errors.Is bad input")
	}
}

func TestADetailEchoesABoundedPartOfTheInputAndNoPath(t *testing.T) {
	long := strings.Repeat("x", 10000)
	tests := []struct {
		name, path, detail, want string
	}{
		{"a short detail is left alone", "/api/v1/x", `limit "7x" is not a number`, `bad input: limit "7x" is not a number`},
		{"a long detail is cut at MaxDetail characters, and says so", "/api/v1/x", long,
			"bad input: " + long[:problem.MaxDetail-len("bad input: ")] + "…"},
		{"characters are counted, not bytes", "/api/v1/x", strings.Repeat("é", 1000),
			"bad input: " + strings.Repeat("é", problem.MaxDetail-len("bad input: ")) + "…"},
		{"a quoted path goes, spaces and all", "/api/v1/x", `fork dir "/home/x/my repo": no such file`,
			`bad input: fork dir "<path>": no such file`},
		{"a path at the start goes, the sentence's colon stays", "/api/v1/x", "/home/x/repo: not a git repository",
			"bad input: <path>: not a git repository"},
		{"a path after a space goes, the full stop stays", "/api/v1/x", "cannot read /srv/forks/ma/.git.",
			"bad input: cannot read <path>."},
		{"a file URL goes", "/api/v1/x", "upstream file:///srv/up.git is gone", "bad input: upstream <path> is gone"},
		{"a home-relative path goes", "/api/v1/x", "key=~/keys/ma.key", "bad input: key=<path>"},
		{"a path in brackets goes", "/api/v1/x", "dirs [/a/b /c]", "bad input: dirs [<path> <path>]"},
		{"media types, URLs, ranges and fractions stay", "/api/v1/x", "send application/json to https://example.org/a/b; A..B; 1/2; a / b",
			"bad input: send application/json to https://example.org/a/b; A..B; 1/2; a / b"},
		{"the request's own URL path stays", "/api/v2/nothing", "no route GET /api/v2/nothing", "bad input: no route GET /api/v2/nothing"},
		{"another URL path goes: it errs on the side of redacting", "/api/v1/x", "no route GET /api/v2/nothing", "bad input: no route GET <path>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodPost, tt.path, nil)
			problem.Error(w, r, nil, events.Errorf(events.ErrBadInput, "%s", tt.detail))
			var p problem.Problem
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
				t.Fatal(err)
			}
			if p.Detail != tt.want {
				t.Fatalf("detail\n%q, want\n%q", p.Detail, tt.want)
			}
			if n := len([]rune(p.Detail)); n > problem.MaxDetail+1 {
				t.Fatalf("detail of %d characters", n)
			}
		})
	}
	t.Run("the instance is cut too", func(t *testing.T) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/api/v1/x?q="+long, nil)
		problem.Write(w, r, problem.New(http.StatusNotFound, problem.TypeNotFound, "no such thing"))
		var p problem.Problem
		if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		if n := len([]rune(p.Instance)); n != problem.MaxDetail+1 || !strings.HasPrefix(p.Instance, "/api/v1/x?q=xxx") {
			t.Fatalf("instance of %d characters: %.40q…", n, p.Instance)
		}
	})
}

// FuzzWriteBoundsEveryDetailAndDropsPaths: whatever a detail says, the
// answer is valid JSON, its detail at most MaxDetail characters (and the
// cut mark), and a path that follows a space never reaches the caller.
func FuzzWriteBoundsEveryDetailAndDropsPaths(f *testing.F) {
	for _, s := range []string{"", "plain", `fork dir "/home/x/a b"`, "file:///srv/x.", "~/k", `"/a`, "é/", strings.Repeat("/a", 400)} {
		f.Add(s)
	}
	const secret = "/dpihub-secret/place"
	f.Fuzz(func(t *testing.T, s string) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/api/v1/x", nil)
		problem.Error(w, r, nil, events.Errorf(events.ErrBadInput, "%s %s ", s, secret))
		var p problem.Problem
		if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
			t.Fatalf("not JSON: %v", err)
		}
		if n := len([]rune(p.Detail)); n > problem.MaxDetail+1 {
			t.Fatalf("detail of %d characters", n)
		}
		if strings.Contains(p.Detail, "dpihub-secret") {
			t.Fatalf("the path reached the answer: %q", p.Detail)
		}
	})
}
