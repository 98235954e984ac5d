package assess

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dpihub/dpihub/events"
)

// calc and notes are the upstream files the fix changes.
var (
	calc = lines(60, func(i int) string {
		return fmt.Sprintf("\tstep%02d := compute(%d) // stage %d", i, i, i)
	})
	notes = lines(20, func(i int) string { return fmt.Sprintf("note %d: keep the ledger balanced", i) })
	// fixedCalc changes line 10 (hunk 1) and line 45 (hunk 2).
	fixedCalc  = edit(edit(calc, 10, "\tstep10 := compute(10) + guard() // stage 10"), 45, "\tstep45 := safe(compute(45)) // stage 45")
	fixedNotes = edit(notes, 8, "note 8: keep the ledger balanced, and audited")
	newDoc     = "# Audit\n\nRun the audit weekly.\n"
)

// upstreamWorld is an upstream repository with two fixes, and a fork
// repository cloned from it whose branches are the forks under test.
type upstreamWorld struct {
	g        *testGit
	upstream string
	fork     string
	base     string // upstream commit both fixes start from
	fix      string // changes src/calc.go (two hunks) and docs/notes.txt
	newFile  string // creates docs/new.md
	patches  map[string][]byte
}

func newUpstreamWorld(t *testing.T) *upstreamWorld {
	t.Helper()
	g := newTestGit(t)
	root := t.TempDir()
	w := &upstreamWorld{g: g, upstream: filepath.Join(root, "upstream"), fork: filepath.Join(root, "fork"), patches: map[string][]byte{}}
	g.run(root, "init", "-q", "upstream")
	w.base = g.commit(w.upstream, "Initial import", map[string]string{
		"src/calc.go":    calc,
		"docs/notes.txt": notes,
		"README.md":      "# Ledger\n",
	})
	w.fix = g.commit(w.upstream, "Guard stage 10 and make stage 45 safe\n\nFixes the overflow reported by Ghana.", map[string]string{
		"src/calc.go":    fixedCalc,
		"docs/notes.txt": fixedNotes,
	})
	g.run(w.upstream, "checkout", "-q", "-b", "audit", w.base)
	w.newFile = g.commit(w.upstream, "Add the audit guide", map[string]string{"docs/new.md": newDoc})
	g.run(w.upstream, "checkout", "-q", "main")
	for name, c := range map[string]string{"fix": w.fix, "newfile": w.newFile} {
		w.patches[name] = []byte(g.run(w.upstream, "format-patch", "-1", "--stdout", "--base="+w.base, c) + "\n")
		w.patches[name+"-nobase"] = []byte(g.run(w.upstream, "format-patch", "-1", "--stdout", c) + "\n")
	}
	g.run(root, "clone", "-q", w.upstream, w.fork)
	return w
}

// branch starts a fork branch at the upstream base.
func (w *upstreamWorld) branch(name string) {
	w.g.run(w.fork, "checkout", "-q", "-b", name, w.base)
}

func (w *upstreamWorld) head() string { return w.g.run(w.fork, "rev-parse", "HEAD") }

// scenario is one fork and what assessing a fix against it must give.
type scenario struct {
	name  string
	patch string // "fix" or "newfile"
	// build makes the fork branch named ref and returns the commit the fix
	// must be found as ("" when not present by commit).
	build     func(w *upstreamWorld, ref string) string
	verdict   string
	how       string
	conflicts []Conflict // File and Hunk only
	threeWay  *bool
}

func ptr[T any](v T) *T { return &v }

