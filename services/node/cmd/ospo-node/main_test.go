package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dpihub/dpihub/events/access"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/services/node"
	"github.com/dpihub/dpihub/services/node/internal/gittest"
	"github.com/dpihub/dpihub/services/node/service"
)

const project = "sample-payments"

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
	// As the admin, who may change the streams: the node still must not.
	args := []string{"-nats", srv.ClientURL(), "-creds", bustest.Creds(t, srv, access.Admin),
		"-country", "ph", "-key", keyFile, "-trust", trustFile, "-http", ""}
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

// TestANodeRunsWithItsCountrysCredentials: a node connects over TCP with
// nothing but its country's credentials, has the hub make its buckets,
// receives another country's fix and publishes its verdict; with another
// country's credentials, or none, it does not start.
func TestANodeRunsWithItsCountrysCredentials(t *testing.T) {
	srv := bustest.Server(t, "")
	_, js := bustest.Connect(t, srv) // the hub's connection
	hub := bustest.Open(t, js)
	stop, err := service.ServeProvisioning(hub, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	dir := t.TempDir()
	cs, tl := bustest.Countries(t, "ma", "ph")
	keyFile, trustFile, forksFile := filepath.Join(dir, "ph.key"), filepath.Join(dir, "trust.json"), filepath.Join(dir, "forks.json")
	if err := errors.Join(sign.WritePrivateKey(keyFile, cs["ph"].Key), tl.WriteFile(trustFile)); err != nil {
		t.Fatal(err)
	}
	g := gittest.New(t)
	up := g.Init()
	ledger := gittest.Lines(30, func(i int) string { return fmt.Sprintf("entry %d = %d", i, i*10) })
	g.Commit(up, "initial", map[string]string{"ledger.txt": ledger})
	maDir, phDir := g.Clone(up, "ma-main"), g.Clone(up, "ph-main")
	g.Commit(maDir, "Fix entry 15", map[string]string{"ledger.txt": gittest.Edit(ledger, 15, "entry 15 = 151")})
	forks, _ := json.Marshal([]node.Fork{{Project: project, Upstream: "file://" + up, Dir: phDir, Branch: "ph-main"}})
	if err := os.WriteFile(forksFile, forks, 0o644); err != nil {
		t.Fatal(err)
	}
	noEnv := func(string) (string, bool) { return "", false }
	args := func(creds ...string) []string {
		a := []string{"-nats", srv.ClientURL(), "-country", "ph", "-key", keyFile, "-trust", trustFile, "-forks", forksFile, "-http", ""}
		return append(a, creds...)
	}

	for name, creds := range map[string][]string{
		"no credentials":               nil,
		"Morocco's credentials":        {"-creds", bustest.Creds(t, srv, access.Country("ma"))},
		"the observer's credentials":   {"-creds", bustest.Creds(t, srv, access.Observer)},
		"credentials that are no file": {"-creds", filepath.Join(dir, "none.creds")},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := run(ctx, args(creds...), noEnv)
		cancel()
		if err == nil {
			t.Errorf("the node ran with %s", name)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, args("-creds", bustest.Creds(t, srv, access.Country("ph"))), noEnv) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("node ph stopped with %v", err)
		}
	}()
	s, err := js.Stream(context.Background(), bus.Stream)
	if err != nil {
		t.Fatal(err)
	}
	bustest.Eventually(t, 30*time.Second, "ph announces its fork", func() bool {
		_, err := s.GetLastMsgForSubject(context.Background(), "dpi.ph.fork.snapshot."+project)
		return err == nil
	})

	// Morocco's node, on its own connection as Morocco, publishes the fix.
	_, maJS := bustest.ConnectAs(t, srv, access.Country("ma"))
	maBus, err := bus.Open(context.Background(), maJS, bus.Config{Attach: true})
	if err != nil {
		t.Fatal(err)
	}
	v, _ := sign.NewVerifier(tl)
	ma, err := service.Start(context.Background(), service.Config{Country: "ma", Bus: maBus, Signer: cs["ma"].Signer, Verifier: v,
		Forks: []node.Fork{{Project: project, Upstream: "file://" + up, Dir: maDir, Branch: "ma-main"}}, PollInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ma.Close(context.Background()) })
	if _, err := ma.Node().PublishFix(context.Background(), node.PublishRequest{Project: project, Commit: "HEAD"}); err != nil {
		t.Fatal(err)
	}
	bustest.Eventually(t, 60*time.Second, "ph publishes its verdict on Morocco's fix", func() bool {
		m, err := s.GetLastMsgForSubject(context.Background(), "dpi.ph.fix.assessed."+project)
		return err == nil && strings.Contains(string(m.Data), `"verdict":"applies"`)
	})
	// Everything ph used is its own.
	if _, err := js.Consumer(context.Background(), bus.Stream, access.NodeConsumer("ph")); err != nil {
		t.Errorf("consumer of ph: %v", err)
	}
	if _, err := js.KeyValue(context.Background(), access.NodeBucket("ph")); err != nil {
		t.Errorf("bucket of ph: %v", err)
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
