package prophttp

import (
	"context"
	"net/http"
	"time"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/problem"
)

// Subscription is a webhook subscription as the API shows it. Secret is
// set once, in the answer to the request that made it.
type Subscription struct {
	ID      string    `json:"id"`
	Project string    `json:"project"`
	URL     string    `json:"url"`
	Created time.Time `json:"created"`
	Secret  string    `json:"secret,omitempty"`
	// Delivery is the subscription's delivery status (package webhook's),
	// as JSON.
	Delivery any `json:"delivery,omitempty"`
}

// Subscriptions manages webhooks (the service adapts package webhook).
type Subscriptions interface {
	Subscribe(ctx context.Context, project, url string) (Subscription, error)
	List(ctx context.Context) ([]Subscription, error)
	Get(ctx context.Context, id string) (Subscription, error)
	Remove(ctx context.Context, id string) error
}

// errNoSubscriptions answers the subscription endpoints of a service
// without webhooks.
var errNoSubscriptions = events.Sentinel(events.ErrNotFound, "this service delivers no webhooks")

// subscriber is the bearer token of a request to the subscription
// endpoints, or why there is none: a service without webhooks, a request
// without a token.
func (h *Handler) subscriber(r *http.Request) (string, error) {
	if h.cfg.Subscriptions == nil {
		return "", errNoSubscriptions
	}
	return bearer(r)
}

func (h *Handler) subscribe(w http.ResponseWriter, r *http.Request) {
	tok, err := h.subscriber(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var body struct {
		Project string `json:"project"`
		URL     string `json:"url"`
	}
	if err := readJSON(r, &body, false); err != nil {
		h.fail(w, r, err)
		return
	}
	if !events.ValidProject(body.Project) {
		h.fail(w, r, events.Errorf(events.ErrBadInput, "project %q is not a project slug", body.Project))
		return
	}
	if !h.cfg.Governor.MayAct(body.Project, tok) {
		h.fail(w, r, events.Errorf(events.ErrForbidden, "the token is not one of %s's maintainers'", body.Project))
		return
	}
	s, err := h.cfg.Subscriptions.Subscribe(r.Context(), body.Project, body.URL)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/subscriptions/"+s.ID)
	problem.WriteJSON(w, http.StatusCreated, s)
}

func (h *Handler) subscriptions(w http.ResponseWriter, r *http.Request) {
	tok, err := h.subscriber(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	all, err := h.cfg.Subscriptions.List(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	mine := []Subscription{}
	for _, s := range all {
		if h.cfg.Governor.MayAct(s.Project, tok) {
			s.Secret = ""
			mine = append(mine, s)
		}
	}
	problem.WriteJSON(w, http.StatusOK, map[string]any{"subscriptions": mine})
}

// own returns subscription id if tok acts for its project; otherwise the
// same not-found as for an id that does not exist, so that a token
// cannot probe others' ids.
func (h *Handler) own(r *http.Request) (Subscription, error) {
	tok, err := h.subscriber(r)
	if err != nil {
		return Subscription{}, err
	}
	s, err := h.cfg.Subscriptions.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return Subscription{}, err
	}
	if !h.cfg.Governor.MayAct(s.Project, tok) {
		return Subscription{}, events.Errorf(events.ErrNotFound, "no subscription %q", r.PathValue("id"))
	}
	s.Secret = ""
	return s, nil
}

func (h *Handler) subscription(w http.ResponseWriter, r *http.Request) {
	s, err := h.own(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	problem.WriteJSON(w, http.StatusOK, s)
}

func (h *Handler) unsubscribe(w http.ResponseWriter, r *http.Request) {
	s, err := h.own(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.cfg.Subscriptions.Remove(r.Context(), s.ID); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
