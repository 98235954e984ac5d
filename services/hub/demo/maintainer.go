package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/services/proposals/webhook"
)

// maintainer is the demo's upstream maintainer of the project: a webhook
// receiver that answers the handshake, and checks each delivery's two
// signatures (the subscription's HMAC, and the event's own against the
// trust list the hub publishes at /trust.json) before it takes it.
type maintainer struct {
	out    *printer
	srv    *http.Server
	url    string
	v      *sign.Verifier
	mu     sync.Mutex
	secret string
	got    []string // short types, in order
}

// newMaintainer starts the receiver on a free loopback port, with the
// trust list of the hub at hubAddr.
func newMaintainer(ctx context.Context, out *printer, hubAddr string) (*maintainer, error) {
	tl, err := fetchTrust(ctx, "http://"+hubAddr+"/trust.json")
	if err != nil {
		return nil, err
	}
	v, err := sign.NewVerifier(tl)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	m := &maintainer{out: out, v: v, url: "http://" + ln.Addr().String() + "/dpihub"}
	m.srv = &http.Server{Handler: http.HandlerFunc(m.serve), ReadHeaderTimeout: 5 * time.Second}
	go m.srv.Serve(ln)
	return m, nil
}

func fetchTrust(ctx context.Context, url string) (*sign.TrustList, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return sign.ParseTrustList(b)
}

// subscribe asks the hub's proposals service for the project's events,
// with the maintainer's token.
func (m *maintainer) subscribe(ctx context.Context, hubAddr, token string) error {
	body, _ := json.Marshal(map[string]string{"project": project, "url": m.url})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+hubAddr+"/api/v1/subscriptions", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var s struct{ ID, Secret, Detail string }
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil || resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("subscribe: %s %s %v", resp.Status, s.Detail, err)
	}
	m.mu.Lock()
	m.secret = s.Secret
	m.mu.Unlock()
	m.out.f("  the maintainer's receiver %s answered the handshake; subscription %s\n", m.url, s.ID)
	return nil
}

func (m *maintainer) serve(w http.ResponseWriter, r *http.Request) {
	if webhook.Handshake(w, r, "*") {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		return
	}
	m.mu.Lock()
	secret := m.secret
	m.mu.Unlock()
	if secret == "" { // the subscription's answer is still on its way
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	var e event.Event
	err = webhook.VerifyRequest(secret, r.Header, body, time.Now(), 5*time.Minute)
	if err == nil {
		err = json.Unmarshal(body, &e)
	}
	if err == nil {
		_, err = m.v.Verify(e)
	}
	if err != nil {
		m.out.f("  webhook REFUSED a delivery: %v\n", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	m.mu.Lock()
	m.got = append(m.got, events.ShortType(e.Type()))
	m.mu.Unlock()
	from, _ := e.Extensions()[events.ExtCountry].(string)
	m.out.f("  webhook  maintainer got, both signatures verified: %s %s from %s: %s\n", events.ShortType(e.Type()), e.ID(), from, events.Describe(e))
	w.WriteHeader(http.StatusNoContent)
}

func (m *maintainer) received() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.got...)
}

func (m *maintainer) close(ctx context.Context) {
	if err := m.srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		_ = m.srv.Close()
	}
}
