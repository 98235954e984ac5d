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
		{"not found is 404", events.Errorf(events.ErrNotFound, "no fix %q", "ma:1"),
			404, problem.TypeNotFound, `not found: no fix "ma:1"`, false, ""},
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
