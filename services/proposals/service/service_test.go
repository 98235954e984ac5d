package service_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/services/proposals/governance"
	"github.com/dpihub/dpihub/services/proposals/service"
	"github.com/dpihub/dpihub/services/proposals/webhook"
)

const project = "mosip-id-repository"

type world struct {
	b        *bus.Bus
	cs       map[string]bustest.Country
	verifier *sign.Verifier
	rules    *governance.RuleBook
	token    string // a maintainer's
}

func newWorld(t *testing.T) *world {
	t.Helper()
	s := bustest.Server(t, "")
	_, js := bustest.Connect(t, s)
	cs, tl := bustest.Countries(t, "ma", "ph", "lk", "ke", "hub")
	v, err := sign.NewVerifier(tl)
	if err != nil {
		t.Fatal(err)
	}
	token := "maintainer-token-of-mosip"
	sum := sha256.Sum256([]byte(token))
	rules := &governance.RuleBook{Defaults: governance.Rules{MinEndorsements: 2}, Projects: map[string]governance.Rules{
		project: {Maintainers: []string{hex.EncodeToString(sum[:])}}}}
	return &world{b: bustest.Open(t, js), cs: cs, verifier: v, rules: rules, token: token}
}

func (w *world) start(t *testing.T) *service.Service {
	t.Helper()
	s, err := service.Start(context.Background(), service.Config{Bus: w.b, Verifier: w.verifier, Signer: w.cs["hub"].Signer,
		Rules: w.rules, DecideEvery: 50 * time.Millisecond, AdminToken: "admin-token"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

func (w *world) publish(t *testing.T, cc string, p events.Payload) event.Event {
	t.Helper()
	e, err := events.New(events.Source{Country: cc, Service: "node"}, project, p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.b.Publisher(w.cs[cc].Signer).Publish(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	return e
}

func status(t *testing.T, s *service.Service, id string) string {
	t.Helper()
	p, _, ok := s.Governor().Proposal(id)
	if !ok {
		return ""
	}
	return p.Status
}

func TestTwoEndorsementsAndAnAnsweredObjectionAcceptAProposalOnce(t *testing.T) {
	w := newWorld(t)
	s := w.start(t)
	const id = "lk-prop-0001"
	w.publish(t, "lk", events.ProposalSubmitted{ProposalID: id, Title: "Offline biometric authentication", Body: "## Need\n..."})
	w.publish(t, "ma", events.ProposalEndorsed{ProposalID: id})
	w.publish(t, "ke", events.ProposalObjected{ProposalID: id, Reason: "not before 1.3"})
	w.publish(t, "ph", events.ProposalEndorsed{ProposalID: id})
	bustest.Eventually(t, 5*time.Second, "the three votes applied", func() bool {
		p, _, ok := s.Governor().Proposal(id)
		return ok && len(p.Votes) == 3
	})
	// Held by ke's unanswered objection, however often the rules are looked at.
	for range 5 {
		s.Kick()
	}
	if got := status(t, s, id); got != events.ProposalOpen {
		t.Fatalf("status %s with an unanswered objection, want open", got)
	}
	w.publish(t, "lk", events.ProposalCommented{ProposalID: id, Comment: "1.3 ships in May; this lands after."})
	bustest.Eventually(t, 5*time.Second, "accepted", func() bool { return status(t, s, id) == events.ProposalAccepted })

	// The decision is one event in the stream, from the hub's proposals
	// service, even after a restart that rebuilds the board.
	d := w.decisions(t, id)
	if len(d) != 1 || d[0].To != events.ProposalAccepted || !strings.Contains(d[0].Reason, "answered the objections of ke") {
		t.Fatalf("decisions %+v", d)
	}
	digest := s.Governor().Digest()
	s.Close(context.Background())
	s2 := w.start(t)
	if got := s2.Governor().Digest(); got != digest {
		t.Fatalf("the board after a restart differs: %s, want %s", got, digest)
	}
	s2.Kick()
	w.publish(t, "lk", events.ProposalCommented{ProposalID: id, Comment: "thanks"})
	bustest.Eventually(t, 5*time.Second, "the comment applied", func() bool {
		p, _, _ := s2.Governor().Proposal(id)
		return p.Answered > 0
	})
	if d := w.decisions(t, id); len(d) != 1 {
		t.Fatalf("decisions after the restart: %+v", d)
	}
}

func TestAnEventThatBreaksTheRulesIsDeadLetteredWithItsReason(t *testing.T) {
	w := newWorld(t)
	s := w.start(t)
	w.publish(t, "ma", events.ProposalEndorsed{ProposalID: "lk-prop-0404"}) // never submitted
	w.publish(t, "lk", events.ProposalSubmitted{ProposalID: "lk-prop-0002", Title: "t", Body: "b"})
	w.publish(t, "lk", events.ProposalStatusChanged{ProposalID: "lk-prop-0002", From: events.ProposalOpen, To: events.ProposalWithdrawn})
	w.publish(t, "ma", events.ProposalEndorsed{ProposalID: "lk-prop-0002"}) // after the withdrawal
	var details []string
	for _, dl := range bustest.DeadLettersOf(t, w.b.JetStream(), "proposals", 2, 5*time.Second) {
		if dl.Reason != bus.ReasonHandlerRejected {
			t.Errorf("reason %s, want %s", dl.Reason, bus.ReasonHandlerRejected)
		}
		details = append(details, dl.Detail)
	}
	if !strings.Contains(details[0], "never submitted") || !strings.Contains(details[1], "withdrawn") {
		t.Fatalf("details %q", details)
	}
	if got := status(t, s, "lk-prop-0002"); got != events.ProposalWithdrawn {
		t.Fatalf("status %s", got)
	}
}

func TestAMaintainerMarksAProposalImplementedAndOthersCannot(t *testing.T) {
	w := newWorld(t)
	s := w.start(t)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	const id = "lk-prop-0003"
	w.publish(t, "lk", events.ProposalSubmitted{ProposalID: id, Title: "t", Body: "b"})
	bustest.Eventually(t, 5*time.Second, "submitted", func() bool { return status(t, s, id) == events.ProposalOpen })
	post := func(token, path string) (int, map[string]any) {
		return call(t, http.MethodPost, srv.URL+path, token, `{"reason":"shipped in 1.3.0"}`)
	}
	for _, tc := range []struct {
		token, path string
		want        int
	}{
		{"", "/api/v1/proposals/" + id + "/implemented", http.StatusUnauthorized},
		{"someone-else", "/api/v1/proposals/" + id + "/implemented", http.StatusForbidden},
		{w.token, "/api/v1/proposals/lk-prop-none/implemented", http.StatusNotFound},
		{w.token, "/api/v1/proposals/" + id + "/implemented", http.StatusAccepted},
	} {
		if code, body := post(tc.token, tc.path); code != tc.want {
			t.Errorf("POST %s with %q: %d %v, want %d", tc.path, tc.token, code, body, tc.want)
		}
	}
	bustest.Eventually(t, 5*time.Second, "implemented", func() bool { return status(t, s, id) == events.ProposalImplemented })
	if code, body := post(w.token, "/api/v1/proposals/"+id+"/implemented"); code != http.StatusBadRequest || !strings.Contains(body["detail"].(string), "implemented") {
		t.Errorf("implemented twice: %d %v, want 400 naming the status", code, body)
	}
}

func TestTheProjectStreamSendsVerifiedEventsAndResumes(t *testing.T) {
	w := newWorld(t)
	s := w.start(t)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	first := w.publish(t, "lk", events.ProposalSubmitted{ProposalID: "lk-prop-0004", Title: "t", Body: "b"})
	// Another project's proposal is not in this project's stream.
	e, _ := events.New(events.Source{Country: "ma", Service: "node"}, "mojaloop-central-ledger", events.ProposalSubmitted{ProposalID: "ma-prop-0001", Title: "t", Body: "b"})
	w.b.Publisher(w.cs["ma"].Signer).Publish(context.Background(), e)
	second := w.publish(t, "ma", events.ProposalEndorsed{ProposalID: "lk-prop-0004"})

	read := func(header string) []string {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/projects/"+project+"/stream?after=0", nil)
		if header != "" {
			req.URL.RawQuery = ""
			req.Header.Set("Last-Event-ID", header)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := http.DefaultClient.Do(req.WithContext(ctx))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Fatalf("content type %s", ct)
		}
		var ids []string
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var id string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "data: "):
				var ev event.Event
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev); err != nil {
					t.Fatalf("data is not a CloudEvent: %v", err)
				}
				if _, err := w.verifier.Verify(ev); err != nil {
					t.Fatalf("a streamed event does not verify: %v", err)
				}
				ids = append(ids, id+":"+ev.ID())
				if ev.ID() == second.ID() {
					return ids
				}
			}
		}
		return ids
	}
	got := read("")
	if len(got) != 2 || !strings.HasSuffix(got[0], first.ID()) || !strings.HasSuffix(got[1], second.ID()) {
		t.Fatalf("stream %v, want the project's two events", got)
	}
	seq := strings.Split(got[0], ":")[0]
	if again := read(seq); len(again) != 1 || !strings.HasSuffix(again[0], second.ID()) {
		t.Fatalf("resumed after %s: %v, want the second event only", seq, again)
	}
	resp, _ := http.Get(srv.URL + "/api/v1/projects/Not%20A%20Slug/stream")
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a bad slug: %d", resp.StatusCode)
	}
}

