// Package bustest runs a real embedded nats-server with JetStream for
// tests: random port, store in the test's temp dir, shut down in cleanup.
package bustest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dpihub/dpihub/events/access"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/events/subject"
)

// shared is the authority of this test binary's servers: made once, so
// that a server restarted on the same store trusts the same credentials.
var shared = sync.OnceValues(access.New)

// authorities maps each running Server to the authority it trusts; a
// server without one is absent.
var authorities sync.Map

// Authority returns the authority that every Server trusts unless told
// otherwise; one per test binary.
func Authority(t testing.TB) *access.Authority {
	t.Helper()
	a, err := shared()
	if err != nil {
		t.Fatalf("authority: %v", err)
	}
	return a
}

// Option changes how Server runs.
type Option func(*serverOptions)

type serverOptions struct {
	auth      *access.Authority
	anonymous bool
}

// WithAuthority makes the server trust a rather than Authority.
func WithAuthority(a *access.Authority) Option {
	return func(o *serverOptions) { o.auth = a }
}

// WithoutAuth lets anyone connect and do anything, as a server configured
// with no authority does: for benchmarks that measure what authentication
// costs.
func WithoutAuth() Option {
	return func(o *serverOptions) { o.anonymous = true }
}

// Server starts an embedded nats-server with JetStream whose store is dir
// (t.TempDir() if dir is ""), on a random loopback port. It trusts the
// test binary's Authority, as the hub trusts its own: every connection
// authenticates (Connect as admin, ConnectAs as anyone). It is shut down
// when the test ends, before the temp dir is removed.
func Server(t testing.TB, dir string, opts ...Option) *server.Server {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	var so serverOptions
	for _, o := range opts {
		o(&so)
	}
	if so.auth == nil && !so.anonymous {
		so.auth = Authority(t)
	}
	o := &server.Options{
		ServerName: "dpihub-test",
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		JetStream:  true,
		StoreDir:   dir,
		NoSigs:     true,
		NoLog:      true,
	}
	if so.auth != nil {
		if err := so.auth.Configure(o); err != nil {
			t.Fatalf("nats-server: %v", err)
		}
	}
	s, err := server.NewServer(o)
	if err != nil {
		t.Fatalf("nats-server: %v", err)
	}
	if so.auth != nil {
		authorities.Store(s, so.auth)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready in 10s")
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
		authorities.Delete(s)
	})
	return s
}

// Connect connects to s over TCP as the admin, as the hub's own
// connection does, and returns the connection and its JetStream context;
// both are closed when the test ends.
func Connect(t testing.TB, s *server.Server) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	return ConnectAs(t, s, access.Admin)
}

