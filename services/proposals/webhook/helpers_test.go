package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/services/proposals/webhook"
)

const project = "mosip-id-repository"

// wait is how long a test waits for something that takes milliseconds
// when the machine is idle.
const wait = 20 * time.Second

// hub is a real nats-server with the streams, three trusted countries and
// their publishers.
type hub struct {
	js       jetstream.JetStream
	bus      *bus.Bus
	verifier *sign.Verifier
	signers  map[string]*sign.Signer
	pubs     map[string]*bus.Publisher
	n        atomic.Int64
}

func newHub(t testing.TB) *hub {
	t.Helper()
	s := bustest.Server(t, "")
	_, js := bustest.Connect(t, s)
	b := bustest.Open(t, js)
	cs, tl := bustest.Countries(t, "ma", "ph", "lk")
	v, err := sign.NewVerifier(tl)
	if err != nil {
		t.Fatal(err)
	}
	h := &hub{js: js, bus: b, verifier: v, signers: map[string]*sign.Signer{}, pubs: map[string]*bus.Publisher{}}
	for cc, c := range cs {
		h.signers[cc] = c.Signer
		h.pubs[cc] = b.Publisher(c.Signer)
	}
	return h
}

// fast is a configuration for tests: retries in milliseconds.
func fast() webhook.Config {
	return webhook.Config{InitialBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Timeout: 5 * time.Second}
}

// dispatcher starts a dispatcher on h, closed when the test ends.
func (h *hub) dispatcher(t testing.TB, cfg webhook.Config) *webhook.Dispatcher {
	t.Helper()
	d, err := webhook.New(h.bus, h.verifier, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return d
}

// proposal returns a new proposal.submitted event of country cc about p.
func (h *hub) proposal(t testing.TB, cc, p string) event.Event {
	t.Helper()
	n := h.n.Add(1)
	e, err := events.New(events.Source{Country: cc, Service: "node"}, p, events.ProposalSubmitted{
		ProposalID: fmt.Sprintf("%s-prop-%04d", cc, n),
		Title:      fmt.Sprintf("Offline enrolment, part %d", n),
		Body:       "Enrol residents where the network is down, and sync later.",
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// propose publishes a new proposal of cc about p and returns it.
func (h *hub) propose(t testing.TB, cc, p string) event.Event {
	t.Helper()
	e := h.proposal(t, cc, p)
	if _, err := h.pubs[cc].Publish(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	return e
}

// delivery is one POST a receiver got.
type delivery struct {
	header http.Header
	body   []byte
	status int // what the receiver answered (0 while it has not)
	at     time.Time
}

// eventID is the id of the CloudEvent in the body.
func (d delivery) eventID(t testing.TB) string {
	t.Helper()
	var e struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(d.body, &e); err != nil {
		t.Fatalf("delivery body is not JSON: %v", err)
	}
	return e.ID
}

// receiver is a webhook receiver on a real loopback HTTP server. It agrees
// to the handshake, records every request, and answers POSTs with what
// answer says (200 when nil).
type receiver struct {
	t    testing.TB
	URL  string
	addr string

	mu      sync.Mutex
	srv     *httptest.Server
	methods []string
	options []http.Header // headers of the OPTIONS requests
	posts   []delivery    // every POST, answered 2xx or not
	answer  func(r *http.Request) int
	shake   func(w http.ResponseWriter, r *http.Request) // nil: webhook.Handshake for dpihub
}

func newReceiver(t testing.TB) *receiver {
	t.Helper()
	rc := &receiver{t: t}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	rc.URL = rc.srv.URL + "/hooks/dpihub"
	rc.addr = rc.srv.Listener.Addr().String()
	t.Cleanup(func() { rc.server().Close() })
	return rc
}

func (rc *receiver) server() *httptest.Server {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.srv
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	rc.methods = append(rc.methods, r.Method)
	shake, answer := rc.shake, rc.answer
	if r.Method == http.MethodOptions {
		rc.options = append(rc.options, r.Header.Clone())
	}
	rc.mu.Unlock()
	if r.Method == http.MethodOptions {
		if shake != nil {
			shake(w, r)
			return
		}
		webhook.Handshake(w, r, "dpihub")
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	// Recorded before it is answered, so that a test sees a POST whose
	// answer hangs.
	rc.mu.Lock()
	i := len(rc.posts)
	rc.posts = append(rc.posts, delivery{header: r.Header.Clone(), body: body, at: time.Now()})
	rc.mu.Unlock()
	status := http.StatusOK
	if answer != nil {
		status = answer(r)
	}
	rc.mu.Lock()
	rc.posts[i].status = status
	rc.mu.Unlock()
	w.WriteHeader(status)
}

// setAnswer changes how POSTs are answered.
func (rc *receiver) setAnswer(f func(r *http.Request) int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.answer = f
}

// accepted returns the POSTs answered 2xx, in order.
func (rc *receiver) accepted() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []delivery
	for _, d := range rc.posts {
		if d.status/100 == 2 {
			out = append(out, d)
		}
	}
	return out
}

// all returns every POST, in order.
func (rc *receiver) all() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.posts...)
}

// handshakes returns the headers of every OPTIONS request.
func (rc *receiver) handshakes() []http.Header {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]http.Header(nil), rc.options...)
}

func (rc *receiver) requestMethods() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.methods...)
}

// await waits until the receiver has accepted n POSTs in all.
func (rc *receiver) await(n int) []delivery {
	rc.t.Helper()
	bustest.Eventually(rc.t, wait, fmt.Sprintf("%d deliveries accepted at %s", n, rc.URL), func() bool {
		return len(rc.accepted()) >= n
	})
	return rc.accepted()
}

// down closes the listener: connections are refused.
func (rc *receiver) down() {
	rc.server().Close()
}

// up listens again on the same address.
func (rc *receiver) up() {
	rc.t.Helper()
	ln, err := net.Listen("tcp", rc.addr)
	if err != nil {
		rc.t.Fatalf("listen again on %s: %v", rc.addr, err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(rc.serve))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	rc.mu.Lock()
	rc.srv = srv
	rc.mu.Unlock()
}

// status returns subscription id's status, failing the test on error.
func status(t testing.TB, d *webhook.Dispatcher, id string) webhook.Status {
	t.Helper()
	s, err := d.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// subscribe subscribes url to p, failing the test on error.
func subscribe(t testing.TB, d *webhook.Dispatcher, p, url string) (webhook.Subscription, string) {
	t.Helper()
	sub, secret, err := d.Subscribe(context.Background(), p, url)
	if err != nil {
		t.Fatalf("subscribe %s to %s: %v", url, p, err)
	}
	return sub, secret
}

// ids returns the event ids of ds, in order.
func ids(t testing.TB, ds []delivery) []string {
	t.Helper()
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.eventID(t)
	}
	return out
}

func eventIDs(es []event.Event) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID()
	}
	return out
}
