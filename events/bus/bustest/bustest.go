// Package bustest runs a real embedded nats-server with JetStream for
// tests: random port, store in the test's temp dir, shut down in cleanup.
package bustest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/sign"
)

// Server starts an embedded nats-server with JetStream whose store is dir
// (t.TempDir() if dir is ""), on a random loopback port. It is shut down
// when the test ends, before the temp dir is removed.
func Server(t testing.TB, dir string) *server.Server {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	s, err := server.NewServer(&server.Options{
		ServerName: "dpihub-test",
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		JetStream:  true,
		StoreDir:   dir,
		NoSigs:     true,
		NoLog:      true,
	})
	if err != nil {
		t.Fatalf("nats-server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready in 10s")
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

// Connect connects to s over TCP and returns the connection and its
// JetStream context; both are closed when the test ends.
func Connect(t testing.TB, s *server.Server) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL(), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return nc, js
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
