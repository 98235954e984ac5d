package cli_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHealthcheckExitsZeroOnlyWhenTheURLAnswers200(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(status) }))
	defer srv.Close()
	if r := dpihub(t, nil, "", "healthcheck", srv.URL); r.code != 0 {
		t.Errorf("200: exit %d: %s", r.code, r.stderr)
	}
	status = http.StatusServiceUnavailable
	if r := dpihub(t, nil, "", "healthcheck", srv.URL); r.code != 1 {
		t.Errorf("503: exit %d, want 1", r.code)
	}
	if r := dpihub(t, nil, "", "healthcheck"); r.code != 2 {
		t.Errorf("no URL: exit %d, want 2", r.code)
	}
}
