package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dpihub/dpihub/services/feed"
	"github.com/dpihub/dpihub/services/feed/sqlite"
)

func exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Lstat(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

func TestCreateFinishBuildsTheSameStoreAsOpen(t *testing.T) {
	ctx := context.Background()
	rs := catalogRecords(t)
	rs = append(rs, matrixRecords(t, uint64(len(rs)+1))...)
	live := openStore(t)
	apply(t, live, rs...)
	want := digest(t, live)

	path := filepath.Join(t.TempDir(), "feed.db")
	st, err := sqlite.Create(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.ApplyBatch(ctx, rs[:len(rs)/2]); err != nil {
		t.Fatal(err)
	}
	if err := st.ApplyBatch(ctx, rs); err != nil { // again: idempotent here too
		t.Fatal(err)
	}
	if exists(t, path) {
		t.Fatal("the store is at its path before Finish")
	}
	// Reads before Finish, as dpihub feed rebuild does (digest, last seq),
	// leave reader connections that must not keep the file from WAL.
	if _, err := st.Digest(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Events(ctx, feed.Query{Q: "NullPointerException"}); err != nil {
		t.Fatal(err)
	}
	if !exists(t, path+sqlite.PartialSuffix) {
		t.Fatal("no partial file while loading")
	}
	if err := st.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path + sqlite.PartialSuffix, path + "-wal", path + sqlite.PartialSuffix + "-wal"} {
		if exists(t, p) {
			t.Errorf("%s is left after Finish", filepath.Base(p))
		}
	}
	// The file is an ordinary store: WAL mode, and it opens and reads.
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode %q (%v), want wal", mode, err)
	}
	db.Close()
	got, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if d := digest(t, got); d != want {
		t.Fatalf("digest %s, want %s (the live store's)", d, want)
	}
	if page, err := got.Events(ctx, feed.Query{Q: "NullPointerException"}); err != nil || len(page.Events) == 0 {
		t.Fatalf("search of the finished store: %d events, %v", len(page.Events), err)
	}
}

func TestCreateRefusesAnExistingFileAndReplacesAStalePartial(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "feed.db")
	if err := os.WriteFile(path, []byte("the live store"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlite.Create(ctx, path); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("Create over an existing file: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "the live store" {
		t.Fatal("Create touched the existing file")
	}

	path = filepath.Join(dir, "new.db")
	if err := os.WriteFile(path+sqlite.PartialSuffix, []byte("left by a crash"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Create(ctx, path)
	if err != nil {
		t.Fatalf("Create with a stale partial file: %v", err)
	}
	apply(t, st, catalogRecords(t)...)
	if err := st.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	if !exists(t, path) || exists(t, path+sqlite.PartialSuffix) {
		t.Fatal("Finish did not move the store into place")
	}
}

func TestCloseWithoutFinishLeavesNothing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Create(ctx, filepath.Join(dir, "feed.db"))
	if err != nil {
		t.Fatal(err)
	}
	apply(t, st, catalogRecords(t)...)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("a store closed without Finish left %v", left)
	}
}

func TestFinishKeepsTheStoreWhenItsPathWasTaken(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "feed.db")
	st, err := sqlite.Create(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	apply(t, st, catalogRecords(t)...)
	if err := os.WriteFile(path, []byte("somebody else's"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = st.Finish(ctx)
	if err == nil || !strings.Contains(err.Error(), path+sqlite.PartialSuffix) {
		t.Fatalf("Finish onto a taken path: %v, want an error naming the partial file", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "somebody else's" {
		t.Fatal("Finish replaced a file it did not make")
	}
	kept, err := sqlite.Open(ctx, path+sqlite.PartialSuffix)
	if err != nil {
		t.Fatal(err)
	}
	defer kept.Close()
	if seq, err := kept.LastSeq(ctx); err != nil || seq != uint64(len(catalogRecords(t))) {
		t.Fatalf("the kept store holds up to seq %d (%v)", seq, err)
	}
}

func TestFinishIsOnlyForCreate(t *testing.T) {
	if err := openStore(t).Finish(context.Background()); err == nil {
		t.Fatal("Finish of a store made by Open succeeded")
	}
}

func TestEachDatabaseHasItsOwnLastingID(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ids := map[string]bool{}
	for _, name := range []string{"a.db", "b.db"} {
		st, err := sqlite.Open(ctx, filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		id, err := st.ID(ctx)
		st.Close()
		if err != nil || len(id) != 12 {
			t.Fatalf("%s: id %q (%v)", name, id, err)
		}
		ids[id] = true
		st, err = sqlite.Open(ctx, filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		again, err := st.ID(ctx)
		st.Close()
		if err != nil || again != id {
			t.Fatalf("%s: id %q after reopening, was %q (%v)", name, again, id, err)
		}
	}
	if len(ids) != 2 {
		t.Fatal("two databases have the same id")
	}
}
