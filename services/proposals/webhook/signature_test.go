package webhook_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/services/proposals/webhook"
)

// The test vector of the Standard Webhooks reference libraries: a receiver
// using any of them accepts what VerifyRequest accepts.
const (
	vectorSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTime   = "1614265330"
	vectorBody   = `{"test": 2432232314}`
	vectorSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestVerifyRequest(t *testing.T) {
	at := time.Unix(1614265330, 0)
	headers := func(id, ts, sig string) http.Header {
		h := http.Header{}
		for k, v := range map[string]string{webhook.HeaderID: id, webhook.HeaderTimestamp: ts, webhook.HeaderSignature: sig} {
			if v != "" {
				h.Set(k, v)
			}
		}
		return h
	}
	tests := []struct {
		name   string
		secret string
		h      http.Header
		body   string
		now    time.Time
		want   error
	}{
		{"the Standard Webhooks test vector verifies", vectorSecret, headers(vectorID, vectorTime, vectorSig), vectorBody, at, nil},
		{"the secret's prefix is optional", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", headers(vectorID, vectorTime, vectorSig), vectorBody, at, nil},
		{"one good signature among several is enough", vectorSecret,
			headers(vectorID, vectorTime, "v1,bm9wZQ== v1a,c29tZXRoaW5n "+vectorSig), vectorBody, at, nil},
		{"a timestamp within the tolerance verifies", vectorSecret, headers(vectorID, vectorTime, vectorSig), vectorBody, at.Add(4 * time.Minute), nil},
		{"another body fails", vectorSecret, headers(vectorID, vectorTime, vectorSig), `{"test": 2432232315}`, at, webhook.ErrSignature},
		{"another id fails", vectorSecret, headers("msg_other", vectorTime, vectorSig), vectorBody, at, webhook.ErrSignature},
		{"a signature without its version fails", vectorSecret,
			headers(vectorID, vectorTime, "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), vectorBody, at, webhook.ErrSignature},
		{"another secret fails", "whsec_" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", headers(vectorID, vectorTime, vectorSig), vectorBody, at, webhook.ErrSignature},
		{"an old timestamp fails", vectorSecret, headers(vectorID, vectorTime, vectorSig), vectorBody, at.Add(6 * time.Minute), webhook.ErrTimestamp},
		{"a timestamp in the future fails", vectorSecret, headers(vectorID, vectorTime, vectorSig), vectorBody, at.Add(-6 * time.Minute), webhook.ErrTimestamp},
		{"a timestamp that is not a number fails", vectorSecret, headers(vectorID, "2021-02-25T15:02:10Z", vectorSig), vectorBody, at, webhook.ErrTimestamp},
		{"a missing signature fails", vectorSecret, headers(vectorID, vectorTime, ""), vectorBody, at, webhook.ErrUnsigned},
		{"a missing id fails", vectorSecret, headers("", vectorTime, vectorSig), vectorBody, at, webhook.ErrUnsigned},
		{"a secret that is not Base64 fails", "whsec_not base64!", headers(vectorID, vectorTime, vectorSig), vectorBody, at, webhook.ErrSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := webhook.VerifyRequest(tt.secret, tt.h, []byte(tt.body), tt.now, 0)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("VerifyRequest: %v, want %v", err, tt.want)
			}
			if tt.want == webhook.ErrSignature && !errors.Is(err, events.ErrUnauthorized) {
				t.Errorf("%v is not an ErrUnauthorized", err)
			}
		})
	}
	t.Run("the tolerance given is the tolerance used", func(t *testing.T) {
		h := headers(vectorID, vectorTime, vectorSig)
		if err := webhook.VerifyRequest(vectorSecret, h, []byte(vectorBody), at.Add(2*time.Second), time.Second); !errors.Is(err, webhook.ErrTimestamp) {
			t.Errorf("2s off with 1s of tolerance: %v, want ErrTimestamp", err)
		}
	})
}

func TestHandshakeAnswersTheValidationRequest(t *testing.T) {
	tests := []struct {
		name          string
		method        string
		origin, rate  string
		allowed       string
		handled       bool
		status        int
		allowedOrigin string
		allowedRate   string
	}{
		{"grants its origin", http.MethodOptions, "dpihub", "", "dpihub", true, 200, "dpihub", "*"},
		{"compares origins without case", http.MethodOptions, "DPIHub", "", "dpihub", true, 200, "DPIHub", "*"},
		{"grants the rate asked for", http.MethodOptions, "dpihub", "120", "dpihub", true, 200, "dpihub", "120"},
		{"grants any origin with *", http.MethodOptions, "hub.example.org", "", "*", true, 200, "hub.example.org", "*"},
		{"refuses another origin", http.MethodOptions, "evil.example.org", "", "dpihub", true, 403, "", ""},
		{"gives no consent without an origin", http.MethodOptions, "", "", "dpihub", true, 204, "", ""},
		{"leaves a POST to the caller", http.MethodPost, "dpihub", "", "dpihub", false, 200, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/hook", nil)
			if tt.origin != "" {
				r.Header.Set(webhook.HeaderRequestOrigin, tt.origin)
			}
			if tt.rate != "" {
				r.Header.Set(webhook.HeaderRequestRate, tt.rate)
			}
			w := httptest.NewRecorder()
			if got := webhook.Handshake(w, r, tt.allowed); got != tt.handled {
				t.Fatalf("Handshake = %v, want %v", got, tt.handled)
			}
			if w.Code != tt.status {
				t.Errorf("status %d, want %d", w.Code, tt.status)
			}
			if got := w.Header().Get(webhook.HeaderAllowedOrigin); got != tt.allowedOrigin {
				t.Errorf("WebHook-Allowed-Origin %q, want %q", got, tt.allowedOrigin)
			}
			if got := w.Header().Get(webhook.HeaderAllowedRate); got != tt.allowedRate {
				t.Errorf("WebHook-Allowed-Rate %q, want %q", got, tt.allowedRate)
			}
		})
	}
}
