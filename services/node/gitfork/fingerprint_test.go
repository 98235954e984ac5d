package gitfork

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/minhash"
	"github.com/dpihub/dpihub/services/node"
	"github.com/dpihub/dpihub/services/node/internal/gittest"
)

var fpApp = gittest.Lines(60, func(i int) string { return fmt.Sprintf("func step%d() { return %d }", i, i) })

// trickyFork makes an upstream and a fork whose own commits hold what the
// change reader must get right: two hunks, lines that look like diff
// headers, names with spaces and non-ASCII bytes, a rename with an edit,
// a binary file, a mode change, an empty commit, a deletion, CRLF lines
// and a merge. It returns the fork's directory and the upstream's commit.
func trickyFork(t *testing.T, g *gittest.Git) (dir, base string) {
	t.Helper()
	dir = g.Init()
	base = g.Commit(dir, "upstream", map[string]string{
		"src/app.go":        fpApp,
		"dir b/x b.txt":     gittest.Lines(20, func(i int) string { return fmt.Sprintf("renamed line %d", i) }),
		"gone.txt":          "soon gone\n",
		"run.sh":            "#!/bin/sh\necho hi\n",
		"headers.txt":       "-- a/looks like a header\nkeep\n",
		"a b/a b.txt":       "spaces and a ' b/' inside\n",
		"windows.txt":       "one\r\ntwo\r\n",
		"assets/image.bin":  "\x00\x01\x02binary\x00",
		"unchanged/big.txt": fpApp,
	})
	g.Run(dir, "checkout", "-q", "-b", "fork")
	g.Commit(dir, "two hunks", map[string]string{"src/app.go": gittest.Edit(gittest.Edit(fpApp, 5, "func step5() { return -5 }"), 50, "func step50() { return 0 }")})
	g.Commit(dir, "a non-ASCII name", map[string]string{"docs/é file.txt": "bonjour\n"})
	g.Run(dir, "mv", "dir b/x b.txt", "dir b/y b.txt")
	g.Commit(dir, "rename with an edit", map[string]string{"dir b/y b.txt": gittest.Edit(gittest.Lines(20, func(i int) string { return fmt.Sprintf("renamed line %d", i) }), 3, "edited")})
	g.Commit(dir, "binary", map[string]string{"assets/image.bin": "\x00\x01\x03binary!\x00"})
	if err := os.Chmod(filepath.Join(dir, "run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	g.Commit(dir, "mode only", nil)
	g.Commit(dir, "empty", nil)
	g.Commit(dir, "delete", map[string]string{"-gone.txt": ""})
	g.Commit(dir, "header lookalikes", map[string]string{"headers.txt": "keep\n++ b/added like a header\n"})
	g.Commit(dir, "spaces", map[string]string{"a b/a b.txt": "spaces and a ' b/' inside, edited\n"})
	g.Commit(dir, "crlf", map[string]string{"windows.txt": "one\r\nzwei\r\n"})
	// A side branch merged in: its commit counts, the merge does not.
	g.Run(dir, "checkout", "-q", "-b", "side", "fork~1")
	g.Commit(dir, "side work", map[string]string{"side.txt": "side\n"})
	g.Run(dir, "checkout", "-q", "fork")
	g.Run(dir, "merge", "-q", "--no-ff", "-m", "merge side", "side")
	return dir, base
}

// wantFingerprint builds what Fingerprint must return from git's own
// answers: patch-ids as PatchIDs reads them, files as
// `git log --name-only --no-renames` lists them, and shingles as
// minhash.DiffShingles reads each commit's diff.
func wantFingerprint(t *testing.T, g *gittest.Git, dir, base, head string) FP {
	t.Helper()
	ids, err := PatchIDs(context.Background(), dir, base, head)
	if err != nil {
		t.Fatal(err)
	}
	want := FP{PatchIDs: ids}
	commits := strings.Fields(g.Run(dir, "rev-list", "--no-merges", base+".."+head))
	want.Commits = len(commits)
	for _, c := range commits {
		diff, _, _ := g.Exec(dir, nil, "show", "--format=", "-M", "--binary", c)
		want.Shingles = append(want.Shingles, minhash.DiffShingles(diff)...)
	}
	want.Shingles = sortedSet(want.Shingles)
	names, _, _ := g.Exec(dir, nil, "log", "--format=", "--name-only", "--no-renames", "-z", base+".."+head)
	for _, n := range strings.Split(names, "\x00") {
		if n = strings.TrimLeft(n, "\n"); n != "" {
			want.Files = append(want.Files, n)
		}
	}
	want.Files = sortedSet(want.Files)
	return want
}

func TestFingerprintReadsWhatGitSaysOfEachCommit(t *testing.T) {
	g := gittest.New(t)
	dir, base := trickyFork(t, g)
	head := g.Run(dir, "rev-parse", "fork")
	var calls [][2]int
	fp, err := Fingerprint(context.Background(), dir, base, head, func(done, total int) { calls = append(calls, [2]int{done, total}) })
	if err != nil {
		t.Fatal(err)
	}
	want := wantFingerprint(t, g, dir, base, head)
	want.Read = want.Commits
	if want.Commits != 11 || len(want.PatchIDs) != 10 {
		t.Fatalf("the test repository has %d commits and %d patch-ids, want 11 and 10", want.Commits, len(want.PatchIDs))
	}
	if !reflect.DeepEqual(fp.PatchIDs, want.PatchIDs) {
		t.Errorf("patch-ids = %v, want PatchIDs' %v", fp.PatchIDs, want.PatchIDs)
	}
	if !reflect.DeepEqual(fp.Files, want.Files) {
		t.Errorf("files = %q, want git's %q", fp.Files, want.Files)
	}
	if !slices.Equal(fp.Shingles, want.Shingles) || len(fp.Shingles) == 0 {
		t.Errorf("%d shingles, want the %d of DiffShingles over each commit", len(fp.Shingles), len(want.Shingles))
	}
	if fp.Commits != want.Commits || fp.Read != want.Read {
		t.Errorf("commits %d read %d, want %d and %d", fp.Commits, fp.Read, want.Commits, want.Read)
	}
	if len(calls) != want.Commits+1 || calls[0] != [2]int{0, 11} || calls[len(calls)-1] != [2]int{11, 11} {
		t.Errorf("progress calls %v, want 0/11 up to 11/11 by one", calls)
	}
	for i := 1; i < len(calls); i++ {
		if calls[i][0] != calls[i-1][0]+1 {
			t.Fatalf("progress calls %v do not go up by one", calls)
		}
	}
}

func TestFingerprintOfNoOwnCommitsIsEmpty(t *testing.T) {
	g := gittest.New(t)
	dir := g.Init()
	head := g.Commit(dir, "upstream", map[string]string{"a.txt": "a\n"})
	calls := 0
	fp, err := Fingerprint(context.Background(), dir, head, head, func(done, total int) {
		calls++
		if done != 0 || total != 0 {
			t.Errorf("progress %d/%d, want 0/0", done, total)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if fp.Commits != 0 || len(fp.Shingles) != 0 || len(fp.PatchIDs) != 0 || len(fp.Files) != 0 || calls != 1 {
		t.Errorf("fingerprint %+v after %d progress calls, want an empty one after 1", fp, calls)
	}
}

func TestFingerprintRefusesWhatIsNotARevision(t *testing.T) {
	g := gittest.New(t)
	dir := g.Init()
	head := g.Commit(dir, "upstream", map[string]string{"a.txt": "a\n"})
	for name, revs := range map[string][2]string{
		"an option as base":   {"--all", head},
		"an option as head":   {"", "-p"},
		"no head":             {head, ""},
		"a name of no commit": {"", "no-such-branch"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Fingerprint(context.Background(), dir, revs[0], revs[1], nil); err == nil {
				t.Fatal("no error")
			}
		})
	}
	if _, err := Fingerprint(context.Background(), dir, "--all", head, nil); err == nil || !strings.Contains(err.Error(), "not a revision") {
		t.Errorf("err = %v, want a refused revision", err)
	}
}

func TestACachedFingerprintReadsOnlyTheNewCommits(t *testing.T) {
	g := gittest.New(t)
	dir, base := trickyFork(t, g)
	cache := NewFingerprintCache(0)
	ctx := context.Background()
	first, err := cache.Fingerprint(ctx, dir, base, "fork", nil)
	if err != nil {
		t.Fatal(err)
	}
	if first.Read != 11 || cache.Stats().Hits != 0 || cache.Stats().Commits != 11 {
		t.Fatalf("first fingerprint read %d commits, cache %+v; want 11 read and 11 kept", first.Read, cache.Stats())
	}
	g.Commit(dir, "one more", map[string]string{"src/new.go": "package src\n\nfunc New() {}\n"})
	var calls [][2]int
	second, err := cache.Fingerprint(ctx, dir, base, "fork", func(done, total int) { calls = append(calls, [2]int{done, total}) })
	if err != nil {
		t.Fatal(err)
	}
	if second.Read != 1 || second.Commits != 12 {
		t.Errorf("second fingerprint read %d of %d commits, want 1 of 12", second.Read, second.Commits)
	}
	if st := cache.Stats(); st.Hits != 11 || st.Misses != 11+1 || st.Commits != 12 {
		t.Errorf("cache %+v, want 11 served, 12 missed, 12 kept", st)
	}
	if !reflect.DeepEqual(calls, [][2]int{{11, 12}, {12, 12}}) {
		t.Errorf("progress %v, want the 11 cached at once, then the new one", calls)
	}
	fresh, err := Fingerprint(ctx, dir, base, "fork", nil)
	if err != nil {
		t.Fatal(err)
	}
	fresh.Read = second.Read
	if !reflect.DeepEqual(second, fresh) {
		t.Errorf("the cached fingerprint differs from a fresh one:\n%+v\n%+v", second, fresh)
	}
	// Nothing new: nothing read.
	third, err := cache.Fingerprint(ctx, dir, base, "fork", nil)
	if err != nil || third.Read != 0 {
		t.Errorf("third fingerprint read %d commits (%v), want 0", third.Read, err)
	}
}

func TestTheCacheStaysWithinItsSizeAndServesConcurrentFingerprints(t *testing.T) {
	g := gittest.New(t)
	dir, base := trickyFork(t, g)
	full, err := Fingerprint(context.Background(), dir, base, "fork", nil)
	if err != nil {
		t.Fatal(err)
	}
	size := len(full.Shingles) / 2
	cache := NewFingerprintCache(size)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			fp, err := cache.Fingerprint(context.Background(), dir, base, "fork", nil)
			if err == nil && !slices.Equal(fp.Shingles, full.Shingles) {
				err = fmt.Errorf("a concurrent fingerprint has %d shingles, want %d", len(fp.Shingles), len(full.Shingles))
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	st := cache.Stats()
	if st.Shingles+st.Commits > size || st.Commits == 0 || st.Commits == full.Commits {
		t.Errorf("cache of size %d holds %d shingles in %d commits: want some of the %d commits, within the size", size, st.Shingles, st.Commits, full.Commits)
	}

	// A fork too large for its cache keeps its newest commits, the ones
	// its next fingerprint would otherwise read again.
	cache = NewFingerprintCache(size)
	if _, err := cache.Fingerprint(context.Background(), dir, base, "fork", nil); err != nil {
		t.Fatal(err)
	}
	newest := g.Run(dir, "rev-list", "--no-merges", "-n", "1", "fork")
	if cache.get(newest) == nil {
		t.Error("the newest commit was dropped")
	}
}

func TestSnapshotCarriesTheMinHashOfTheForksChanges(t *testing.T) {
	g := gittest.New(t)
	up := g.Init()
	g.Commit(up, "initial", map[string]string{"src/app.go": fpApp})
	dir := g.Clone(up, "ma-main")
	f := node.Fork{Project: "app", Upstream: "file:///up", Dir: dir, Branch: "ma-main"}
	ctx := context.Background()

	snap, err := Snapshot(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if snap.MinHash != nil || snap.MinHashVersion != 0 {
		t.Errorf("a fork without changes has minhash %v version %d, want none", snap.MinHash, snap.MinHashVersion)
	}

	g.Commit(dir, "ma: a fix", map[string]string{"src/app.go": gittest.Edit(fpApp, 7, "func step7() { return 8 }")})
	cache := NewFingerprintCache(0)
	snap, err = Snapshot(ctx, f, WithFingerprintCache(cache))
	if err != nil {
		t.Fatal(err)
	}
	fp, err := Fingerprint(ctx, dir, snap.MergeBase, snap.Head, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := minhash.Sign(fp.Shingles).Values(); !slices.Equal(snap.MinHash, want) || snap.MinHashVersion != minhash.Version {
		t.Errorf("minhash %v version %d, want Sign of the fingerprint, version %d", snap.MinHash, snap.MinHashVersion, minhash.Version)
	}
	if len(snap.PatchIDs) != 1 || !reflect.DeepEqual(snap.Files, []string{"src/app.go"}) {
		t.Errorf("patch-ids %v files %v", snap.PatchIDs, snap.Files)
	}
	if _, err := events.New(events.Source{Country: "ma", Service: "node"}, "app", snap); err != nil {
		t.Errorf("snapshot is not a valid event: %v", err)
	}
	if _, err := Snapshot(ctx, f, WithFingerprintCache(cache)); err != nil || cache.Stats().Hits != 1 {
		t.Errorf("a second snapshot: %v, cache %+v; want its one commit served", err, cache.Stats())
	}
}

func TestDiffGitNamesTellsNamesApartWhereGitLetsThem(t *testing.T) {
	tests := []struct {
		name, line string
		want       []string
	}{
		{"plain", `a/src/app.go b/src/app.go`, []string{"src/app.go", "src/app.go"}},
		{"spaces and a b/ inside", `a/a b/c b.txt b/a b/c b.txt`, []string{"a b/c b.txt", "a b/c b.txt"}},
		{"both quoted", `"a/\303\251 x" "b/\303\251 x"`, []string{"é x", "é x"}},
		{"only the new name quoted", `a/plain "b/tab\there"`, []string{"plain", "tab\there"}},
		{"only the old name quoted", `"a/tab\there" b/plain`, []string{"tab\there", "plain"}},
		{"two bare names that differ are left to the rename lines", `a/x y b/z`, nil},
		{"no prefixes", `x x`, nil},
		{"a broken quote", `"a/x`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := diffGitNames(tc.line); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("diffGitNames(%q) = %q, want %q", tc.line, got, tc.want)
			}
		})
	}
}

// FuzzChangeReader checks that the change reader never panics and reads
// the same whichever way the stream is cut into writes.
func FuzzChangeReader(f *testing.F) {
	f.Add([]byte("commit 0123456789012345678901234567890123456789\n\ndiff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n\\ No newline at end of file\n"), 7)
	f.Add([]byte("commit 0123456789012345678901234567890123456789\n\ndiff --git \"a/\\303\" b/y\nrename from \"\\303\"\nrename to y\n@@ -1,2 +1,2 @@\n x\n--- a\n+++ b\ncommit 1123456789012345678901234567890123456789\n"), 1)
	f.Fuzz(func(t *testing.T, stream []byte, cut int) {
		read := func(chunk int) []*commitPrint {
			var got []*commitPrint
			r := &changeReader{onCommit: func(p *commitPrint) { got = append(got, p) }}
			for b := stream; len(b) > 0; {
				n := min(chunk, len(b))
				if _, err := r.Write(b[:n]); err != nil {
					t.Fatal(err)
				}
				b = b[n:]
			}
			r.close()
			return got
		}
		whole := read(len(stream) + 1)
		if cut < 1 {
			cut = 1
		}
		if parts := read(cut); !reflect.DeepEqual(whole, parts) {
			t.Errorf("cut into writes of %d bytes the stream reads as %v, whole as %v", cut, parts, whole)
		}
	})
}
