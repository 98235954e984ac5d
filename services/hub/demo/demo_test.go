package demo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/access"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/services/hub/demo"
)

func TestTheDemoTellsItsStoryAndRefusesTheForgery(t *testing.T) {
	var out bytes.Buffer
	var fix struct {
		Assessments []struct{ Country, Verdict string }
	}
	var page string
	ready := func(res *demo.Result) {
		// The coordinator's feed shows the story: the fix's matrix in the
		// API and the UI.
		bustest.Eventually(t, 10*time.Second, "the fix's matrix holds both verdicts", func() bool {
			get(t, "http://"+res.HTTPAddr+"/api/v1/fixes/"+res.FixID, &fix)
			return len(fix.Assessments) >= 2
		})
		page = getText(t, "http://"+res.HTTPAddr+"/fixes/"+res.FixID)
		verifyOutside(t, res)
	}
	res, err := demo.Run(context.Background(), demo.Config{Out: &out, HTTPAddr: "127.0.0.1:0", DataDir: t.TempDir(), Exit: true, Ready: ready})
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	if res.Verdicts["ph"] != "applies" || res.Verdicts["lk"] != "present" {
		t.Errorf("verdicts %v, want ph applies and lk present", res.Verdicts)
	}
	if want := map[string]string{"ma": "proposal.endorsed", "ph": "proposal.endorsed", demo.Voice.Code: "proposal.objected"}; !maps.Equal(res.Votes, want) {
		t.Errorf("votes on Sri Lanka's proposal %v, want %v: two endorsements and one objection, all by other countries", res.Votes, want)
	}
	// The self-endorsement is refused by the feed, the proposals service
	// and the terminal view, the forged fix by every node, the feed and
	// the terminal view.
	if len(res.DeadLetters) != 3+len(demo.Countries)+3 {
		var got []string
		for _, dl := range res.DeadLetters {
			got = append(got, dl.Consumer+": "+dl.Reason)
		}
		t.Fatalf("%d dead letters, want three for the self-endorsement and, for the forgery, one per node, one for the feed, one for the dedup service and one for the terminal view: %q", len(res.DeadLetters), got)
	}
	for i, dl := range res.DeadLetters {
		want, rule := string(sign.ReasonUnknownKey), ""
		if i < 3 {
			want, rule = bus.ReasonNotAuthorized, events.RuleOthersProposal
		}
		if dl.Reason != want || !strings.Contains(dl.Detail, rule) {
			t.Errorf("dead letter %d refused by %s for %q (%s), want %q naming %q", i, dl.Consumer, dl.Reason, dl.Detail, want, rule)
		}
	}
	// The dedup service found Morocco's and Sri Lanka's forks alike, and
	// the change both carry an upstream candidate.
	if res.Duplicates < 1 || res.Candidates < 1 {
		t.Errorf("duplicates %d, upstream candidates %d: want at least one of each", res.Duplicates, res.Candidates)
	}
	if !strings.Contains(out.String(), "fork.duplicate.detected") || !strings.Contains(out.String(), "upstream candidate") {
		t.Errorf("the story does not show the duplicate forks:\n%s", out.String())
	}
	// The proposal reached a state under the project's rules, and the
	// maintainer's webhook took every event of it, in order, both
	// signatures verified; the refused self-endorsement was not delivered.
	if res.ProposalStatus != events.ProposalAccepted {
		t.Errorf("the proposal is %s, want accepted", res.ProposalStatus)
	}
	if want := []string{"proposal.submitted", "proposal.endorsed", "proposal.objected", "proposal.endorsed", "proposal.commented", "proposal.status.changed"}; !slices.Equal(res.Webhook, want) {
		t.Errorf("the maintainer's webhook took %v, want %v", res.Webhook, want)
	}
	if !strings.Contains(out.String(), "webhook  maintainer got, both signatures verified: proposal.status.changed") {
		t.Errorf("the story does not show the webhook deliveries:\n%s", out.String())
	}
	verdicts := map[string]string{}
	for _, a := range fix.Assessments {
		verdicts[a.Country] = a.Verdict
	}
	if verdicts["ph"] != "applies" || verdicts["lk"] != "present" {
		t.Errorf("the feed's matrix for %s: %v", res.FixID, verdicts)
	}
	if !strings.Contains(page, "Handle a missing documents list") || !strings.Contains(page, "applies") {
		t.Errorf("the fix page does not show the fix and its verdicts:\n%.500s", page)
	}
	if !strings.Contains(out.String(), "No node acted on the forged event") {
		t.Errorf("the story does not say what happened to the forgery:\n%s", out.String())
	}
}

