package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/services/node"
	"github.com/dpihub/dpihub/services/node/internal/gittest"
	"github.com/dpihub/dpihub/services/node/service"
)

const project = "sample-payments"

var ledger = gittest.Lines(30, func(i int) string { return fmt.Sprintf("entry %d = %d", i, i*10) })

func TestTwoNodesRunInOneProcessAndTalkThroughTheirAPIs(t *testing.T) {
	srv := bustest.Server(t, "")
	_, js := bustest.Connect(t, srv)
	b := bustest.Open(t, js)
	countries, tl := bustest.Countries(t, "ma", "ph")
	v, err := sign.NewVerifier(tl)
	if err != nil {
		t.Fatal(err)
	}
	g := gittest.New(t)
	up := g.Init()
	g.Commit(up, "initial", map[string]string{"ledger.txt": ledger})
	dirs := map[string]string{}
	for _, cc := range []string{"ma", "ph"} {
		dirs[cc] = g.Clone(up, cc+"-main")
	}
	g.Commit(dirs["ma"], "Fix entry 15", map[string]string{"ledger.txt": gittest.Edit(ledger, 15, "entry 15 = 151")})

	ctx := context.Background()
	nodes := map[string]*service.Service{}
	listeners := map[string]*bustest.Listener{}
	for _, cc := range []string{"ma", "ph"} {
		listeners[cc] = bustest.Listen(t)
		s, err := service.Start(ctx, service.Config{
			Country: cc, Bus: b, Signer: countries[cc].Signer, Verifier: v,
			Forks:        []node.Fork{{Project: project, Upstream: "file://" + up, Dir: dirs[cc], Branch: cc + "-main"}},
			Listener:     listeners[cc],
			TokenFile:    filepath.Join(t.TempDir(), "node-"+cc+".token"),
			Registerer:   prometheus.NewRegistry(),
			PollInterval: 20 * time.Millisecond,
		})
		if err != nil {
			t.Fatalf("node %s did not start: %v", cc, err)
		}
		t.Cleanup(func() { _ = s.Close(context.Background()) }) // a no-op after the Close below
		nodes[cc] = s
	}
	api := func(cc string) string { return "http://" + nodes[cc].Addr() }

	var fp events.FixPublished
	postJSON(t, nodes["ma"], "/api/v1/fixes", tokenOf(t, nodes["ma"]), `{"project":"`+project+`","commit":"ma-main"}`, http.StatusCreated, &fp)
	id := node.FixKey("ma", fp.FixID)

	verdict := func(want string) func() bool {
		return func() bool {
			var rf node.ReceivedFix
			if getJSON(t, api("ph")+"/api/v1/fixes/"+url.PathEscape(id), &rf) != http.StatusOK {
				return false
			}
			a, ok := rf.Assessment("ph-main")
			return ok && a.Verdict == want
		}
	}
	bustest.Eventually(t, 20*time.Second, "ph's API shows the fix as applies", verdict(events.VerdictApplies))

	t.Run("the periodic poll sees the fork move and re-assesses", func(t *testing.T) {
		resp, err := http.Get(api("ph") + "/api/v1/fixes/" + url.PathEscape(id) + "/mbox")
		if err != nil {
			t.Fatal(err)
		}
		mbox, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		g.RunStdin(dirs["ph"], mbox, "am", "-q")
		bustest.Eventually(t, 20*time.Second, "ph's API shows the fix as present", verdict(events.VerdictPresent))
	})
	t.Run("the metrics count what the node did", func(t *testing.T) {
		resp, err := http.Get(api("ph") + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), `dpihub_node_assessments_total{country="ph",verdict="present"} 1`) {
			t.Errorf("metrics lack ph's present assessment:\n%s", body)
		}
	})

	for cc, s := range nodes {
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		if err := s.Close(sctx); err != nil {
			t.Errorf("node %s: Close returned %v", cc, err)
		}
		cancel()
		if err := s.Close(sctx); err != nil {
			t.Errorf("node %s: a second Close returned %v", cc, err)
		}
		if !listeners[cc].Closed() {
			t.Errorf("node %s still listens on %s after Close", cc, s.Addr())
		}
	}
}

func TestRunRefusesToStartWithoutWhatItNeeds(t *testing.T) {
	if err := service.Run(context.Background(), service.Config{Country: "ma"}); err == nil {
		t.Fatal("Run without a bus started")
	}
}

// postJSON posts body to node s's path with token as its bearer token
// and decodes the answer, which must have status.
func postJSON(t *testing.T, s *service.Service, path, token, body string, status int, out any) {
	t.Helper()
	code, _, b := request(t, s, http.MethodPost, path, token, body)
	if code != status {
		t.Fatalf("POST %s: %d, want %d: %s", path, code, status, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
}

func getJSON(t *testing.T, u string, out any) int {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

// tokenOf reads the API token of node s from its token file.
func tokenOf(t *testing.T, s *service.Service) string {
	t.Helper()
	b, err := os.ReadFile(s.TokenFile())
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
