// Package nodehttp serves a node's API over HTTP:
//
//	GET  /healthz                    liveness
//	GET  /metrics                    Prometheus metrics
//	GET  /api/v1/forks               registered forks with their snapshots
//	POST /api/v1/forks               register a fork (node.Fork as JSON)
//	GET  /api/v1/fixes               received fixes with verdicts (diffs left out)
//	GET  /api/v1/fixes/{id}          one received fix, id "<cc>:<fix_id>"
//	GET  /api/v1/fixes/{id}/mbox     the fix as a `git am`-ready mbox
//	POST /api/v1/fixes               publish a commit of a registered fork as a fix ({project, repo?, commit})
//	POST /api/v1/refresh?project=P   re-read forks (of P, or all) and redo open assessments
//
// Every POST changes the node and must carry "Authorization: Bearer
// <token>", the token the node keeps in a file (access.LoadOrMakeToken); without
// it the answer is 401 with a WWW-Authenticate challenge, and the body is
// not read. GET requests are open: they show what the feed shows.
//
// Errors are application/problem+json (RFC 9457) with type, title, status
// and detail: 400 for bad input, 401 for a missing or wrong token, 404 for
// what the node does not know, 415 for a body that is not JSON, 500 for
// the node's own failures (the detail then says nothing of the internals;
// the log does). A detail is cut to problem.MaxDetail characters and
// names no filesystem path.
package nodehttp

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/problem"
	"github.com/dpihub/dpihub/services/node"
)

// maxBody is the largest request body read.
const maxBody = 1 << 20

type server struct {
	svc  node.Service
	auth bearer
	log  *zap.Logger
}

// Handler returns the API of svc. Its POST requests must carry token as a
// bearer token; an empty token refuses every one. Metrics are gathered
// from g (nil: the default gatherer); log may be nil.
func Handler(svc node.Service, token string, g prometheus.Gatherer, log *zap.Logger) http.Handler {
	if g == nil {
		g = prometheus.DefaultGatherer
	}
	if log == nil {
		log = zap.NewNop()
	}
	s := &server{svc: svc, auth: newBearer(token), log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		problem.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /api/v1/forks", s.forks)
	mux.HandleFunc("POST /api/v1/forks", s.guard(s.registerFork))
	mux.HandleFunc("GET /api/v1/fixes", s.fixes)
	mux.HandleFunc("GET /api/v1/fixes/{id}", s.fix)
	mux.HandleFunc("GET /api/v1/fixes/{id}/mbox", s.mbox)
	mux.HandleFunc("POST /api/v1/fixes", s.guard(s.publish))
	mux.HandleFunc("POST /api/v1/refresh", s.guard(s.refresh))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		problem.Write(w, r, problem.New(http.StatusNotFound, problem.TypeNotFound, fmt.Sprintf("no route %s %s", r.Method, r.URL.Path)))
	})
	return mux
}

// fail answers err as a problem (events/problem): 400 for node.ErrInvalid,
// 401 for events.ErrUnauthorized, 404 for node.ErrNotFound, 500 otherwise.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	problem.Error(w, r, s.log, err)
}

// decode reads a JSON body into v, refusing unknown fields and trailing
// data. It answers the problem itself and reports whether to go on.
func (s *server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			problem.Write(w, r, problem.New(http.StatusUnsupportedMediaType, problem.TypeMediaType, fmt.Sprintf("Content-Type %q; send application/json", ct)))
			return false
		}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		s.fail(w, r, node.Invalid("body is not the expected JSON object: %v", err))
		return false
	}
	if dec.More() {
		s.fail(w, r, node.Invalid("body holds more than one JSON value"))
		return false
	}
	return true
}

func (s *server) forks(w http.ResponseWriter, r *http.Request) {
	fs, err := s.svc.Forks(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if fs == nil {
		fs = []node.ForkState{}
	}
	problem.WriteJSON(w, http.StatusOK, fs)
}

func (s *server) registerFork(w http.ResponseWriter, r *http.Request) {
	var f node.Fork
	if !s.decode(w, r, &f) {
		return
	}
	st, err := s.svc.RegisterFork(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	problem.WriteJSON(w, http.StatusCreated, st)
}

func (s *server) fixes(w http.ResponseWriter, r *http.Request) {
	fs, err := s.svc.Fixes(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if fs == nil {
		fs = []node.ReceivedFix{}
	}
	for i := range fs {
		fs[i].Fix.Diff = "" // lists stay small; GET one fix for its diff
	}
	problem.WriteJSON(w, http.StatusOK, fs)
}

func (s *server) fix(w http.ResponseWriter, r *http.Request) {
	f, err := s.svc.Fix(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	problem.WriteJSON(w, http.StatusOK, f)
}

func (s *server) mbox(w http.ResponseWriter, r *http.Request) {
	b, err := s.svc.Export(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/mbox")
	_, _ = w.Write(b)
}

func (s *server) publish(w http.ResponseWriter, r *http.Request) {
	var req node.PublishRequest
	if !s.decode(w, r, &req) {
		return
	}
	fp, err := s.svc.PublishFix(r.Context(), req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	problem.WriteJSON(w, http.StatusCreated, fp)
}

func (s *server) refresh(w http.ResponseWriter, r *http.Request) {
	project := r.URL.Query().Get("project")
	if project != "" && !events.ValidProject(project) {
		s.fail(w, r, node.Invalid("project %q is not a slug ([a-z0-9][a-z0-9-]*)", project))
		return
	}
	if err := s.svc.Refresh(r.Context(), project); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
