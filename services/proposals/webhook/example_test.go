package webhook_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/services/proposals/webhook"
)

// A maintainer's receiver: it agrees to the hub's handshake, checks that a
// delivery comes from the hub (the HMAC, with the secret Subscribe
// returned), then that the event comes from the country it names (the
// CloudEvent's own signature, with the hub's trust list), and drops an
// event it already has by its webhook-id.
func Example_receiver() {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // from Subscribe
	var verifier *sign.Verifier                        // sign.NewVerifier(trust list from /trust.json)
	seen := map[string]bool{}                          // by webhook-id; a real receiver keeps this in its store

	receive := func(w http.ResponseWriter, r *http.Request) {
		if webhook.Handshake(w, r, "dpihub") {
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := webhook.VerifyRequest(secret, r.Header, body, time.Now(), 0); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		id := r.Header.Get(webhook.HeaderID)
		if seen[id] {
			w.WriteHeader(http.StatusNoContent) // a repeat: answer 2xx, do nothing
			return
		}
		seen[id] = true
		var e event.Event
		if err := json.Unmarshal(body, &e); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if verifier != nil {
			if _, err := verifier.Verify(e); err != nil {
				http.Error(w, err.Error(), http.StatusUnprocessableEntity)
				return
			}
		}
		fmt.Println("proposal event", e.Type())
		w.WriteHeader(http.StatusNoContent)
	}

	// What the hub's dispatcher does first: the handshake.
	req := httptest.NewRequest(http.MethodOptions, "/hooks/dpihub", nil)
	req.Header.Set(webhook.HeaderRequestOrigin, "dpihub")
	w := httptest.NewRecorder()
	receive(w, req)
	fmt.Println(w.Code, w.Header().Get(webhook.HeaderAllowedOrigin))

	// A delivery signed with another secret is refused.
	req = httptest.NewRequest(http.MethodPost, "/hooks/dpihub", strings.NewReader(`{"test": 2432232314}`))
	req.Header.Set(webhook.HeaderID, "msg_p5jXN8AQM9LWM0D4loKWxJek")
	req.Header.Set(webhook.HeaderTimestamp, fmt.Sprint(time.Now().Unix()))
	req.Header.Set(webhook.HeaderSignature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	w = httptest.NewRecorder()
	receive(w, req)
	fmt.Println(w.Code)
	// Output:
	// 200 dpihub
	// 401
}
