package hub_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dpihub/dpihub/services/hub"
)

func healthz(t *testing.T, h *hub.Hub) (int, string) {
	t.Helper()
	res, err := http.Get("http://" + h.HTTPAddr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct{ Status string }
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, body.Status
}

// TestHealthzSaysStartingUntilTheServicesRun: a hub that will run
// services answers 503 "starting" until Started, then 200 "ok"; one
// without services is ready at once.
func TestHealthzSaysStartingUntilTheServicesRun(t *testing.T) {
	for _, starting := range []bool{true, false} {
		ctx := context.Background()
		h, err := hub.Start(ctx, hub.Config{DataDir: t.TempDir(), NATSPort: -1, HTTPAddr: "127.0.0.1:0", Starting: starting})
		if err != nil {
			t.Fatal(err)
		}
		code, status := healthz(t, h)
		if starting && (code != http.StatusServiceUnavailable || status != "starting") {
			t.Errorf("before Started: %d %q, want 503 starting", code, status)
		}
		if !starting && (code != http.StatusOK || status != "ok") {
			t.Errorf("without services: %d %q, want 200 ok", code, status)
		}
		h.Started()
		if code, status := healthz(t, h); code != http.StatusOK || status != "ok" {
			t.Errorf("after Started: %d %q, want 200 ok", code, status)
		}
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		h.Close(sctx)
		cancel()
	}
}

// A service that says it is not ok makes /healthz 503 "degraded" with
// its reason, until it says ok again.
func TestHealthzSaysDegradedWhileAServiceIsBehind(t *testing.T) {
	h, err := hub.Start(context.Background(), hub.Config{DataDir: t.TempDir(), NATSPort: -1, HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		h.Close(ctx)
	})
	var behind atomic.Bool
	behind.Store(true)
	h.AddHealthCheck(hub.HealthCheck{Name: "feed", Check: func() (bool, string) {
		if behind.Load() {
			return false, "stream-recreated: catching up"
		}
		return true, ""
	}})
	if code, status := healthz(t, h); code != http.StatusServiceUnavailable || status != "degraded" {
		t.Fatalf("%d %q, want 503 degraded", code, status)
	}
	behind.Store(false)
	if code, status := healthz(t, h); code != http.StatusOK || status != "ok" {
		t.Fatalf("%d %q, want 200 ok once caught up", code, status)
	}
}
