package service_test

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/services/proposals/service"
	"github.com/dpihub/dpihub/services/proposals/webhook"
)

// The runnable example of docs/governance.md, docs/examples/verify-python/
// webhook_receiver.py, receives a project's proposals from the service as
// a maintainer would run it: started first, subscribed, given its secret,
// and it verifies both signatures of each delivery.
func TestTheExampleWebhookReceiverInPythonVerifiesEveryDelivery(t *testing.T) {
	python := bustest.Python(t)
	w := newWorld(t)
	s, err := service.Start(context.Background(), service.Config{Bus: w.b, Verifier: w.verifier, Signer: w.cs["hub"].Signer,
		Rules: w.rules, DecideEvery: 50 * time.Millisecond, Webhooks: &webhook.Config{InitialBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)

	dir := t.TempDir()
	trust := filepath.Join(dir, "trust.json")
	tl := &sign.TrustList{}
	for _, c := range w.cs {
		tl.Add(sign.Trusted(c.Key, time.Time{}, time.Time{}))
	}
	if err := tl.WriteFile(trust); err != nil {
		t.Fatal(err)
	}
	secretFile := filepath.Join(dir, "secret")
	cmd := exec.Command(python, "../../../docs/examples/verify-python/webhook_receiver.py", "--secret-file", secretFile, "--trust", trust, "--port", "0")
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var mu sync.Mutex
	var lines []string
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				listening <- u
				continue
			}
			mu.Lock()
			lines = append(lines, sc.Text())
			mu.Unlock()
		}
	}()
	var url string
	select {
	case url = <-listening:
	case <-time.After(10 * time.Second):
		t.Fatal("the receiver did not start in 10s")
	}

	const id = "lk-prop-0009"
	w.publish(t, "lk", events.ProposalSubmitted{ProposalID: id, Title: "Offline biometric authentication", Body: "…"})
	code, m := call(t, http.MethodPost, srv.URL+"/api/v1/subscriptions", w.token, `{"project":"`+project+`","url":"`+url+`dpihub"}`)
	if code != 201 {
		t.Fatalf("subscribe: %d %v", code, m)
	}
	if err := os.WriteFile(secretFile, []byte(m["secret"].(string)), 0o600); err != nil {
		t.Fatal(err)
	}
	w.publish(t, "ma", events.ProposalEndorsed{ProposalID: id})
	w.publish(t, "ph", events.ProposalEndorsed{ProposalID: id})
	verified := func() (n int, all []string) {
		mu.Lock()
		defer mu.Unlock()
		for _, l := range lines {
			if strings.HasPrefix(l, "webhook verified ") {
				n++
			}
		}
		return n, append([]string(nil), lines...)
	}
	bustest.Eventually(t, 15*time.Second, "submitted, two endorsements and the decision, verified by the receiver", func() bool { n, _ := verified(); return n == 4 })
	_, all := verified()
	if last := all[len(all)-1]; !strings.Contains(last, "org.dpihub.proposal.status.changed.v1 hub-"+id+"-accepted from urn:dpihub:hub:proposals") {
		t.Fatalf("the receiver's last line %q, want the decision (all: %q)", last, all)
	}
	for _, l := range all {
		if strings.HasPrefix(l, "refused") {
			t.Errorf("the receiver refused a delivery: %s", l)
		}
	}
}
