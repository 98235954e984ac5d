package gitfork_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/services/node"
	"github.com/dpihub/dpihub/services/node/gitfork"
	"github.com/dpihub/dpihub/services/node/internal/gittest"
)

var app = gittest.Lines(40, func(i int) string { return fmt.Sprintf("line %d of app", i) })

// upstreamAndFork makes an upstream with two commits and a fork cloned
// from its first commit's state plus upstream's second, with two own
// commits; upstream then moves one commit ahead.
func upstreamAndFork(t *testing.T, g *gittest.Git) (up, fork string) {
	t.Helper()
	up = g.Init()
	g.Commit(up, "initial", map[string]string{"src/app.txt": app, "README": "hello\n"})
	fork = g.Clone(up, "ma-main")
	g.Commit(fork, "ma: local config", map[string]string{"conf/ma.txt": "country=ma\n"})
	g.Commit(fork, "Fix the answer\n\nThe answer was wrong.\n\nFixes: MOSIP-1234\nCVE-2024-12345 too.\n",
		map[string]string{"src/app.txt": gittest.Edit(app, 20, "line 20 fixed")})
	g.Commit(up, "upstream moves on", map[string]string{"README": "hello again\n"})
	g.Run(fork, "fetch", "-q", "origin")
	return up, fork
}

