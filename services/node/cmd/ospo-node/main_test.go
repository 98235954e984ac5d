package main

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/events/sign"
)

// TestNodeLeavesTheHubsStreamsAlone: a node attaches to the streams the
// hub made; it neither creates them nor resets their settings.
func TestNodeLeavesTheHubsStreamsAlone(t *testing.T) {
	srv := bustest.Server(t, "")
	_, js := bustest.Connect(t, srv)
	dir := t.TempDir()
	cs, tl := bustest.Countries(t, "ph")
	keyFile, trustFile := filepath.Join(dir, "ph.key"), filepath.Join(dir, "trust.json")
	if err := sign.WritePrivateKey(keyFile, cs["ph"].Key); err != nil {
		t.Fatal(err)
	}
	if err := tl.WriteFile(trustFile); err != nil {
		t.Fatal(err)
	}
	args := []string{"-nats", srv.ClientURL(), "-country", "ph", "-key", keyFile, "-trust", trustFile, "-http", ""}
	noEnv := func(string) (string, bool) { return "", false }

	// No hub yet: the node says so instead of making the streams (and
	// running on them until the deadline).
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err := run(ctx, args, noEnv)
	cancel()
	if err == nil || !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("a node without a hub: %v, want stream not found", err)
	}
	if _, err := js.Stream(context.Background(), bus.Stream); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("the node made stream %s (%v)", bus.Stream, err)
	}

	// The hub keeps events 7 days, not the default 365.
	const maxAge = 7 * 24 * time.Hour
	if _, err := bus.Open(context.Background(), js, bus.Config{MaxAge: maxAge}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, noEnv) }()
	bustest.Eventually(t, 20*time.Second, "the node's consumer on "+bus.Stream, func() bool {
		s, err := js.Stream(context.Background(), bus.Stream)
		if err != nil {
			return false
		}
		info, err := s.Info(context.Background())
		return err == nil && info.State.Consumers > 0
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("node stopped with %v", err)
	}
	s, err := js.Stream(context.Background(), bus.Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.MaxAge != maxAge {
		t.Fatalf("after a node ran, %s keeps events %s, the hub set %s", bus.Stream, info.Config.MaxAge, maxAge)
	}
}

func TestBadFlagsAreErrors(t *testing.T) {
	noEnv := func(string) (string, bool) { return "", false }
	for _, args := range [][]string{{"-country", "ph"}, {"-poll", "often"}, {"extra"}} {
		if err := run(context.Background(), args, noEnv); err == nil {
			t.Errorf("ospo-node %q: no error", args)
		}
	}
}