var scenarios = []scenario{
	{
		name:  "a fork that cherry-picked the fix has it present by patch-id",
		patch: "fix",
		build: func(w *upstreamWorld, ref string) string {
			w.branch(ref)
			w.g.commit(w.fork, "Local branding", map[string]string{"README.md": "# Ledger (Morocco)\n"})
			w.g.run(w.fork, "cherry-pick", "--allow-empty", w.fix)
			return w.head()
		},
		verdict: events.VerdictPresent, how: events.HowPatchID,
	},
	{
		name:  "a fork that cherry-picked the fix with -x has it present by patch-id, which is checked before the trailer",
		patch: "fix",
		build: func(w *upstreamWorld, ref string) string {
			w.branch(ref)
			w.g.run(w.fork, "cherry-pick", "-x", w.fix)
			picked := w.head()
			w.g.commit(w.fork, "Later work", map[string]string{"README.md": "# Ledger\n\nLater.\n"})
			return picked
		},
		verdict: events.VerdictPresent, how: events.HowPatchID,
	},
	{
		name:  "a fork that cherry-picked the fix with -x and then changed it has it present by trailer",
		patch: "fix",
		build: func(w *upstreamWorld, ref string) string {
			w.branch(ref)
			w.g.run(w.fork, "cherry-pick", "-x", w.fix)
			w.g.write(w.fork, map[string]string{"docs/notes.txt": edit(fixedNotes, 2, "note 2: local policy")})
			w.g.run(w.fork, "commit", "-q", "-a", "--amend", "--no-edit")
			return w.head()
		},
		verdict: events.VerdictPresent, how: events.HowTrailer,
	},
	{
		name:  "a fork that made the same change at other line numbers has it present by patch-id",
		patch: "fix",
		build: func(w *upstreamWorld, ref string) string {
			w.branch(ref)
			w.g.commit(w.fork, "Add a header", map[string]string{
				"src/calc.go":    insert(calc, 1, "// Copyright the Kingdom of Morocco", "// Licensed MPL-2.0", ""),
				"docs/notes.txt": insert(notes, 1, "Local notes follow."),
			})
			w.g.commit(w.fork, "Our own guard for stage 10", map[string]string{
				"src/calc.go":    insert(fixedCalc, 1, "// Copyright the Kingdom of Morocco", "// Licensed MPL-2.0", ""),
				"docs/notes.txt": insert(fixedNotes, 1, "Local notes follow."),
			})
			return w.head()
		},
		verdict: events.VerdictPresent, how: events.HowPatchID,
	},
	{
		name:  "a fork that made the same change inside a bigger commit has it present by content",
		patch: "fix",
		build: func(w *upstreamWorld, ref string) string {
			w.branch(ref)
			w.g.commit(w.fork, "Big refresh", map[string]string{
				"src/calc.go":    edit(fixedCalc, 30, "\tstep30 := compute(30) // stage 30, tuned"),
				"docs/notes.txt": fixedNotes,
				"README.md":      "# Ledger\n\nRefreshed.\n",
			})
			return ""
		},
		verdict: events.VerdictPresent, how: events.HowContent,
	},
	{
		name:  "a clean fork lets the fix apply",
		patch: "fix",
		build: func(w *upstreamWorld, ref string) string {
			w.branch(ref)
			w.g.commit(w.fork, "Local branding", map[string]string{"README.md": "# Ledger (Philippines)\n"})
			return ""
		},
		verdict: events.VerdictApplies,
	},
	{
		name:  "a fork with lines inserted above the hunks lets the fix apply at an offset",
		patch: "fix",
		build: func(w *upstreamWorld, ref string) string {
			w.branch(ref)
			withHeader := insert(calc, 1, "// Copyright Sri Lanka", "", "package ledger", "")
			w.g.commit(w.fork, "Add a header and a stage", map[string]string{
				"src/calc.go":    insert(withHeader, 30, "\textra := compute(0) // local stage"),
				"docs/notes.txt": insert(notes, 3, "local note"),
			})
			return ""
		},
		verdict: events.VerdictApplies,
	},
	{
		name:  "a fork that changed a context line of hunk 2 conflicts there, and a 3-way apply is clean",
		patch: "fix",
		build: func(w *upstreamWorld, ref string) string {
			w.branch(ref)
			w.g.commit(w.fork, "Retune stage 48", map[string]string{"src/calc.go": edit(calc, 48, "\tstep48 := compute(48) // stage 48, retuned")})
			return ""
		},
		verdict: events.VerdictConflicts, conflicts: []Conflict{{File: "src/calc.go", Hunk: 2}}, threeWay: ptr(true),
	},
	{
		name:  "a fork that changed the line next to hunk 1's change conflicts there, and a 3-way apply conflicts too",
		patch: "fix",
		build: func(w *upstreamWorld, ref string) string {
			w.branch(ref)
			w.g.commit(w.fork, "Retune stage 11", map[string]string{"src/calc.go": edit(calc, 11, "\tstep11 := compute(11) * 2 // stage 11")})
			return ""
		},
		verdict: events.VerdictConflicts, conflicts: []Conflict{{File: "src/calc.go", Hunk: 1}}, threeWay: ptr(false),
	},
	{
		name:  "a fork without one of the fix's files conflicts on that whole file",
		patch: "fix",
		build: func(w *upstreamWorld, ref string) string {
			w.branch(ref)
			w.g.commit(w.fork, "Drop the notes", map[string]string{"-docs/notes.txt": ""})
			return ""
		},
		verdict: events.VerdictConflicts, conflicts: []Conflict{{File: "docs/notes.txt", Hunk: 0}}, threeWay: ptr(false),
	},
	{
		name:  "a fork without any of the fix's files finds it not applicable",
		patch: "fix",
		build: func(w *upstreamWorld, ref string) string {
			w.branch(ref)
			w.g.commit(w.fork, "Rewrite in another layout", map[string]string{"-docs/notes.txt": "", "-src/calc.go": "", "lib/ledger.go": calc})
			return ""
		},
		verdict: events.VerdictNotApplicable,
	},
	{
		name:  "a fork without a created file lets the fix apply",
		patch: "newfile",
		build: func(w *upstreamWorld, ref string) string {
			w.branch(ref)
			return ""
		},
		verdict: events.VerdictApplies,
	},
	{
		name:  "a fork that already has the created file, made in a bigger commit, has it present by content",
		patch: "newfile",
		build: func(w *upstreamWorld, ref string) string {
			w.branch(ref)
			w.g.commit(w.fork, "Docs sweep", map[string]string{"docs/new.md": newDoc, "README.md": "# Ledger\n\nSee docs.\n"})
			return ""
		},
		verdict: events.VerdictPresent, how: events.HowContent,
	},
	{
		name:  "a fork with another file at the created path conflicts on that file, also with 3-way",
		patch: "newfile",
		build: func(w *upstreamWorld, ref string) string {
			w.branch(ref)
			w.g.commit(w.fork, "Our audit guide", map[string]string{"docs/new.md": "# Audit\n\nRun it monthly.\n"})
			return ""
		},
		verdict: events.VerdictConflicts, conflicts: []Conflict{{File: "docs/new.md", Hunk: 0}}, threeWay: ptr(false),
	},
}

