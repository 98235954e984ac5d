package webhook

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/dpihub/dpihub/events"
)

// The handshake of the CloudEvents HTTP Web Hook spec ("Abuse Protection",
// cloudevents/spec http-webhook.md, section 4): before anything is
// delivered to a URL, its receiver must say it wants deliveries from this
// sender, so that nobody can aim the hub's traffic at a site that never
// asked for it. This file holds both sides: asking, and answering at a
// receiver.

// Headers of the handshake.
const (
	// HeaderRequestOrigin names the sender in the validation request
	// (Config.Origin).
	HeaderRequestOrigin = "WebHook-Request-Origin"
	// HeaderRequestRate is the rate, in requests a minute, a sender may ask
	// for. The dispatcher asks for none.
	HeaderRequestRate = "WebHook-Request-Rate"
	// HeaderAllowedOrigin is the receiver's consent: the sender's origin,
	// or * for any.
	HeaderAllowedOrigin = "WebHook-Allowed-Origin"
	// HeaderAllowedRate is the rate the receiver grants, in requests a
	// minute, or * for any.
	HeaderAllowedRate = "WebHook-Allowed-Rate"
)

// handshake sends the validation request, OPTIONS target with
// WebHook-Request-Origin, and returns the WebHook-Allowed-Rate the
// receiver granted ("" if it named none). A receiver that does not answer
// 2xx with WebHook-Allowed-Origin equal to the origin or * has not agreed:
// that is an events.ErrBadInput error saying what it answered instead.
func (d *Dispatcher) handshake(ctx context.Context, target string) (rate string, err error) {
	actx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodOptions, target, nil)
	if err != nil {
		return "", events.Errorf(events.ErrBadInput, "webhook URL %s: %v", redact(target), err)
	}
	origin := d.cfg.Origin
	req.Header.Set(HeaderRequestOrigin, origin)
	req.Header.Set("User-Agent", userAgent)
	resp, err := d.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("webhook handshake with %s: %w", redact(target), ctx.Err())
		}
		return "", events.Errorf(events.ErrBadInput,
			"the receiver did not answer the webhook handshake (OPTIONS with %s: %s) within %v: %v",
			HeaderRequestOrigin, origin, d.cfg.Timeout, attemptError(err, d.cfg.Timeout))
	}
	discard(resp)
	allowed := resp.Header.Get(HeaderAllowedOrigin)
	switch {
	case resp.StatusCode/100 != 2:
		return "", events.Errorf(events.ErrBadInput,
			"the receiver at %s refused the webhook handshake: it answered %q to OPTIONS with %s: %s; it must answer 2xx with %s: %s (or *)",
			redact(target), resp.Status, HeaderRequestOrigin, origin, HeaderAllowedOrigin, origin)
	case allowed == "":
		return "", events.Errorf(events.ErrBadInput,
			"the receiver at %s did not agree in the webhook handshake: it answered %q to OPTIONS with %s: %s, without a %s header",
			redact(target), resp.Status, HeaderRequestOrigin, origin, HeaderAllowedOrigin)
	case allowed != "*" && !strings.EqualFold(allowed, origin):
		return "", events.Errorf(events.ErrBadInput,
			"the receiver at %s did not agree in the webhook handshake: it answered %s: %q to OPTIONS with %s: %s; it must be %q or *",
			redact(target), HeaderAllowedOrigin, allowed, HeaderRequestOrigin, origin, origin)
	}
	return resp.Header.Get(HeaderAllowedRate), nil
}

// Handshake answers the validation request of the CloudEvents webhook
// handshake for a receiver, and reports whether r was such a request:
// call it first in a receiver's handler and return when it says true.
//
// For an OPTIONS request whose WebHook-Request-Origin is allowedOrigin
// (compared without case; "*" allows any sender) it answers 200 with
// WebHook-Allowed-Origin, WebHook-Allowed-Rate (the rate asked for, or *)
// and Allow: OPTIONS, POST. An OPTIONS request from another origin gets
// 403 and no consent; one that names no origin, 204 and no consent. Any
// other method is left to the caller (false).
func Handshake(w http.ResponseWriter, r *http.Request, allowedOrigin string) bool {
	if r.Method != http.MethodOptions {
		return false
	}
	w.Header().Set("Allow", "OPTIONS, POST")
	origin := r.Header.Get(HeaderRequestOrigin)
	switch {
	case origin == "":
		w.WriteHeader(http.StatusNoContent)
		return true
	case allowedOrigin != "*" && !strings.EqualFold(origin, allowedOrigin):
		w.WriteHeader(http.StatusForbidden)
		return true
	}
	rate := r.Header.Get(HeaderRequestRate)
	if rate == "" {
		rate = "*"
	}
	w.Header().Set(HeaderAllowedOrigin, origin)
	w.Header().Set(HeaderAllowedRate, rate)
	w.WriteHeader(http.StatusOK)
	return true
}