// decisions are the status changes the hub's proposals service published
// about proposal id.
func (w *world) decisions(t *testing.T, id string) []events.ProposalStatusChanged {
	t.Helper()
	var out []events.ProposalStatusChanged
	for _, m := range bustest.Messages(t, w.b.JetStream(), bus.Stream) {
		e, err := bus.Decode(m.Header, m.Data)
		if err != nil || e.Source() != "urn:dpihub:hub:proposals" {
			continue
		}
		p, _ := events.Decode(e)
		if sc, ok := p.(*events.ProposalStatusChanged); ok && sc.ProposalID == id {
			out = append(out, *sc)
		}
	}
	return out
}

func TestSubscriptionsBelongToTheProjectsMaintainers(t *testing.T) {
	w := newWorld(t)
	s, err := service.Start(context.Background(), service.Config{Bus: w.b, Verifier: w.verifier, Signer: w.cs["hub"].Signer,
		Rules: w.rules, AdminToken: "admin-token", Webhooks: &webhook.Config{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	recv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if !webhook.Handshake(rw, r, "*") {
			rw.WriteHeader(http.StatusNoContent)
		}
	}))
	t.Cleanup(recv.Close)
	do := func(method, path, token, body string) (int, map[string]any) {
		return call(t, method, srv.URL+path, token, body)
	}
	sub := `{"project":"` + project + `","url":"` + recv.URL + `"}`
	if code, _ := do("POST", "/api/v1/subscriptions", "", sub); code != http.StatusUnauthorized {
		t.Errorf("no token: %d", code)
	}
	if code, _ := do("POST", "/api/v1/subscriptions", "someone", sub); code != http.StatusForbidden {
		t.Errorf("a stranger's token: %d", code)
	}
	if code, m := do("POST", "/api/v1/subscriptions", w.token, `{"project":"`+project+`","url":"ftp://x"}`); code != http.StatusBadRequest {
		t.Errorf("an ftp URL: %d %v", code, m)
	}
	code, m := do("POST", "/api/v1/subscriptions", w.token, sub)
	if code != http.StatusCreated || !strings.HasPrefix(m["secret"].(string), "whsec_") {
		t.Fatalf("the maintainer subscribes: %d %v", code, m)
	}
	id := m["id"].(string)
	for _, tok := range []string{w.token, "admin-token"} {
		code, m := do("GET", "/api/v1/subscriptions", tok, "")
		subs, _ := m["subscriptions"].([]any)
		if code != http.StatusOK || len(subs) != 1 || strings.Contains(fmt.Sprint(m), "whsec_") {
			t.Errorf("list with %s: %d %v (one subscription, no secret)", tok, code, m)
		}
	}
	if code, _ := do("GET", "/api/v1/subscriptions", "someone", ""); code != http.StatusOK {
		t.Errorf("a stranger's list: %d", code)
	}
	if code, _ := do("DELETE", "/api/v1/subscriptions/"+id, "someone", ""); code != http.StatusNotFound {
		t.Errorf("a stranger deletes it: %d, want 404 as for an id that does not exist", code)
	}
	if code, _ := do("DELETE", "/api/v1/subscriptions/"+id, w.token, ""); code != http.StatusNoContent {
		t.Errorf("the maintainer deletes it: %d", code)
	}
	if code, _ := do("GET", "/api/v1/subscriptions/"+id, w.token, ""); code != http.StatusNotFound {
		t.Errorf("after deletion: %d", code)
	}
}

// call sends body to url with token as its bearer ("": none) and returns
// the status and the JSON answer.
func call(t *testing.T, method, url, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}