func TestAssess(t *testing.T) {
	w := newUpstreamWorld(t)
	type built struct {
		ref, presentAs string
	}
	refs := make([]built, len(scenarios))
	for i, sc := range scenarios {
		ref := fmt.Sprintf("fork%02d", i)
		refs[i] = built{ref: ref, presentAs: sc.build(w, ref)}
	}
	bare := filepath.Join(t.TempDir(), "fork.git")
	w.g.run(w.fork, "clone", "-q", "--mirror", w.fork, bare)

	for _, repo := range []struct{ kind, dir string }{{"work tree", w.fork}, {"bare repository", bare}} {
		for _, variant := range []string{"", "-nobase"} {
			for i, sc := range scenarios {
				name := sc.name + " (" + repo.kind + ", patch " + map[string]string{"": "with base", "-nobase": "without base"}[variant] + ")"
				t.Run(name, func(t *testing.T) {
					patch := w.patches[sc.patch+variant]
					ref := refs[i].ref
					got, err := Assess(context.Background(), repo.dir, ref, patch)
					if err != nil {
						t.Fatalf("Assess: %v", err)
					}
					var js bytes.Buffer
					_ = WriteJSON(&js, got)
					t.Logf("%s", js.String())
					if got.Verdict != sc.verdict || got.How != sc.how {
						t.Fatalf("verdict %q how %q, want %q how %q; result %+v", got.Verdict, got.How, sc.verdict, sc.how, got)
					}
					if got.PresentAs != refs[i].presentAs {
						t.Errorf("present as %q, want %q", got.PresentAs, refs[i].presentAs)
					}
					if got.Ref != ref || got.Head != w.g.run(repo.dir, "rev-parse", ref) {
						t.Errorf("ref %q head %q, want %q at its commit", got.Ref, got.Head, ref)
					}
					var gotConflicts []Conflict
					for _, c := range got.Conflicts {
						if c.Reason == "" {
							t.Errorf("conflict %+v has no reason", c)
						}
						gotConflicts = append(gotConflicts, Conflict{File: c.File, Hunk: c.Hunk})
					}
					if !slices.Equal(gotConflicts, sc.conflicts) {
						t.Errorf("conflicts %+v, want %+v", got.Conflicts, sc.conflicts)
					}
					if (got.ThreeWayClean == nil) != (sc.threeWay == nil) || got.ThreeWayClean != nil && *got.ThreeWayClean != *sc.threeWay {
						t.Errorf("three_way_clean %v, want %v", fmtBoolPtr(got.ThreeWayClean), fmtBoolPtr(sc.threeWay))
					}
					fixCommit := map[string]string{"fix": w.fix, "newfile": w.newFile}[sc.patch]
					agreeWithGit(t, w.g, repo.dir, ref, patch, fixCommit, got)
				})
			}
		}
	}
}

