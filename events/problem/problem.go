// Package problem answers every dpihub HTTP API's errors one way: as RFC
// 9457 problem details (application/problem+json), with the status decided
// by the error's kind (events.ErrBadInput, events.ErrUnauthorized,
// events.ErrNotFound) and never by its text.
//
// A service's HTTP package calls Error for a failed call into its domain,
// and Write for what only HTTP knows (an unknown route, a body that is not
// JSON). A failure of no known kind is a 500 whose detail names no
// internals; the log gets the whole error.
//
// A detail often quotes the caller's input, and an answer goes to whoever
// asked: Write cuts every detail (and instance) to MaxDetail characters,
// and replaces each filesystem path in a detail with Redacted, so that an
// error never echoes a large input back nor tells a stranger where the
// service keeps its files.
package problem

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/dpihub/dpihub/events"
)

// ContentType is the media type of a problem.
const ContentType = "application/problem+json"

// Problem types. A client switches on Type, never on Detail.
const (
	TypeInvalid      = "urn:dpihub:problem:invalid-input"
	TypeUnauthorized = "urn:dpihub:problem:unauthorized"
	TypeForbidden    = "urn:dpihub:problem:forbidden"
	TypeNotFound     = "urn:dpihub:problem:not-found"
	TypeMediaType    = "urn:dpihub:problem:unsupported-media-type"
	TypeInternal     = "urn:dpihub:problem:internal"
)

// MaxDetail is the most characters of a Detail (and of an Instance) that
// Write sends; a longer one is cut there and ends with "…". An answer
// thus echoes at most this much of a caller's input.
const MaxDetail = 300

// Redacted replaces a filesystem path in a Detail.
const Redacted = "<path>"

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

// For classifies err: 400 for an events.ErrBadInput, 401 for an
// events.ErrUnauthorized, 403 for an events.ErrForbidden (an event the
// authority table refuses), 404 for an events.ErrNotFound, 500 for anything
// else. internal reports the last case; its Detail then says only that the
// service's log says why. This is the one place where a kind becomes a
// status.
func For(err error) (p Problem, internal bool) {
	switch {
	case errors.Is(err, events.ErrBadInput):
		return New(http.StatusBadRequest, TypeInvalid, err.Error()), false
	case errors.Is(err, events.ErrUnauthorized):
		return New(http.StatusUnauthorized, TypeUnauthorized, err.Error()), false
	case errors.Is(err, events.ErrForbidden):
		return New(http.StatusForbidden, TypeForbidden, err.Error()), false
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
// when it has none. Its Detail loses every filesystem path (but the
// request's own URL path) and, like its Instance, is cut to MaxDetail
// characters. Problems are never cached.
func Write(w http.ResponseWriter, r *http.Request, p Problem) {
	own := ""
	if r != nil {
		own = r.URL.Path
		if p.Instance == "" {
			p.Instance = r.URL.RequestURI()
		}
	}
	p.Detail = cut(redact(p.Detail, own))
	p.Instance = cut(p.Instance)
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

// WriteJSON writes an answer that is not a problem as every API writes
// its answers: application/json, status, v encoded without HTML escaping.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// cut cuts s to MaxDetail characters, marking the cut.
func cut(s string) string {
	if t := events.Truncate(s, MaxDetail); t != s {
		return t + "…"
	}
	return s
}

// redact replaces every filesystem path in s with Redacted: an absolute
// path ("/srv/forks/x"), a home-relative one ("~/x") or a file URL
// ("file:///srv/x"), where it starts a word or follows "=", "(" or "[" or
// a quote. A quoted path ends at its closing quote, spaces included;
// another ends at a space, a quote or a bracket, and loses a final "." or
// ":" (the sentence's, not the path's). own, the request's URL path, is
// kept: the caller sent it, and it is a route, not a file.
//
// It errs on the side of redacting: a URL path of another request in a
// detail is redacted too.
func redact(s, own string) string {
	if !strings.ContainsAny(s, "/~") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if end := pathEnd(s, i); end > i && s[i:end] != own {
			b.WriteString(Redacted)
			i = end
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// pathEnd returns where the path that starts at s[i] ends, or i when none
// starts there.
func pathEnd(s string, i int) int {
	var quote byte
	if i > 0 {
		switch prev := s[i-1]; prev {
		case '"', '\'', '`':
			quote = prev
		case ' ', '\t', '\n', '=', '(', '[':
		default:
			return i
		}
	}
	j := i
	if strings.HasPrefix(s[j:], "file://") {
		j += len("file://")
	} else if strings.HasPrefix(s[j:], "~/") {
		j++
	}
	if j >= len(s) || s[j] != '/' || j+1 >= len(s) || !inPath(s[j+1]) {
		return i
	}
	if quote != 0 {
		if k := strings.IndexByte(s[j:], quote); k > 0 {
			return j + k
		}
	}
	for j < len(s) && inPath(s[j]) {
		j++
	}
	for j > i && (s[j-1] == '.' || s[j-1] == ':') {
		j--
	}
	return j
}

// inPath reports whether c may be part of an unquoted path.
func inPath(c byte) bool {
	return !strings.ContainsRune(" \t\n\r\"'`()[]{}<>,;", rune(c))
}
