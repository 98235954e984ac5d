package cli_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/access"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/events/minhash"
	"github.com/dpihub/dpihub/services/hub"
)

// serve --services dedup finds two countries' forks that carry the same
// changes, publishes the finding, and dpihub dedup report shows the
// cluster and the upstream candidate.
func TestServeRunsTheDedupServiceAndTheReportShowsItsFindings(t *testing.T) {
	keys, key := genKeys(t, "ma", "ph", "hub")
	data := t.TempDir()
	logs, _ := serving(t, nil, "--data", data, "--nats-port", "-1", "--http", "127.0.0.1:0", "--services", "feed,dedup",
		"--trust", filepath.Join(keys, "trust.json"), "--hub-key", key["hub"])
	addrRE := regexp.MustCompile(`"http":"([0-9.:]+)"`)
	bustest.Eventually(t, 20*time.Second, "hub started", func() bool { return addrRE.MatchString(logs.String()) })
	api := "http://" + addrRE.FindStringSubmatch(logs.String())[1]
	bustest.Eventually(t, 20*time.Second, "the services running", func() bool {
		resp, err := http.Get(api + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	natsURL := regexp.MustCompile(`"nats":"([^"]+)"`).FindStringSubmatch(logs.String())[1]

	shared := publishAlikeSnapshots(t, data, keys, natsURL, key)
	env := map[string]string{"DPIHUB_API": api}
	bustest.Eventually(t, 10*time.Second, "the report shows the cluster", func() bool {
		r := dpihub(t, env, "", "dedup", "report", "--project", "mosip-id-repository")
		return r.code == 0 && strings.Contains(r.stdout, "cluster 1: ma/release-ma, ph/release-ph") &&
			strings.Contains(r.stdout, "upstream candidate "+shared+": carried by 2 countries")
	})
	// The finding reached the feed's duplicates, as an event of the hub's dedup service.
	bustest.Eventually(t, 10*time.Second, "the feed shows the duplicate", func() bool {
		resp, err := http.Get(api + "/api/v1/duplicates")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var ds []struct{ Kind, A, B string }
		return json.NewDecoder(resp.Body).Decode(&ds) == nil && len(ds) == 1 && ds[0].Kind == "fork" && ds[0].A == "ma/release-ma"
	})
}

// publishAlikeSnapshots issues ma's and ph's credentials in data and
// publishes, with each one's key, a fork snapshot of mosip-id-repository:
// the same 120 changed lines and one shared patch-id, which it returns,
// so that dedup finds the two forks alike.
func publishAlikeSnapshots(t *testing.T, data, keys, natsURL string, key map[string]string) (shared string) {
	t.Helper()
	var changed []string
	for i := range 120 {
		changed = append(changed, fmt.Sprintf("+\tif (request.field%d == null) throw new IdRepoAppException(%d);", i, i))
	}
	shared = strings.Repeat("1", 40)
	for _, cc := range []string{"ma", "ph"} {
		if r := dpihub(t, nil, "", "creds", "issue", "--data", data, "--country", cc); r.code != 0 {
			t.Fatal(r)
		}
		snap := events.ForkSnapshot{Branch: "release-" + cc, Head: strings.Repeat("a", 40), MergeBase: strings.Repeat("b", 40),
			PatchIDs: []string{shared}, MinHash: minhash.Sign(minhash.LineShingles(changed)).Values(), MinHashVersion: minhash.Version,
			Files: []string{"IdRepoServiceImpl.java"}, TakenAt: time.Now().UTC()}
		b, _ := json.Marshal(snap)
		file := filepath.Join(keys, cc+"-snapshot.json")
		if err := os.WriteFile(file, b, 0o644); err != nil {
			t.Fatal(err)
		}
		env := map[string]string{"DPIHUB_SERVER": natsURL, "DPIHUB_CREDS": hub.CredsFile(data, access.Country(cc))}
		if r := dpihub(t, env, "", "publish", "--key", key[cc], "--type", events.TypeForkSnapshot, "--project", "mosip-id-repository", file); r.code != 0 {
			t.Fatal(r)
		}
	}
	return shared
}