func TestSnapshotReadsHeadMergeBaseCountsAndPatchIDs(t *testing.T) {
	g := gittest.New(t)
	_, dir := upstreamAndFork(t, g)
	f := node.Fork{Project: "app", Upstream: "file:///up", Dir: dir, Branch: "ma-main"}
	snap, err := gitfork.Snapshot(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	if want := g.Run(dir, "rev-parse", "ma-main"); snap.Head != want {
		t.Errorf("head = %s, want %s", snap.Head, want)
	}
	if want := g.Run(dir, "merge-base", "origin/HEAD", "ma-main"); snap.MergeBase != want {
		t.Errorf("merge-base = %s, want %s", snap.MergeBase, want)
	}
	if snap.Ahead != 2 || snap.Behind != 1 {
		t.Errorf("ahead/behind = %d/%d, want 2/1", snap.Ahead, snap.Behind)
	}
	log := g.Run(dir, "log", "-p", "origin/HEAD..ma-main")
	out := g.RunStdin(dir, []byte(log+"\n"), "patch-id", "--stable")
	var want []string
	for _, l := range strings.Split(out, "\n") {
		want = append(want, strings.Fields(l)[0])
	}
	sort.Strings(want)
	if !reflect.DeepEqual(snap.PatchIDs, want) {
		t.Errorf("patch-ids = %v, want git's %v", snap.PatchIDs, want)
	}
	if !reflect.DeepEqual(snap.Files, []string{"conf/ma.txt", "src/app.txt"}) {
		t.Errorf("files = %v", snap.Files)
	}
	if _, err := events.New(events.Source{Country: "ma", Service: "node"}, "app", snap); err != nil {
		t.Errorf("snapshot is not a valid event: %v", err)
	}
}

func TestSnapshotOfAMissingRepositoryIsInvalid(t *testing.T) {
	f := node.Fork{Project: "app", Upstream: "file:///up", Dir: t.TempDir(), Branch: "main"}
	_, err := gitfork.Snapshot(context.Background(), f)
	if !errors.Is(err, gitfork.ErrNotRepository) || !errors.Is(err, node.ErrInvalid) {
		t.Fatalf("err = %v, want ErrNotRepository", err)
	}
}

func TestFixBuildsAValidPayloadFromACommit(t *testing.T) {
	g := gittest.New(t)
	_, dir := upstreamAndFork(t, g)
	fp, err := gitfork.Fix(context.Background(), dir, "origin/HEAD", "ma-main")
	if err != nil {
		t.Fatal(err)
	}
	fp.FixID = "ma-1"
	if fp.Title != "Fix the answer" || !strings.HasPrefix(fp.Message, "The answer was wrong.") {
		t.Errorf("title/message = %q / %q", fp.Title, fp.Message)
	}
	if fp.Author != (events.Person{Name: "Amina Author", Email: "amina@example.org"}) {
		t.Errorf("author = %+v", fp.Author)
	}
	if want := g.Run(dir, "merge-base", "origin/HEAD", "ma-main"); fp.UpstreamBase != want {
		t.Errorf("upstream base = %s, want %s", fp.UpstreamBase, want)
	}
	gitID := strings.Fields(g.RunStdin(dir, []byte(g.Run(dir, "show", "ma-main")+"\n"), "patch-id", "--stable"))[0]
	if fp.PatchID != gitID {
		t.Errorf("patch-id = %s, git says %s", fp.PatchID, gitID)
	}
	if !reflect.DeepEqual(fp.Files, []string{"src/app.txt"}) {
		t.Errorf("files = %v", fp.Files)
	}
	want := &events.References{Fixes: []string{"MOSIP-1234"}, CVEs: []string{"CVE-2024-12345"}}
	if !reflect.DeepEqual(fp.References, want) {
		t.Errorf("references = %+v, want %+v", fp.References, want)
	}
	if _, err := events.New(events.Source{Country: "ma", Service: "node"}, "app", fp); err != nil {
		t.Errorf("not a valid event: %v", err)
	}

	t.Run("and its mbox applies with git am on another clone", func(t *testing.T) {
		up := g.Run(dir, "rev-parse", "origin/HEAD")
		other := g.Clone(dir, "")
		g.Run(other, "checkout", "-q", "-b", "ph", up)
		mbox := gitfork.Mbox(fp, []byte(fp.Diff))
		g.RunStdin(other, mbox, "am", "-q")
		got, err := os.ReadFile(filepath.Join(other, "src/app.txt"))
		if err != nil || !strings.Contains(string(got), "line 20 fixed") {
			t.Fatalf("after git am: %q, %v", got, err)
		}
		if subj := g.Run(other, "log", "-1", "--format=%s"); subj != "Fix the answer" {
			t.Errorf("subject after am = %q", subj)
		}
	})
	t.Run("and a bare diff gets headers that git am takes", func(t *testing.T) {
		up := g.Run(dir, "rev-parse", "origin/HEAD")
		other := g.Clone(dir, "")
		g.Run(other, "checkout", "-q", "-b", "lk", up)
		bare := g.Run(dir, "diff", "ma-main~1", "ma-main") + "\n"
		g.RunStdin(other, gitfork.Mbox(fp, []byte(bare)), "am", "-q")
		if subj := g.Run(other, "log", "-1", "--format=%s%n%an"); subj != "Fix the answer\nAmina Author" {
			t.Errorf("after am = %q", subj)
		}
	})
}

func TestFixRefusesWhatIsNotOneChange(t *testing.T) {
	g := gittest.New(t)
	_, dir := upstreamAndFork(t, g)
	g.Run(dir, "checkout", "-q", "-b", "side", "ma-main~1")
	g.Commit(dir, "side", map[string]string{"side.txt": "x\n"})
	g.Run(dir, "checkout", "-q", "ma-main")
	g.Run(dir, "merge", "-q", "--no-ff", "-m", "merge side", "side")
	empty := g.Commit(dir, "empty", nil)
	for name, rev := range map[string]string{
		"a merge commit":      "HEAD~1",
		"an empty commit":     empty,
		"an unknown revision": "no-such-branch",
		"an option as a ref":  "--all",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := gitfork.Fix(context.Background(), dir, "origin/HEAD", rev)
			if !errors.Is(err, node.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestParseReferences(t *testing.T) {
	for _, tc := range []struct {
		name, msg string
		want      *events.References
	}{
		{"finds nothing in a plain message", "Tidy up\n\nNothing to see.", nil},
		{"reads Fixes trailers in any case, once each", "t\n\nfixes: #12\nFIXES:  MOSIP-1 \nFixes: #12\n",
			&events.References{Fixes: []string{"#12", "MOSIP-1"}}},
		{"finds CVE ids in prose and normalises their case", "Closes cve-2021-44228 and CVE-2021-44228, CVE-2023-1234567.",
			&events.References{CVEs: []string{"CVE-2021-44228", "CVE-2023-1234567"}}},
		{"ignores an empty Fixes trailer", "Fixes:\n", nil},
		{"ignores a CVE id with a short number", "CVE-2020-123", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := gitfork.ParseReferences(tc.msg); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func FuzzParseReferences(f *testing.F) {
	for _, s := range []string{"", "Fixes: #1\n", "CVE-2024-0001", "fixes:\tabc\r\nCVE-1999-99999 cve-2000-00001",
		"Fixes: " + strings.Repeat("x", 600), strings.Repeat("Fixes: a\nCVE-2024-1111\n", 3)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		refs := gitfork.ParseReferences(msg)
		if refs == nil {
			return
		}
		if len(refs.Fixes)+len(refs.CVEs) == 0 {
			t.Fatal("non-nil references with nothing in them")
		}
		if len(refs.Fixes) > 100 || len(refs.CVEs) > 100 {
			t.Fatalf("too many references: %d fixes, %d CVEs", len(refs.Fixes), len(refs.CVEs))
		}
		for _, list := range [][]string{refs.Fixes, refs.CVEs} {
			sorted := slices.Clone(list)
			slices.Sort(sorted)
			if len(slices.Compact(sorted)) != len(list) {
				t.Fatalf("duplicates in %q", list)
			}
		}
		for _, v := range refs.Fixes {
			if v == "" || len(v) > 512 || strings.ContainsAny(v, "\r\n") {
				t.Fatalf("bad Fixes value %q", v)
			}
		}
		// The payload that carries them must pass the schema.
		fp, _ := events.Sample(events.TypeFixPublished)
		p := fp.(events.FixPublished)
		p.References = refs
		if _, err := events.New(events.Source{Country: "ma", Service: "node"}, "app", p); err != nil {
			t.Fatalf("references %+v break the schema: %v", refs, err)
		}
	})
}
