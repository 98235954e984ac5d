// Package prophttp is the proposals service's HTTP API:
//
//	GET    /api/v1/governance/proposals/{id}      a proposal's state and outlook under its project's rules
//	GET    /api/v1/governance/rules/{project}     a project's rules
//	POST   /api/v1/proposals/{id}/implemented     a maintainer marks a proposal implemented (bearer token)
//	GET    /api/v1/projects/{slug}/stream         server-sent events: the project's proposal events, verified, resumable
//	POST   /api/v1/subscriptions                  a maintainer subscribes a webhook to a project (bearer token)
//	GET    /api/v1/subscriptions                  the subscriptions the token may see, with their delivery status
//	GET    /api/v1/subscriptions/{id}             one of them
//	DELETE /api/v1/subscriptions/{id}             unsubscribe
//
// Errors are RFC 9457 problems (events/problem). Reading is open, as the
// feed is; every request that changes something needs a bearer token: the
// service's own (the hub operator's) or one of the project's maintainers'
// (governance.Rules.Maintainers).
package prophttp

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/problem"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/services/proposals"
	"github.com/dpihub/dpihub/services/proposals/governance"
)

// ErrNoToken: a request that changes something came without a bearer
// token.
var ErrNoToken = events.Sentinel(events.ErrUnauthorized, "a bearer token is required")

// Config configures the handler.
type Config struct {
	Governor *proposals.Governor
	// Subscriptions manages webhooks (nil: the subscription endpoints
	// answer 404).
	Subscriptions Subscriptions
	// JetStream and Verifier serve the event streams.
	JetStream jetstream.JetStream
	Verifier  *sign.Verifier
	// MaxStreams bounds the open event streams (default 256); one more is
	// answered 503 with Retry-After.
	MaxStreams int
	Logger     *zap.Logger // nil: no logs
}

// Handler serves the API.
type Handler struct {
	cfg     Config
	mux     *http.ServeMux
	streams chan struct{}
}

// New returns the API handler.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.MaxStreams <= 0 {
		cfg.MaxStreams = 256
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux(), streams: make(chan struct{}, cfg.MaxStreams)}
	h.mux.HandleFunc("GET /api/v1/governance/proposals/{id}", h.proposal)
	h.mux.HandleFunc("GET /api/v1/governance/rules/{project}", h.rules)
	h.mux.HandleFunc("POST /api/v1/proposals/{id}/implemented", h.implemented)
	h.mux.HandleFunc("GET /api/v1/projects/{slug}/stream", h.stream)
	h.mux.HandleFunc("POST /api/v1/subscriptions", h.subscribe)
	h.mux.HandleFunc("GET /api/v1/subscriptions", h.subscriptions)
	h.mux.HandleFunc("GET /api/v1/subscriptions/{id}", h.subscription)
	h.mux.HandleFunc("DELETE /api/v1/subscriptions/{id}", h.unsubscribe)
	return h
}

// Patterns are the routes, for a mux that mounts the handler beside
// others (the hub's).
func Patterns() []string {
	return []string{
		"GET /api/v1/governance/", "POST /api/v1/proposals/{id}/implemented", "GET /api/v1/projects/{slug}/stream",
		"/api/v1/subscriptions", "/api/v1/subscriptions/",
	}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	problem.Error(w, r, h.cfg.Logger, err)
}

// proposalView is a proposal as the API shows it.
type proposalView struct {
	governance.Proposal
	Endorsers  []string           `json:"endorsers"`
	Objectors  []string           `json:"objectors"`
	Outlook    governance.Outlook `json:"outlook"`
	Unanswered []governance.Vote  `json:"unanswered_objections,omitempty"`
}

func (h *Handler) proposal(w http.ResponseWriter, r *http.Request) {
	p, o, ok := h.cfg.Governor.Proposal(r.PathValue("id"))
	if !ok {
		h.fail(w, r, events.Errorf(governance.ErrUnknownProposal, "no proposal %q", r.PathValue("id")))
		return
	}
	problem.WriteJSON(w, http.StatusOK, proposalView{Proposal: p, Endorsers: nonNil(p.Endorsers()), Objectors: nonNil(p.Objectors()), Outlook: o, Unanswered: p.Unanswered()})
}

func (h *Handler) rules(w http.ResponseWriter, r *http.Request) {
	project := r.PathValue("project")
	if !events.ValidProject(project) {
		h.fail(w, r, events.Errorf(events.ErrBadInput, "%q is not a project slug", project))
		return
	}
	rs := h.cfg.Governor.Rules(project)
	problem.WriteJSON(w, http.StatusOK, map[string]any{"project": project, "min_endorsements": rs.MinEndorsements,
		"answer_within": rs.AnswerWithin, "decide_after": rs.DecideAfter, "summary": rs.Summary()})
}

func (h *Handler) implemented(w http.ResponseWriter, r *http.Request) {
	tok, err := bearer(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var body struct {
		Reason string `json:"reason"`
	}
	if err := readJSON(r, &body, true); err != nil {
		h.fail(w, r, err)
		return
	}
	d, err := h.cfg.Governor.MarkImplemented(r.Context(), r.PathValue("id"), tok, body.Reason)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	problem.WriteJSON(w, http.StatusAccepted, map[string]string{"proposal_id": d.ProposalID, "from": d.From, "to": d.To,
		"event_id": proposals.DecisionID(d), "reason": d.Reason})
}

// bearer returns the request's bearer token.
func bearer(r *http.Request) (string, error) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", ErrNoToken
	}
	return strings.TrimSpace(tok), nil
}

// readJSON decodes a small JSON body; optional allows an empty one.
func readJSON(r *http.Request, v any, optional bool) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 64<<10+1))
	if err != nil {
		return events.Errorf(events.ErrBadInput, "read the body: %v", err)
	}
	if len(b) > 64<<10 {
		return events.Errorf(events.ErrBadInput, "the body is larger than 64 KiB")
	}
	if len(strings.TrimSpace(string(b))) == 0 && optional {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return events.Errorf(events.ErrBadInput, "the body is not the JSON expected: %v", err)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

var errStreamsFull = errors.New("too many open event streams")

// ctxErr reports whether err is the request ending.
func ctxErr(ctx context.Context, err error) bool {
	return ctx.Err() != nil || errors.Is(err, context.Canceled)
}