func fmtBoolPtr(b *bool) string {
	if b == nil {
		return "unset"
	}
	return strconv.FormatBool(*b)
}

var patchFailed = regexp.MustCompile(`(?m)^error: patch failed: (.*):(\d+)$`)

// agreeWithGit checks res against what the git command line says about the
// same patch and ref: `git patch-id --stable`, `git cherry`,
// `git apply --check` forward and in reverse, `git apply --check --reject`
// for the failing hunks, and `git apply --3way` for the 3-way verdict.
func agreeWithGit(t *testing.T, g *testGit, dir, ref string, patch []byte, fixCommit string, res Result) {
	t.Helper()
	out, _, _ := g.exec(dir, patch, nil, "patch-id", "--stable")
	if id, _, _ := strings.Cut(out, " "); id != res.PatchID {
		t.Errorf("patch_id %q, git patch-id --stable says %q", res.PatchID, id)
	}
	cherry := g.run(dir, "cherry", ref, fixCommit, fixCommit+"^")
	equivalent := strings.HasPrefix(cherry, "- ")
	_, _, applyCode := g.withIndex(dir, ref, patch, "apply", "--cached", "--check")
	_, _, reverseCode := g.withIndex(dir, ref, patch, "apply", "--cached", "--check", "-R")

	switch {
	case res.Verdict == events.VerdictPresent && res.How == events.HowPatchID:
		if !equivalent {
			t.Errorf("present by patch-id, but git cherry says %q", cherry)
		}
		// --binary, as format-patch writes binary changes
		shown := g.run(dir, "show", "--binary", "--format=commit %H", res.PresentAs)
		out, _, _ := g.exec(dir, []byte(shown+"\n"), nil, "patch-id", "--stable")
		if id, _, _ := strings.Cut(out, " "); id != res.PatchID {
			t.Errorf("present as %s, whose git patch-id is %q, not %q", res.PresentAs, id, res.PatchID)
		}
		if _, _, code := g.exec(dir, nil, nil, "merge-base", "--is-ancestor", res.PresentAs, ref); code != 0 {
			t.Errorf("present as %s, which is not in %s", res.PresentAs, ref)
		}
	case res.Verdict == events.VerdictPresent && res.How == events.HowTrailer:
		if equivalent {
			t.Errorf("present by trailer, but git cherry finds the patch-id: %q", cherry)
		}
		found := g.run(dir, "log", "--format=%H", "--fixed-strings", "--grep=(cherry picked from commit "+fixCommit+")", ref)
		if !slices.Contains(strings.Fields(found), res.PresentAs) {
			t.Errorf("present as %s by trailer, git log --grep finds %q", res.PresentAs, found)
		}
	case res.Verdict == events.VerdictPresent && res.How == events.HowContent:
		if equivalent || applyCode == 0 || reverseCode != 0 {
			t.Errorf("present by content, but git cherry %q, git apply --check exit %d, git apply -R --check exit %d", cherry, applyCode, reverseCode)
		}
	case res.Verdict == events.VerdictApplies:
		if equivalent || applyCode != 0 {
			t.Errorf("applies, but git cherry %q, git apply --check exit %d", cherry, applyCode)
		}
	case res.Verdict == events.VerdictConflicts || res.Verdict == events.VerdictNotApplicable:
		if equivalent || applyCode == 0 || reverseCode == 0 {
			t.Errorf("%s, but git cherry %q, git apply --check exit %d, git apply -R --check exit %d", res.Verdict, cherry, applyCode, reverseCode)
		}
	default:
		t.Errorf("unknown verdict %q how %q", res.Verdict, res.How)
	}

	if res.Verdict == events.VerdictConflicts {
		// git names each failing hunk by its old start line.
		fx, err := parsePatch(patch)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		_, stderr, _ := g.withIndex(dir, ref, patch, "apply", "--cached", "--check", "--reject")
		for _, m := range patchFailed.FindAllStringSubmatch(stderr, -1) {
			want = append(want, m[1]+":"+m[2])
		}
		var got []string
		for _, c := range res.Conflicts {
			if c.Hunk == 0 {
				if !strings.Contains(stderr, c.File) {
					t.Errorf("conflict on the whole of %s, but git apply says %q", c.File, stderr)
				}
				continue
			}
			for _, f := range fx.files {
				if f.OldName == c.File && c.Hunk <= len(f.TextFragments) {
					got = append(got, fmt.Sprintf("%s:%d", c.File, f.TextFragments[c.Hunk-1].OldPosition))
				}
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("failing hunks at %q, git apply --check --reject says %q", got, want)
		}
		_, stderr, code := g.withIndex(dir, ref, patch, "apply", "--cached", "--3way")
		if clean := code == 0; res.ThreeWayClean == nil || *res.ThreeWayClean != clean {
			t.Errorf("three_way_clean %s, git apply --3way exit %d: %s", fmtBoolPtr(res.ThreeWayClean), code, stderr)
		}
	}
	if res.Verdict == events.VerdictNotApplicable {
		fx, err := parsePatch(patch)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range fx.oldPaths() {
			if _, _, code := g.exec(dir, nil, nil, "cat-file", "-e", ref+":"+p); code == 0 {
				t.Errorf("not applicable, but %s exists at %s", p, ref)
			}
		}
	}
}

func TestAssessRejectsBadInput(t *testing.T) {
	w := newUpstreamWorld(t)
	good := w.patches["fix"]
	notRepo := t.TempDir()
	tests := []struct {
		name  string
		dir   string
		ref   string
		patch []byte
		want  error
	}{
		{"an empty patch is not a patch", w.fork, "", nil, ErrBadPatch},
		{"blank lines are not a patch", w.fork, "", []byte("\n\n  \n"), ErrBadPatch},
		{"prose is not a patch", w.fork, "", []byte("Please fix the overflow in stage 10.\nThanks!\n"), ErrBadPatch},
		{"binary garbage is not a patch", w.fork, "", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00"), ErrBadPatch},
		{"a hunk whose header miscounts its lines is not a patch", w.fork, "", []byte(strings.Replace(string(good), "@@ -7,7 +7,7 @@", "@@ -7,9 +7,9 @@", 1)), ErrBadPatch},
		{"two commits in one input are refused", w.fork, "", append(append([]byte{}, good...), good...), ErrBadPatch},
		{"a directory that is no repository is refused", notRepo, "", good, ErrNotRepository},
		{"a ref that names nothing is refused", w.fork, "no-such-branch", good, ErrUnknownRef},
		{"a ref that looks like an option is refused", w.fork, "--all", good, ErrUnknownRef},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Assess(context.Background(), tt.dir, tt.ref, tt.patch)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Assess error %v, want %v", err, tt.want)
			}
		})
	}
}

