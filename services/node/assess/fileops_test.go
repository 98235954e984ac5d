package assess

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/dpihub/dpihub/events"
)

// TestAssessFileOperations covers fixes that create, delete, rename, chmod
// or change binary files, each against a fork, and holds every verdict
// against the git command line.
func TestAssessFileOperations(t *testing.T) {
	text := lines(12, func(i int) string { return "line " + string(rune('a'+i)) })
	tests := []struct {
		name     string
		base     map[string]string // upstream before the fix
		fix      map[string]string // the fix's changes ("-path" deletes)
		rename   [2]string         // the fix renames [0] to [1] before changing files
		chmod    string            // the fix makes this path executable
		fork     map[string]string // the fork's changes to base
		pick     bool              // the fork then cherry-picks the fix
		verdict  string
		how      string
		hunks    []Conflict
		threeWay *bool
	}{
		{
			name:    "deleting a file the fork left alone applies",
			base:    map[string]string{"old.txt": text, "keep.txt": "keep\n"},
			fix:     map[string]string{"-old.txt": ""},
			fork:    map[string]string{"keep.txt": "kept\n"},
			verdict: events.VerdictApplies,
		},
		{
			name:    "deleting a file the fork changed conflicts on its only hunk",
			base:    map[string]string{"old.txt": text},
			fix:     map[string]string{"-old.txt": ""},
			fork:    map[string]string{"old.txt": edit(text, 12, "changed at the end")},
			verdict: events.VerdictConflicts, hunks: []Conflict{{File: "old.txt", Hunk: 1}}, threeWay: ptr(false),
		},
		{
			name:    "deleting a file the fork already deleted is present by content",
			base:    map[string]string{"old.txt": text, "keep.txt": "keep\n"},
			fix:     map[string]string{"-old.txt": ""},
			fork:    map[string]string{"-old.txt": "", "keep.txt": "kept\n"},
			verdict: events.VerdictPresent, how: events.HowContent,
		},
		{
			name:    "renaming and changing a file applies",
			base:    map[string]string{"a.txt": text},
			rename:  [2]string{"a.txt", "b.txt"},
			fix:     map[string]string{"b.txt": edit(text, 6, "renamed and changed")},
			fork:    map[string]string{"c.txt": "other\n"},
			verdict: events.VerdictApplies,
		},
		{
			name:   "renaming onto a path the fork uses conflicts on that file",
			base:   map[string]string{"a.txt": text},
			rename: [2]string{"a.txt", "b.txt"},
			fix:    map[string]string{"b.txt": edit(text, 6, "renamed and changed")},
			fork:   map[string]string{"b.txt": "the fork's own b\n"},
			// git apply --3way merges a.txt into b.txt, overwriting it
			verdict: events.VerdictConflicts, hunks: []Conflict{{File: "b.txt", Hunk: 0}}, threeWay: ptr(true),
		},
		{
			name:    "a rename the fork cherry-picked is present by patch-id",
			base:    map[string]string{"a.txt": text},
			rename:  [2]string{"a.txt", "b.txt"},
			fix:     map[string]string{"b.txt": edit(text, 6, "renamed and changed")},
			fork:    map[string]string{"c.txt": "other\n"},
			pick:    true,
			verdict: events.VerdictPresent, how: events.HowPatchID,
		},
		{
			name:    "a binary change the fork cherry-picked is present by patch-id",
			base:    map[string]string{"logo.bin": "\x00\x01\x02logo v1"},
			fix:     map[string]string{"logo.bin": "\x00\x01\x02logo v2"},
			fork:    map[string]string{"other.txt": "x\n"},
			pick:    true,
			verdict: events.VerdictPresent, how: events.HowPatchID,
		},
		{
			name:    "making a script executable applies",
			base:    map[string]string{"run.sh": "#!/bin/sh\necho run\n"},
			chmod:   "run.sh",
			fork:    map[string]string{"other.txt": "x\n"},
			verdict: events.VerdictApplies,
		},
		{
			name:    "a binary change applies to the same old binary",
			base:    map[string]string{"logo.bin": "\x00\x01\x02logo v1"},
			fix:     map[string]string{"logo.bin": "\x00\x01\x02logo v2"},
			fork:    map[string]string{"other.txt": "x\n"},
			verdict: events.VerdictApplies,
		},
		{
			name:    "a binary change conflicts when the fork changed the binary",
			base:    map[string]string{"logo.bin": "\x00\x01\x02logo v1"},
			fix:     map[string]string{"logo.bin": "\x00\x01\x02logo v2"},
			fork:    map[string]string{"logo.bin": "\x00\x01\x02logo fork"},
			verdict: events.VerdictConflicts, hunks: []Conflict{{File: "logo.bin", Hunk: 0}}, threeWay: ptr(false),
		},
		{
			name:    "a binary change the fork already made is present by content",
			base:    map[string]string{"logo.bin": "\x00\x01\x02logo v1", "keep.txt": "keep\n"},
			fix:     map[string]string{"logo.bin": "\x00\x01\x02logo v2"},
			fork:    map[string]string{"logo.bin": "\x00\x01\x02logo v2", "keep.txt": "kept\n"},
			verdict: events.VerdictPresent, how: events.HowContent,
		},
		{
			name:    "a change to a last line without a newline applies",
			base:    map[string]string{"nonl.txt": "a\nb\nc\nd\ne\nthree"},
			fix:     map[string]string{"nonl.txt": "a\nb\nc\nd\ne\nthree!"},
			fork:    map[string]string{"nonl.txt": "zero\na\nb\nc\nd\ne\nthree"},
			verdict: events.VerdictApplies,
		},
		{
			name:    "a change to a last line conflicts when the fork added a newline",
			base:    map[string]string{"nonl.txt": "one\ntwo\nthree"},
			fix:     map[string]string{"nonl.txt": "one\ntwo\nthree!"},
			fork:    map[string]string{"nonl.txt": "one\ntwo\nthree\n"},
			verdict: events.VerdictConflicts, hunks: []Conflict{{File: "nonl.txt", Hunk: 1}}, threeWay: ptr(false),
		},
	}
	g := newTestGit(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "repo")
			g.run(filepath.Dir(dir), "init", "-q", dir)
			base := g.commit(dir, "Base", tt.base)
			if tt.rename[0] != "" {
				g.run(dir, "mv", tt.rename[0], tt.rename[1])
			}
			g.write(dir, tt.fix)
			if tt.chmod != "" {
				if err := os.Chmod(filepath.Join(dir, tt.chmod), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			g.run(dir, "add", "-A")
			g.run(dir, "commit", "-q", "-m", "The fix")
			fixCommit := g.run(dir, "rev-parse", "HEAD")
			patch := []byte(g.run(dir, "format-patch", "-1", "--stdout", "--base="+base, fixCommit) + "\n")
			g.run(dir, "checkout", "-q", "-b", "fork", base)
			g.commit(dir, "Fork work", tt.fork)
			if tt.pick {
				g.run(dir, "cherry-pick", fixCommit)
			}

			res, err := Assess(context.Background(), dir, "fork", patch)
			if err != nil {
				t.Fatal(err)
			}
			if res.Verdict != tt.verdict || res.How != tt.how {
				t.Fatalf("verdict %q how %q, want %q how %q; %+v", res.Verdict, res.How, tt.verdict, tt.how, res)
			}
			var hunks []Conflict
			for _, c := range res.Conflicts {
				hunks = append(hunks, Conflict{File: c.File, Hunk: c.Hunk})
			}
			if !slices.Equal(hunks, tt.hunks) {
				t.Errorf("conflicts %+v, want %+v", res.Conflicts, tt.hunks)
			}
			if fmtBoolPtr(res.ThreeWayClean) != fmtBoolPtr(tt.threeWay) {
				t.Errorf("three_way_clean %s, want %s", fmtBoolPtr(res.ThreeWayClean), fmtBoolPtr(tt.threeWay))
			}
			agreeWithGit(t, g, dir, "fork", patch, fixCommit, res)
		})
	}
}
