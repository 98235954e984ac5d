package cli_test

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dpihub/dpihub/events/bus/bustest"
)

// dpihub serve --services node guards the node's API with a token kept
// in <data>/node-<cc>.token, and sets the stream limits it is given.
func TestServeGuardsTheNodeAPIAndLimitsTheStreams(t *testing.T) {
	keys, key, forks := nodeSetup(t)
	data := t.TempDir()
	logs, _ := serving(t, nil, "--data", data, "--nats-port", "-1", "--http", "-", "--node-http", "127.0.0.1:0",
		"--max-bytes", "2GiB", "--max-msg-size", "1MiB",
		"--services", "node", "--trust", filepath.Join(keys, "trust.json"), "--key", key, "--forks", forks)
	addrRE := regexp.MustCompile(`"node API listening"[^\n]*"addr":"([0-9.:]+)"`)
	bustest.Eventually(t, 20*time.Second, "the node's API listens", func() bool { return addrRE.MatchString(logs.String()) })
	api := "http://" + addrRE.FindStringSubmatch(logs.String())[1]

	tokenFile := filepath.Join(data, "node-lk.token")
	fi, err := os.Stat(tokenFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file %s: %v %v", tokenFile, fi, err)
	}
	b, _ := os.ReadFile(tokenFile)
	token := strings.TrimSpace(string(b))
	refresh := func(token string) int {
		req, _ := http.NewRequest("POST", api+"/api/v1/refresh", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := refresh(""); got != http.StatusUnauthorized {
		t.Errorf("POST without the token: %d", got)
	}
	if got := refresh(token); got != http.StatusNoContent {
		t.Errorf("POST with the token: %d", got)
	}
	out := logs.String()
	if strings.Contains(out, token) || !strings.Contains(out, `"token_file":"`+tokenFile+`"`) {
		t.Errorf("the log must name the token file and never show the token")
	}
	if !strings.Contains(out, `"max_bytes":2147483648`) || !strings.Contains(out, `"max_msg_size":1048576`) {
		t.Errorf("the streams were not set up with the limits given")
	}
}