func TestAssessDefaultsToHEAD(t *testing.T) {
	w := newUpstreamWorld(t)
	w.branch("checked-out")
	res, err := Assess(context.Background(), w.fork, "", w.patches["fix"])
	if err != nil {
		t.Fatal(err)
	}
	if res.Ref != "HEAD" || res.Head != w.base || res.Verdict != events.VerdictApplies {
		t.Fatalf("got %+v, want HEAD at %s, applies", res, w.base)
	}
	want := []string{"docs/notes.txt", "src/calc.go"}
	if got := slices.Sorted(slices.Values(res.Files)); !slices.Equal(got, want) {
		t.Errorf("files %q, want %q", got, want)
	}
}

func TestAssessStopsWhenCancelled(t *testing.T) {
	w := newUpstreamWorld(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Assess(ctx, w.fork, "", w.patches["fix"]); err == nil {
		t.Fatal("Assess with a cancelled context succeeded")
	}
}

func TestWriteJSON(t *testing.T) {
	tests := []struct {
		name string
		res  Result
		want string
	}{
		{
			name: "a present fix names its commit and how it was found",
			res:  Result{Verdict: events.VerdictPresent, PatchID: "p1", PresentAs: "c1", How: events.HowPatchID, Files: []string{"a.go"}, Ref: "main", Head: "h1"},
			want: `{"verdict":"present","patch_id":"p1","present_as":"c1","how":"patch-id","files":["a.go"],"ref":"main","head":"h1"}`,
		},
		{
			name: "a conflict lists hunks and the 3-way verdict",
			res:  Result{Verdict: events.VerdictConflicts, PatchID: "p1", Conflicts: []Conflict{{File: "a.go", Hunk: 2, Reason: "line 3 is \"x<y\""}}, ThreeWayClean: ptr(false), Ref: "HEAD", Head: "h1"},
			want: `{"verdict":"conflicts","patch_id":"p1","conflicts":[{"file":"a.go","hunk":2,"reason":"line 3 is \"x<y\""}],"three_way_clean":false,"files":[],"ref":"HEAD","head":"h1"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteJSON(&b, tt.res); err != nil {
				t.Fatal(err)
			}
			if got := b.String(); got != tt.want+"\n" {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
			var back Result
			if err := json.Unmarshal(b.Bytes(), &back); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func ExampleWriteJSON() {
	res := Result{
		Verdict:   events.VerdictPresent,
		PatchID:   "8c0ee1b43d5d2f1c7a3b5e2b0f9e6d4c3a2b1f00",
		PresentAs: "3b18e512dba79e4c8300dd08aeb37f8e728b8dad",
		How:       events.HowPatchID,
		Files:     []string{"src/calc.go"},
		Ref:       "main",
		Head:      "9fceb02d0ae598e95dc970b74767f19372d61af8",
	}
	_ = WriteJSON(os.Stdout, res)
	// Output:
	// {"verdict":"present","patch_id":"8c0ee1b43d5d2f1c7a3b5e2b0f9e6d4c3a2b1f00","present_as":"3b18e512dba79e4c8300dd08aeb37f8e728b8dad","how":"patch-id","files":["src/calc.go"],"ref":"main","head":"9fceb02d0ae598e95dc970b74767f19372d61af8"}
}
