// Package problem answers every dpihub HTTP API's errors one way: as RFC
// 9457 problem details (application/problem+json), with the status decided
// by the error's kind (events.ErrBadInput, events.ErrNotFound) and never by
// its text.
//
// A service's HTTP package calls Error for a failed call into its domain,
// and Write for what only HTTP knows (an unknown route, a body that is not
// JSON). A failure of no known kind is a 500 whose detail names no
// internals; the log gets the whole error.
package problem

import (
	"encoding/json"
	"errors"
	"net/http"

	"go.uber.org/zap"

	"github.com/dpihub/dpihub/events"
)

// ContentType is the media type of a problem.
const ContentType = "application/problem+json"

// Problem types. A client switches on Type, never on Detail.
const (
	TypeInvalid   = "urn:dpihub:problem:invalid-input"
	TypeNotFound  = "urn:dpihub:problem:not-found"
	TypeMediaType = "urn:dpihub:problem:unsupported-media-type"
	TypeInternal  = "urn:dpihub:problem:internal"
)

// Problem is an RFC 9457 problem detail.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Instance is the request's path and query, so that an answer and a
	// log line can be matched.
	Instance string `json:"instance,omitempty"`
}

// For classifies err: 400 for an events.ErrBadInput, 404 for an
// events.ErrNotFound, 500 for anything else. internal reports the last
// case; its Detail then says only that the service's log says why.
func For(err error) (p Problem, internal bool) {
	switch {
	case errors.Is(err, events.ErrBadInput):
		return New(http.StatusBadRequest, TypeInvalid, err.Error()), false
	case errors.Is(err, events.ErrNotFound):
		return New(http.StatusNotFound, TypeNotFound, err.Error()), false
	default:
		return New(http.StatusInternalServerError, TypeInternal, "the service failed to answer; its log says why"), true
	}
}

// New returns a problem of status and type with detail, titled by the
// status.
func New(status int, typ, detail string) Problem {
	return Problem{Type: typ, Title: http.StatusText(status), Status: status, Detail: detail}
}

// Error answers err as For classifies it. An internal failure is logged
// (log may be nil) with the request, since the answer says nothing of it.
func Error(w http.ResponseWriter, r *http.Request, log *zap.Logger, err error) {
	p, internal := For(err)
	if internal && log != nil {
		log.Error("request failed", zap.String("method", r.Method), zap.String("uri", r.URL.RequestURI()), zap.Error(err))
	}
	Write(w, r, p)
}

// Write answers p, with the request's path and query as its Instance
// when it has none. Problems are never cached.
func Write(w http.ResponseWriter, r *http.Request, p Problem) {
	if p.Instance == "" && r != nil {
		p.Instance = r.URL.RequestURI()
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(p)
}