// ConnectAs connects to s over TCP as id, with credentials issued by the
// server's authority and id's inbox prefix, and with opts (an
// nats.ErrorHandler, to see permission violations, which reach only it).
// On a server WithoutAuth it connects anonymously. Both are closed when
// the test ends.
func ConnectAs(t testing.TB, s *server.Server, id access.Identity, opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	base := []nats.Option{nats.MaxReconnects(-1), nats.Name(id.String())}
	if a, ok := authorities.Load(s); ok {
		creds, err := a.(*access.Authority).ConnectOptions(id)
		if err != nil {
			t.Fatalf("connect as %s: %v", id, err)
		}
		base = append(base, creds...)
	}
	nc, err := nats.Connect(s.ClientURL(), append(base, opts...)...)
	if err != nil {
		t.Fatalf("connect as %s: %v", id, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return nc, js
}

// Creds writes a .creds file for id, issued by the authority s trusts,
// into the test's temp dir and returns its path: for code that connects
// by itself (a binary's run function, bus.Dial).
func Creds(t testing.TB, s *server.Server, id access.Identity) string {
	t.Helper()
	a, ok := authorities.Load(s)
	if !ok {
		t.Fatalf("creds of %s: the server trusts no authority", id)
	}
	path := filepath.Join(t.TempDir(), id.CredsFile())
	if err := a.(*access.Authority).WriteCreds(path, id); err != nil {
		t.Fatalf("creds of %s: %v", id, err)
	}
	return path
}

// Open opens the bus on js.
func Open(t testing.TB, js jetstream.JetStream) *bus.Bus {
	t.Helper()
	b, err := bus.Open(context.Background(), js, bus.Config{})
	if err != nil {
		t.Fatalf("open bus: %v", err)
	}
	return b
}

// Country is a test country: its key, its signer.
type Country struct {
	Key    sign.PrivateKey
	Signer *sign.Signer
}

// Countries makes a key for each code and a trust list that trusts them
// all.
func Countries(t testing.TB, codes ...string) (map[string]Country, *sign.TrustList) {
	t.Helper()
	tl := &sign.TrustList{}
	out := map[string]Country{}
	for _, cc := range codes {
		k, err := sign.GenerateKey(cc)
		if err != nil {
			t.Fatal(err)
		}
		s, err := sign.NewSigner(k)
		if err != nil {
			t.Fatal(err)
		}
		tl.Add(sign.Trusted(k, time.Time{}, time.Time{}))
		out[cc] = Country{Key: k, Signer: s}
	}
	return out, tl
}

// Eventually fails the test unless cond holds within d, checking every
// 10ms. It waits on a condition, never a fixed sleep.
func Eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// DeadLetters returns every entry of DPI_DLQ.
func DeadLetters(t testing.TB, js jetstream.JetStream) []bus.DeadLetter {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	dls, err := bus.ReadDeadLetters(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	return dls
}

// Encode is e as a message on its own subject (subject.Of), as it is:
// signed or not.
func Encode(t testing.TB, e event.Event) *nats.Msg {
	t.Helper()
	s, err := subject.Of(e)
	if err != nil {
		t.Fatal(err)
	}
	m, err := bus.Encode(s.String(), e)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// PublishRaw puts m on the stream without the Publisher's checks, as a
// misbehaving or hostile producer would.
func PublishRaw(t testing.TB, js jetstream.JetStream, m *nats.Msg) {
	t.Helper()
	if _, err := js.PublishMsg(context.Background(), m); err != nil {
		t.Fatalf("raw publish on %s: %v", m.Subject, err)
	}
}

// Messages returns every message stream holds on js, by sequence from
// its first to its last; sequences without a message (deleted) are
// skipped, and any other error fails the test.
func Messages(t testing.TB, js jetstream.JetStream, stream string) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("%s seq %d: %v", stream, seq, err)
		}
		out = append(out, m)
	}
	return out
}

// Python returns a python3 that imports the ed25519 of the cryptography
// package, for the example verifier (docs/examples/verify-python), or
// fails the test naming what to install: a skip would not be a pass.
// DPIHUB_PYTHON names one to try first.
func Python(t testing.TB) string {
	t.Helper()
	for _, p := range []string{os.Getenv("DPIHUB_PYTHON"), "python3", "/usr/bin/python3"} {
		if p == "" {
			continue
		}
		if err := exec.Command(p, "-c", "import cryptography.hazmat.primitives.asymmetric.ed25519").Run(); err == nil {
			return p
		}
	}
	t.Fatal("the example verifier needs python3 with the cryptography package: apt-get install python3-cryptography (make test installs it as root)")
	return ""
}

// DeadLettersOf waits, up to d, until consumer has dead-lettered n
// messages, and returns them in order; it fails the test otherwise.
func DeadLettersOf(t testing.TB, js jetstream.JetStream, consumer string, n int, d time.Duration) []bus.DeadLetter {
	t.Helper()
	var mine []bus.DeadLetter
	Eventually(t, d, fmt.Sprintf("%d dead letters from %s", n, consumer), func() bool {
		mine = mine[:0]
		for _, dl := range DeadLetters(t, js) {
			if dl.Consumer == consumer {
				mine = append(mine, dl)
			}
		}
		return len(mine) >= n
	})
	return mine
}
