package kv_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/services/node"
	"github.com/dpihub/dpihub/services/node/kv"
)

func TestStoreKeepsForksAndFixesAcrossReopening(t *testing.T) {
	srv := bustest.Server(t, "")
	_, js := bustest.Connect(t, srv)
	ctx := context.Background()
	s, err := kv.Open(ctx, js, "ph")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Fix(ctx, "ma:nope"); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("unknown fix: %v, want ErrNotFound", err)
	}
	f := node.ForkState{Fork: node.Fork{Project: "app", Upstream: "file:///u", Dir: "/d", Branch: "ph-main"}}
	if err := s.PutFork(ctx, f); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, id := range []string{"ma:ma-1", "lk:lk-1"} {
		// A diff full of characters HTML escaping would inflate.
		rf := node.ReceivedFix{ID: id, Project: "app", ReceivedAt: t0.Add(time.Duration(i) * time.Minute)}
		rf.Fix.Diff = "<<<&&&>>>"
		if err := s.PutFix(ctx, rf); err != nil {
			t.Fatal(err)
		}
	}
	again, err := kv.Open(ctx, js, "ph")
	if err != nil {
		t.Fatal(err)
	}
	forks, err := again.Forks(ctx)
	if err != nil || len(forks) != 1 || forks[0].Fork != f.Fork {
		t.Fatalf("forks = %+v, %v", forks, err)
	}
	fixes, err := again.Fixes(ctx)
	if err != nil || len(fixes) != 2 || fixes[0].ID != "lk:lk-1" || fixes[1].Fix.Diff != "<<<&&&>>>" {
		t.Fatalf("fixes (newest first) = %+v, %v", fixes, err)
	}
	other, err := kv.Open(ctx, js, "lk")
	if err != nil {
		t.Fatal(err)
	}
	if fs, _ := other.Forks(ctx); len(fs) != 0 {
		t.Errorf("another country's bucket holds %d forks", len(fs))
	}
}