func get(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == 200 {
		_ = json.NewDecoder(resp.Body).Decode(v)
	}
}

func getText(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// verifyOutside checks the demo's stream as someone outside the process
// would: the trust list from the file the demo printed and from its
// /trust.json, every message body read from the stream, and the example
// verifier in Python, which verifies all of them but the forgery.
func verifyOutside(t *testing.T, res *demo.Result) {
	t.Helper()
	file, err := os.ReadFile(res.TrustList)
	if err != nil {
		t.Fatalf("the demo's trust list: %v", err)
	}
	if _, err := sign.ParseTrustList(file); err != nil {
		t.Fatal(err)
	}
	if served := getText(t, "http://"+res.HTTPAddr+"/trust.json"); served != string(file) {
		t.Fatalf("/trust.json serves\n%s\nthe file holds\n%s", served, file)
	}
	auth, err := access.Load(filepath.Join(filepath.Dir(res.TrustList), "auth"))
	if err != nil {
		t.Fatal(err)
	}
	opts, err := auth.ConnectOptions(access.Observer)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(res.NATSURL, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(context.Background(), bus.Stream)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var files []string
	for seq := uint64(1); seq <= st.CachedInfo().State.LastSeq; seq++ {
		m, err := st.GetMsg(context.Background(), seq)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, filepath.Join(dir, fmt.Sprintf("%d.json", seq)))
		if err := os.WriteFile(files[len(files)-1], m.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bustest.Python(t), append([]string{"../../../docs/examples/verify-python/verify.py", "--trust", res.TrustList}, files...)...)
	out, _ := cmd.CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var refused []string
	for _, l := range lines {
		if !strings.HasPrefix(l, "verified ") {
			refused = append(refused, l)
		}
	}
	if len(lines) != len(files) || len(refused) != 1 || !strings.HasPrefix(refused[0], "refused unknown-key") {
		t.Fatalf("the example verifier on the demo's %d messages: want all verified but the forgery (unknown-key), got:\n%s", len(files), out)
	}
}

func TestTheDemoAtCampaignScaleFillsTheCoordinatorsViews(t *testing.T) {
	const n = 20
	var out bytes.Buffer
	type country struct {
		Country string
		State   string
		Node    struct {
			Heartbeat *struct{ Version string }
			Backlog   int
		}
	}
	var countries []country
	var refused struct{ Total, Forgeries int }
	var matrix struct{ Total int }
	var props []struct{ ID string }
	names := ""
	ready := func(res *demo.Result) {
		base := "http://" + res.HTTPAddr
		get(t, base+"/api/v1/countries", &countries)
		get(t, base+"/api/v1/matrix?limit=1", &matrix)
		get(t, base+"/api/v1/proposals", &props)
		bustest.Eventually(t, 10*time.Second, "the feed has read the refused events", func() bool {
			get(t, base+"/api/v1/refused", &refused)
			return refused.Forgeries >= n/5
		})
		names = getText(t, base+"/countries")
	}
	_, err := demo.Run(context.Background(), demo.Config{Out: &out, HTTPAddr: "127.0.0.1:0", DataDir: t.TempDir(), Exit: true, Ready: ready, Countries: n})
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	beating := 0
	for _, c := range countries {
		if c.Node.Heartbeat != nil {
			beating++
		}
	}
	if len(countries) < n+1 || beating < n {
		t.Fatalf("%d countries, %d with a heartbeat; want the %d countries and the hub, each node beating", len(countries), beating, n)
	}
	if matrix.Total < 10*n || len(props) < n {
		t.Fatalf("%d fixes and %d proposals; want at least %d and %d", matrix.Total, len(props), 10*n, n)
	}
	for _, name := range []string{"Mozambique", "Bangladesh", "Zambia"} {
		if !strings.Contains(names, name) {
			t.Errorf("the countries page does not name %s", name)
		}
	}
	if !strings.Contains(out.String(), "Campaign scale: 20 countries") {
		t.Errorf("the story does not say the campaign:\n%s", out.String())
	}
}
