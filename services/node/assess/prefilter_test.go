package assess

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dpihub/dpihub/events"
)

// TestPatchIDPrefilter holds the search by patch-id, which lists the fork's
// commits by the paths they change before diffing any, against git's own
// `git log -p | git patch-id --stable` on the edge cases of that prefilter:
// a commit that changes the fix's files and one more (not a candidate, so
// never diffed), renames, binary files, mode-only changes, a fix whose files
// come in another order than git diffs them, a commit that matches on a
// small file but not on a big one (narrowByFile), and commits with another
// set of paths that do have the fix's patch-id because git's patch-id does
// not hash the path of a file that follows a binary one.
func TestPatchIDPrefilter(t *testing.T) {
	g := newTestGit(t)
	dir := filepath.Join(t.TempDir(), "repo")
	g.run(filepath.Dir(dir), "init", "-q", dir)
	text := func(tag string, n int) string {
		return lines(n, func(i int) string { return tag + " line " + strings.Repeat("x", i%7) + string(rune('a'+i%26)) })
	}
	base := g.commit(dir, "Base", map[string]string{
		"src/a.txt":  text("a", 60),
		"src/b.txt":  text("b", 60),
		"docs/c.txt": text("c", 40),
		"big.txt":    text("big", 5000),
		"a.bin":      "PNG\x00\x01\x02 first",
		"b.bin":      "PNG\x00\x03\x04 second",
		"t.sh":       "#!/bin/sh\necho t\n",
		"u.sh":       "#!/bin/sh\necho u\n",
		"README":     "readme\n",
	})
	chmod := func(path string) {
		if err := os.Chmod(filepath.Join(dir, path), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// commitOn checks out branch (made at base if new), applies change and
	// commits.
	commitOn := func(branch, msg string, change func()) string {
		if _, _, code := g.exec(dir, nil, nil, "rev-parse", "--verify", "-q", "refs/heads/"+branch); code != 0 {
			g.run(dir, "checkout", "-q", "-b", branch, base)
		} else {
			g.run(dir, "checkout", "-q", branch)
		}
		change()
		g.run(dir, "add", "-A")
		g.run(dir, "commit", "-q", "--allow-empty", "-m", msg)
		return g.run(dir, "rev-parse", "HEAD")
	}
	write := func(files map[string]string) func() {
		return func() { g.write(dir, files) }
	}
	pick := func(branch, c string) string {
		g.run(dir, "checkout", "-q", branch)
		g.run(dir, "cherry-pick", "--allow-empty", c)
		return g.run(dir, "rev-parse", "HEAD")
	}
	order := filepath.Join(t.TempDir(), "order.txt")
	if err := os.WriteFile(order, []byte("src/*\nbig.txt\ndocs/*\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a10 := edit(text("a", 60), 10, "a line ten, fixed")
	c5 := edit(text("c", 40), 5, "c line five, fixed")

	type tcase struct {
		name string
		ref  string        // the fork branch
		fix  func() string // makes the fix commit, returns it
		// fork makes the fork branch ref and returns the commits that
		// must not be candidates.
		fork     func(fix string) []string
		patchArg []string // extra format-patch arguments
		logArg   string   // rename or copy detection of the reference git log
		want     bool     // present by patch-id
		narrowed int      // candidates left by narrowByFile, when not 0
	}
	cases := []tcase{{
		name: "superset",
		ref:  "fork-superset",
		fix: func() string {
			return commitOn("up-superset", "Fix a and c", write(map[string]string{"src/a.txt": a10, "docs/c.txt": c5}))
		},
		fork: func(string) []string {
			// The same change to the same files, and one more file.
			more := commitOn("fork-superset", "Fix a and c, and b", write(map[string]string{"src/a.txt": a10, "docs/c.txt": c5, "src/b.txt": edit(text("b", 60), 3, "b")}))
			return []string{more}
		},
		logArg: "--no-renames",
	}, {
		name: "rename",
		ref:  "fork-rename",
		fix: func() string {
			return commitOn("up-rename", "Move b and c", func() {
				g.run(dir, "mv", "src/b.txt", "src/b2.txt")
				g.run(dir, "mv", "docs/c.txt", "docs/c2.txt")
				g.write(dir, map[string]string{"src/b2.txt": edit(text("b", 60), 30, "b line thirty, moved")})
			})
		},
		fork: func(fix string) []string {
			commitOn("fork-rename", "Local readme", write(map[string]string{"README": "fork readme\n"}))
			pick("fork-rename", fix)
			// The same renames without the change: the same paths,
			// another patch-id.
			commitOn("fork-rename", "Undo", func() {
				g.run(dir, "mv", "src/b2.txt", "src/b.txt")
				g.run(dir, "mv", "docs/c2.txt", "docs/c.txt")
				g.write(dir, map[string]string{"src/b.txt": text("b", 60)})
			})
			commitOn("fork-rename", "Move b and c again", func() {
				g.run(dir, "mv", "src/b.txt", "src/b2.txt")
				g.run(dir, "mv", "docs/c.txt", "docs/c2.txt")
			})
			return nil
		},
		logArg: "-M",
		want:   true,
	}, {
		name: "binary",
		ref:  "fork-binary",
		fix: func() string {
			return commitOn("up-binary", "New logo", write(map[string]string{"a.bin": "PNG\x00\x01\x02 new", "src/a.txt": a10}))
		},
		fork: func(fix string) []string {
			commitOn("fork-binary", "Local readme", write(map[string]string{"README": "fork readme\n"}))
			pick("fork-binary", fix)
			more := commitOn("fork-binary", "New logo and more", write(map[string]string{"a.bin": "PNG\x00\x01\x02 newer", "src/a.txt": text("a", 60), "docs/c.txt": c5}))
			return []string{more}
		},
		logArg: "--no-renames",
		want:   true,
	}, {
		// git's patch-id does not hash the "diff --git" line of the file
		// after a binary one: these commits change other paths, yet have
		// the fix's patch-id, and the prefilter must keep them.
		name: "binary swallows the next path",
		ref:  "fork-binary-swallows",
		fix: func() string {
			return commitOn("up-binary-swallows", "Logo and mode", func() {
				g.write(dir, map[string]string{"a.bin": "PNG\x00\x01\x02 swallow", "b.bin": "PNG\x00 other"})
				chmod("t.sh")
			})
		},
		fork: func(string) []string {
			commitOn("fork-binary-swallows", "Logo, mode of u", func() {
				g.write(dir, map[string]string{"a.bin": "PNG\x00\x01\x02 swallow", "b.bin": "PNG\x00 other"})
				chmod("u.sh")
			})
			return nil
		},
		logArg: "--no-renames",
		want:   true,
	}, {
		name: "mode only",
		ref:  "fork-mode",
		fix: func() string {
			return commitOn("up-mode", "Make t executable", func() { chmod("t.sh") })
		},
		fork: func(fix string) []string {
			more := commitOn("fork-mode", "Make t executable, fix a", func() {
				chmod("t.sh")
				g.write(dir, map[string]string{"src/a.txt": a10})
			})
			g.run(dir, "checkout", "-q", "fork-mode")
			g.run(dir, "revert", "--no-edit", more)
			pick("fork-mode", fix)
			commitOn("fork-mode", "Later", write(map[string]string{"README": "later\n"}))
			return []string{more}
		},
		logArg: "--no-renames",
		want:   true,
	}, {
		// format-patch -O puts the files in another order than git log
		// diffs them; the stable patch-id does not change, nor may the
		// prefilter. Four commits change the same three files, so the
		// search narrows them on one file first: one has the fix's
		// change to the two small files but not to the big one.
		name: "another file order",
		ref:  "fork-order",
		fix: func() string {
			return commitOn("up-order", "Fix a, c and big", write(map[string]string{"src/a.txt": a10, "docs/c.txt": c5, "big.txt": edit(text("big", 5000), 4000, "big fixed")}))
		},
		fork: func(fix string) []string {
			commitOn("fork-order", "Same files 1", write(map[string]string{"src/a.txt": edit(text("a", 60), 11, "x"), "docs/c.txt": edit(text("c", 40), 6, "y"), "big.txt": edit(text("big", 5000), 4001, "z")}))
			commitOn("fork-order", "Undo 1", write(map[string]string{"src/a.txt": text("a", 60), "docs/c.txt": text("c", 40), "big.txt": text("big", 5000)}))
			pick("fork-order", fix)
			commitOn("fork-order", "Undo 2", write(map[string]string{"src/a.txt": text("a", 60), "docs/c.txt": text("c", 40), "big.txt": text("big", 5000)}))
			commitOn("fork-order", "Small ones only", write(map[string]string{"src/a.txt": a10, "docs/c.txt": c5, "big.txt": edit(text("big", 5000), 4000, "big fixed otherwise")}))
			return nil
		},
		patchArg: []string{"-O" + order},
		logArg:   "--no-renames",
		want:     true,
		narrowed: 2,
	}}

	ctx := context.Background()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fixCommit := tc.fix()
			args := append([]string{"format-patch", "-1", "--stdout"}, tc.patchArg...)
			patch := []byte(g.run(dir, append(args, fixCommit)...) + "\n")
			notCandidates := tc.fork(fixCommit)
			ref := tc.ref

			// git's answer: the newest commit of the fork whose
			// `git patch-id --stable` is the fix's.
			idOut, _, _ := g.exec(dir, patch, nil, "patch-id", "--stable")
			fixID, _, _ := strings.Cut(idOut, " ")
			log := g.run(dir, "log", "-p", "--binary", "--no-merges", "--format=commit %H", tc.logArg, ref)
			ids, _, _ := g.exec(dir, []byte(log+"\n"), nil, "patch-id", "--stable")
			wantAs := ""
			for _, line := range strings.Split(ids, "\n") {
				if id, c, ok := strings.Cut(line, " "); ok && id == fixID {
					wantAs = c
					break
				}
			}
			if (wantAs != "") != tc.want {
				t.Fatalf("git finds the fix's patch-id %s at %q in %s; the case expects present %v", fixID, wantAs, ref, tc.want)
			}

			res, err := Assess(ctx, dir, ref, patch)
			if err != nil {
				t.Fatal(err)
			}
			gotAs := ""
			if res.How == events.HowPatchID {
				gotAs = res.PresentAs
			}
			if gotAs != wantAs {
				t.Errorf("present by patch-id as %q (verdict %s/%s), git patch-id finds %q", gotAs, res.Verdict, res.How, wantAs)
			}

			fx, err := parsePatch(patch)
			if err != nil {
				t.Fatal(err)
			}
			r, err := openRepo(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			defer r.close()
			head := g.run(dir, "rev-parse", ref)
			cands, _, err := r.patchIDCandidates(ctx, fx, head, "")
			if err != nil {
				t.Fatal(err)
			}
			if wantAs != "" && !slices.Contains(cands, wantAs) {
				t.Errorf("candidates %q lack the match %s", cands, wantAs)
			}
			for _, c := range notCandidates {
				if slices.Contains(cands, c) {
					t.Errorf("%s changes other paths than the fix, yet is a candidate (would be diffed)", c)
				}
			}
			if tc.narrowed != 0 {
				cands, newest, err := r.patchIDCandidates(ctx, fx, head, "")
				if err != nil {
					t.Fatal(err)
				}
				narrowed, err := r.narrowByFile(ctx, fx, cands, newest)
				if err != nil {
					t.Fatal(err)
				}
				if len(narrowed) != tc.narrowed || !slices.Contains(narrowed, wantAs) {
					t.Errorf("narrowed %d candidates to %q, want %d with %s", len(cands), narrowed, tc.narrowed, wantAs)
				}
			}
		})
	}
}

// TestScanRawLog parses `git log --raw -z` output with renames, copies and
// paths that hold newlines, colons and spaces.
func TestScanRawLog(t *testing.T) {
	c1 := strings.Repeat("1", 40)
	c2 := strings.Repeat("2", 40)
	o1, o2 := strings.Repeat("a", 40), strings.Repeat("b", 40)
	in := c1 + "\x00\n" +
		":100644 100644 " + o1 + " " + o2 + " M\x00\nodd:path\x00" +
		":100644 100644 " + o1 + " " + o2 + " R087\x00old name\x00:new\x00" +
		c2 + "\x00\n" +
		":000000 100644 " + strings.Repeat("0", 40) + " " + o2 + " A\x00x\x00"
	type got struct {
		id    string
		paths []string
	}
	var all []got
	err := scanRawLog(strings.NewReader(in), func(c *rawCommit) {
		g := got{id: c.id}
		for _, e := range c.entries {
			g.paths = append(g.paths, e.paths...)
		}
		all = append(all, g)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []got{{c1, []string{"\nodd:path", "old name", ":new"}}, {c2, []string{"x"}}}
	if len(all) != len(want) {
		t.Fatalf("got %q, want %q", all, want)
	}
	for i := range want {
		if all[i].id != want[i].id || !slices.Equal(all[i].paths, want[i].paths) {
			t.Errorf("commit %d: got %q, want %q", i, all[i], want[i])
		}
	}
	if err := scanRawLog(strings.NewReader(c1+"\x00\n:100644 100644 "+o1+" "+o2+" M\x00"), func(*rawCommit) {}); err == nil {
		t.Error("no error for output that ends inside an entry")
	}
}
