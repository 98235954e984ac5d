package cli_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/access"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/services/hub"
	"github.com/dpihub/dpihub/services/proposals/webhook"
)

// The whole governance through the command line: a proposal submitted,
// endorsed twice, objected to, answered, accepted by the service under
// the rules file, and marked implemented by the project's maintainer.
func TestAProposalGoesFromSubmittedToImplementedThroughTheCLI(t *testing.T) {
	keys, key := genKeys(t, "lk", "ma", "ph", "ke", "hub")
	maintainer := "the-mosip-maintainers-token-0123456789"
	sum := sha256.Sum256([]byte(maintainer))
	rules := filepath.Join(keys, "rules.json")
	os.WriteFile(rules, []byte(`{"defaults":{"min_endorsements":2},"projects":{"mosip-id-repository":{"maintainers":["`+hex.EncodeToString(sum[:])+`"]}}}`), 0o644)
	tokenFile := filepath.Join(keys, "maintainer.token")
	os.WriteFile(tokenFile, []byte(maintainer+"\n"), 0o600)
	body := filepath.Join(keys, "body.md")
	os.WriteFile(body, []byte("## Need\n\nOffline authentication in rural enrolment centres.\n"), 0o644)

	data := t.TempDir()
	logs, _ := serving(t, nil, "--data", data, "--nats-port", "-1", "--http", "127.0.0.1:0", "--services", "feed,proposals",
		"--trust", filepath.Join(keys, "trust.json"), "--hub-key", key["hub"], "--rules", rules)
	addrRE := regexp.MustCompile(`"http":"([0-9.:]+)"`)
	natsRE := regexp.MustCompile(`"nats":"([^"]+)"`)
	bustest.Eventually(t, 20*time.Second, "hub started", func() bool { return addrRE.MatchString(logs.String()) })
	api := "http://" + addrRE.FindStringSubmatch(logs.String())[1]
	// The hub answers before its services run; /healthz says when they do.
	bustest.Eventually(t, 20*time.Second, "the services running", func() bool {
		resp, err := http.Get(api + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	natsURL := natsRE.FindStringSubmatch(logs.String())[1]
	as := func(cc string) map[string]string {
		id := access.Country(cc)
		if cc == "hub" {
			id = access.Admin
		}
		return map[string]string{"DPIHUB_SERVER": natsURL, "DPIHUB_CREDS": hub.CredsFile(data, id), "DPIHUB_API": api}
	}
	for _, cc := range []string{"lk", "ma", "ph", "ke"} {
		if r := dpihub(t, nil, "", "creds", "issue", "--data", data, "--country", cc); r.code != 0 {
			t.Fatal(r)
		}
	}
	ok := func(r run) run {
		t.Helper()
		if r.code != 0 {
			t.Fatalf("%+v", r)
		}
		return r
	}
	const id = "lk-prop-0042"
	ok(dpihub(t, as("lk"), "", "proposal", "submit", "--key", key["lk"], "--project", "mosip-id-repository", "--id", id,
		"--title", "Offline biometric authentication", "--body", body))
	show := func() string { return dpihub(t, as("lk"), "", "proposal", "show", id).stdout }
	bustest.Eventually(t, 10*time.Second, "the service knows the proposal", func() bool { return strings.Contains(show(), "status: open") })
	// Without --project: the service says which project the proposal is about.
	ok(dpihub(t, as("ma"), "", "proposal", "endorse", "--key", key["ma"], id))
	ok(dpihub(t, as("ke"), "", "proposal", "object", "--key", key["ke"], "--text", "not before 1.3", id))
	ok(dpihub(t, as("ph"), "", "proposal", "endorse", "--key", key["ph"], id))
	bustest.Eventually(t, 10*time.Second, "votes counted, held by ke's objection", func() bool {
		s := show()
		return strings.Contains(s, "ke objects: not before 1.3") && strings.Contains(s, "objection of ke")
	})
	if r := dpihub(t, as("ke"), "", "proposal", "object", "--key", key["ke"], id); r.code == 0 || !strings.Contains(r.stderr, "--text is required") {
		t.Fatalf("an objection without a reason: %+v", r)
	}
	ok(dpihub(t, as("lk"), "", "proposal", "comment", "--key", key["lk"], "--text", "1.3 ships in May; this lands after.", id))
	bustest.Eventually(t, 10*time.Second, "accepted", func() bool { return strings.Contains(show(), "status: accepted") })
	// The list is the feed's, a consumer of its own: it follows.
	bustest.Eventually(t, 10*time.Second, "the feed lists the proposal, accepted", func() bool {
		r := dpihub(t, as("lk"), "", "proposal", "list", "--project", "mosip-id-repository")
		return r.code == 0 && strings.Contains(r.stdout, id) && strings.Contains(r.stdout, "accepted")
	})

	// The maintainer subscribes a webhook: it receives the project's
	// events so far, then the decision to come, each signed twice.
	rec := newReceiver(t, filepath.Join(keys, "trust.json"))
	out := ok(dpihub(t, as("lk"), "", "subscribe", "webhook", "--token-file", tokenFile, "--project", "mosip-id-repository", "--url", rec.url())).stdout
	secret := regexp.MustCompile(`whsec_\S+`).FindString(out)
	if secret == "" {
		t.Fatalf("no secret in %q", out)
	}
	rec.setSecret(secret)
	other := filepath.Join(keys, "other.token")
	os.WriteFile(other, []byte("not-a-maintainer-token-000000000000"), 0o600)
	if r := dpihub(t, as("lk"), "", "subscribe", "list", "--token-file", other); r.code != 0 || strings.Contains(r.stdout, "mosip") {
		t.Fatalf("a stranger lists subscriptions: %+v", r)
	}
	if r := dpihub(t, as("lk"), "", "proposal", "implemented", "--token-file", other, id); r.code == 0 || !strings.Contains(r.stderr, "403") {
		t.Fatalf("a stranger marks it implemented: %+v", r)
	}
	ok(dpihub(t, as("lk"), "", "proposal", "implemented", "--token-file", tokenFile, "--reason", "shipped in 1.3.0", id))
	bustest.Eventually(t, 10*time.Second, "implemented", func() bool { return strings.Contains(show(), "status: implemented") })
	bustest.Eventually(t, 10*time.Second, "the receiver got all seven events", func() bool { return len(rec.got()) == 7 })
	if got := rec.got(); got[0] != "proposal.submitted" || got[5] != "proposal.status.changed" || got[6] != "proposal.status.changed" {
		t.Fatalf("the receiver got %v", got)
	}
	if out := ok(dpihub(t, as("lk"), "", "subscribe", "list", "--token-file", tokenFile)).stdout; !strings.Contains(out, rec.url()) {
		t.Fatalf("subscribe list:\n%s", out)
	}
	// A withdrawal from the wrong status is dead-lettered with the rule's
	// words; the proposal stays implemented.
	ok(dpihub(t, as("lk"), "", "proposal", "withdraw", "--key", key["lk"], "--from", "open", id))
	observer := map[string]string{"DPIHUB_SERVER": natsURL, "DPIHUB_CREDS": hub.CredsFile(data, access.Observer)}
	bustest.Eventually(t, 10*time.Second, "the withdrawal dead-lettered by the proposals service", func() bool {
		out := dpihub(t, observer, "", "tail", "--dlq", "--all", "--n", "1").stdout
		return strings.Contains(out, "invalid transition") && strings.Contains(out, "the proposal is implemented")
	})
	if !strings.Contains(show(), "status: implemented") {
		t.Fatalf("after the refused withdrawal:\n%s", show())
	}
}

// receiver is a maintainer's webhook receiver: it answers the handshake,
// checks both signatures of every delivery and records the event types.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	v      *sign.Verifier
	mu     sync.Mutex
	secret string
	types  []string
}

func newReceiver(t *testing.T, trust string) *receiver {
	v, err := sign.LoadVerifier(trust)
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{t: t, v: v}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) url() string { return r.srv.URL + "/hook" }

func (r *receiver) setSecret(s string) { r.mu.Lock(); r.secret = s; r.mu.Unlock() }

func (r *receiver) got() []string { r.mu.Lock(); defer r.mu.Unlock(); return slices.Clone(r.types) }

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	if webhook.Handshake(w, req, "*") {
		return
	}
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	secret := r.secret
	r.mu.Unlock()
	if secret == "" { // not yet known: the CLI has not printed it
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if err := webhook.VerifyRequest(secret, req.Header, body, time.Now(), 5*time.Minute); err != nil {
		r.t.Errorf("webhook signature: %v", err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var e event.Event
	if err := json.Unmarshal(body, &e); err != nil {
		r.t.Errorf("delivery is not a CloudEvent: %v", err)
		return
	}
	if _, err := r.v.Verify(e); err != nil {
		r.t.Errorf("the event's own signature: %v", err)
		return
	}
	r.mu.Lock()
	r.types = append(r.types, events.ShortType(e.Type()))
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}
