package patchid

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files and fuzz seeds from the installed git")

// lines returns n numbered lines of text, each ending in eol.
func lines(prefix string, n int, eol string) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "%s line %d of some text%s", prefix, i, eol)
	}
	return b.String()
}

// replaceLine swaps line i (1-based) of text for repl.
func replaceLine(text string, i int, repl string) string {
	ls := strings.SplitAfter(text, "\n")
	ls[i-1] = repl
	return strings.Join(ls, "")
}

// scenario is one small history and the git commands whose output is fed to
// both git patch-id and Write.
type scenario struct {
	name    string
	build   func(r *repo)
	outputs [][]string
}

var logP = []string{"log", "-p"}

var scenarios = []scenario{
	{
		name: "modifications additions and deletions",
		build: func(r *repo) {
			r.write("a.txt", lines("a", 30, "\n"))
			r.write("b.txt", lines("b", 10, "\n"))
			r.commit("add a and b")
			r.write("a.txt", replaceLine(replaceLine(lines("a", 30, "\n"), 3, "changed\n"), 25, "also changed\n"))
			r.write("c.txt", lines("c", 5, "\n"))
			r.commit("modify a, add c")
			r.git("rm", "-q", "b.txt")
			r.commit("delete b")
		},
		outputs: [][]string{logP, {"log", "-p", "--reverse"}, {"log", "-p", "-U0"}, {"log", "-p", "--stat"}, {"format-patch", "--stdout", "--root"}},
	},
	{
		name: "renames with and without changes",
		build: func(r *repo) {
			r.write("old.txt", lines("o", 40, "\n"))
			r.write("keep.txt", lines("k", 40, "\n"))
			r.write("z.txt", lines("z", 3, "\n"))
			r.commit("base")
			r.git("mv", "old.txt", "new.txt")
			r.commit("pure rename")
			r.git("mv", "keep.txt", "kept.txt")
			r.write("kept.txt", replaceLine(lines("k", 40, "\n"), 20, "edited\n"))
			r.commit("rename with edit")
			r.git("mv", "new.txt", "a-first.txt")
			r.write("z.txt", lines("z", 4, "\n"))
			r.commit("pure rename before a modified file")
		},
		outputs: [][]string{logP, {"log", "-p", "--no-renames"}, {"format-patch", "--stdout", "--root"}},
	},
	{
		name: "copies found with -C",
		build: func(r *repo) {
			r.write("src.txt", lines("s", 40, "\n"))
			r.commit("base")
			r.write("copy.txt", lines("s", 40, "\n"))
			r.write("copy2.txt", replaceLine(lines("s", 40, "\n"), 10, "x\n"))
			r.write("src.txt", replaceLine(lines("s", 40, "\n"), 1, "first\n"))
			r.commit("copy")
		},
		outputs: [][]string{{"log", "-p", "-C"}, {"log", "-p", "-C", "-C"}, {"log", "-p", "--find-copies-harder"}},
	},
	{
		name: "binary files",
		build: func(r *repo) {
			r.write("bin.dat", "\x00\x01\x02binary\x00"+lines("b", 20, "\n"))
			r.write("text.txt", lines("t", 5, "\n"))
			r.commit("add binary")
			r.write("bin.dat", "\x00\x01\x03binary\x00"+lines("b", 20, "\n"))
			r.write("text.txt", lines("t", 6, "\n"))
			r.write("zz.txt", "after the binary\n")
			r.commit("modify binary and text")
			r.git("rm", "-q", "bin.dat")
			r.commit("remove binary")
		},
		outputs: [][]string{logP, {"log", "-p", "--binary"}, {"log", "-p", "--full-index"}, {"format-patch", "--stdout", "--root"}, {"format-patch", "--stdout", "--root", "--no-binary"}},
	},
	{
		name: "mode-only changes",
		build: func(r *repo) {
			r.write("script.sh", "#!/bin/sh\necho hi\n")
			r.write("other.txt", "x\n")
			r.commit("add script")
			r.git("update-index", "--chmod=+x", "script.sh")
			r.git("commit", "-q", "-m", "make executable")
			r.git("update-index", "--chmod=-x", "script.sh")
			r.write("other.txt", "y\n")
			r.git("add", "other.txt")
			r.git("commit", "-q", "-m", "mode and content")
		},
		outputs: [][]string{logP, {"format-patch", "--stdout", "--root"}},
	},
	{
		name: "CRLF content and whitespace-only differences",
		build: func(r *repo) {
			r.write("dos.txt", lines("d", 10, "\r\n"))
			r.write("ws.txt", "a b c\n\tindented\nend\n")
			r.commit("dos file")
			r.write("dos.txt", replaceLine(lines("d", 10, "\r\n"), 4, "changed\r\n"))
			r.commit("change dos line")
			r.write("ws.txt", "a  b\tc \n    indented\nend\r\n")
			r.commit("whitespace only")
			r.write("dos.txt", lines("d", 10, "\n"))
			r.commit("to unix line endings")
		},
		outputs: [][]string{logP, {"log", "-p", "-w"}, {"format-patch", "--stdout", "--root"}},
	},
	{
		name: "no newline at end of file",
		build: func(r *repo) {
			r.write("n.txt", "one\ntwo")
			r.commit("no newline")
			r.write("n.txt", "one\ntwo\nthree")
			r.commit("still no newline")
			r.write("n.txt", "one\ntwo\nthree\n")
			r.commit("newline added")
		},
		outputs: [][]string{logP, {"format-patch", "--stdout", "--root"}},
	},
	{
		name: "non-ASCII and space-containing paths",
		build: func(r *repo) {
			r.write("dir with space/file name.txt", lines("s", 5, "\n"))
			r.write("héllo/wörld.txt", lines("u", 5, "\n"))
			r.write("tab\tname.txt", "tab\n")
			r.write("quote\"name.txt", "quote\n")
			r.commit("odd paths ünïcödé message")
			r.write("dir with space/file name.txt", lines("s", 6, "\n"))
			r.git("mv", "héllo/wörld.txt", "héllo/wörld renamed.txt")
			r.commit("edit and rename odd paths")
		},
		outputs: [][]string{logP, {"-c", "core.quotePath=false", "log", "-p"}, {"format-patch", "--stdout", "--root"}},
	},
	{
		name: "empty commits",
		build: func(r *repo) {
			r.write("f.txt", "f\n")
			r.commit("first")
			r.git("commit", "-q", "--allow-empty", "-m", "empty one")
			r.git("commit", "-q", "--allow-empty", "-m", "empty two")
			r.write("f.txt", "g\n")
			r.commit("second")
		},
		outputs: [][]string{logP, {"format-patch", "--stdout", "--root", "--always"}},
	},
	{
		name: "merge commits",
		build: func(r *repo) {
			base := lines("m", 12, "\n")
			r.write("m.txt", base)
			r.write("other.txt", "o\n")
			r.commit("base")
			r.git("checkout", "-q", "-b", "side")
			r.write("m.txt", replaceLine(base, 2, "side two\n"))
			r.write("side.txt", "side\n")
			r.commit("side change")
			r.git("checkout", "-q", "main")
			r.write("m.txt", replaceLine(replaceLine(base, 2, "main two\n"), 11, "main eleven\n"))
			r.commit("main change")
			cmd := exec.Command("git", "merge", "-q", "--no-edit", "side")
			cmd.Dir, cmd.Env = r.dir, gitEnv(r.home)
			_ = cmd.Run() // conflicts on purpose
			r.write("m.txt", replaceLine(replaceLine(base, 2, "resolved two\n"), 11, "main eleven\n"))
			r.write("evil.txt", "evil merge addition\n")
			r.git("add", "-A")
			r.git("commit", "-q", "--no-edit")
			r.git("checkout", "-q", "-b", "clean", "HEAD~1")
			r.write("clean.txt", "clean\n")
			r.commit("clean side")
			r.git("checkout", "-q", "main")
			r.git("merge", "-q", "--no-edit", "clean")
		},
		outputs: [][]string{logP, {"log", "-p", "-m"}, {"log", "-p", "--cc"}, {"log", "-p", "-c"}, {"log", "-p", "-m", "--first-parent"}, {"log", "-p", "--diff-merges=remerge"}},
	},
	{
		name: "hunk lines that look like headers",
		build: func(r *repo) {
			r.write("tricky.txt", "-- a\n--- b\n++ c\n+++ d\ndiff --git x y\nindex 1..2\n@@ -1 +1 @@\ncommit 0123456789abcdef0123456789abcdef01234567\nFrom 0123456789abcdef0123456789abcdef01234567 x\n0123456789abcdef0123456789abcdef01234567\n\\ No newline\nBinary files x and y differ\nend\n")
			r.commit("tricky")
			r.write("tricky.txt", "-- a changed\n++ c\ndiff --git x z\n@@ -1 +1 @@\nend\n")
			r.commit("remove lines that look like headers")
			r.write("after.txt", "x\n")
			r.commit("after")
		},
		outputs: [][]string{logP, {"log", "-p", "-U0"}, {"format-patch", "--stdout", "--root"}},
	},
	{
		name: "commit messages that look like diffs or commit ids",
		build: func(r *repo) {
			r.write("f.txt", "f\n")
			r.commit("subject\n\ndiff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-x\n+y\n\n0123456789abcdef0123456789abcdef01234567 starts a line\nFrom 0123456789abcdef0123456789abcdef01234567 Mon Sep 17 00:00:00 2001\n")
			r.write("f.txt", "g\n")
			r.commit("second\n\nThis is a body.\n-- \nnot a signature\n")
		},
		outputs: [][]string{logP, {"format-patch", "--stdout", "--root"}, {"log", "-p", "--format=%H%n%B"}},
	},
	{
		name: "many files in one commit in any order",
		build: func(r *repo) {
			for i := 0; i < 6; i++ {
				r.write(fmt.Sprintf("f%d.txt", i), lines(fmt.Sprint(i), 8, "\n"))
			}
			r.commit("six files")
			for i := 0; i < 6; i++ {
				r.write(fmt.Sprintf("f%d.txt", i), replaceLine(lines(fmt.Sprint(i), 8, "\n"), i+1, "new\n"))
			}
			r.commit("touch all")
		},
		outputs: [][]string{logP, {"log", "-p", "-O", "/dev/null", "-R"}, {"log", "-p", "--function-context"}},
	},
}

// TestWriteMatchesGit builds small histories, feeds the same git output to
// `git patch-id` and to Write in every mode, and wants identical bytes.
// With -update it also refreshes the fuzz seed corpus from those outputs.
func TestWriteMatchesGit(t *testing.T) {
	requireGit(t)
	var all []byte
	home := t.TempDir()
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			r := newRepo(t)
			sc.build(r)
			for _, args := range sc.outputs {
				input := r.git(args...)
				all = append(all, input...)
				if n := compareWithGit(t, home, strings.Join(args, " "), input); n == 0 {
					t.Errorf("git %s: git patch-id printed nothing; the scenario tests nothing", strings.Join(args, " "))
				}
				if *update {
					writeSeed(t, sc.name+" "+strings.Join(args, " "), input)
				}
			}
		})
	}
	t.Run("format-patch files concatenated and all outputs in a row", func(t *testing.T) {
		compareWithGit(t, home, "everything", all)
	})
}

// TestFormatPatchFilesConcatenated writes format-patch output to files, as a
// mail series would be, and feeds them to both implementations in a row.
func TestFormatPatchFilesConcatenated(t *testing.T) {
	r := newRepo(t)
	scenarios[0].build(r)
	outDir := t.TempDir()
	r.git("format-patch", "-q", "--root", "--cover-letter", "-o", outDir)
	files, err := filepath.Glob(filepath.Join(outDir, "*.patch"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 4 {
		t.Fatalf("format-patch wrote %d files, want 4", len(files))
	}
	var input []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		input = append(input, b...)
	}
	compareWithGit(t, t.TempDir(), "format-patch files", input)
}

// compareWithGit checks Write against git patch-id in every mode and returns
// how many ids git printed in stable mode.
func compareWithGit(t *testing.T, home, what string, input []byte) (ids int) {
	t.Helper()
	for _, opts := range allModes {
		want := gitPatchID(t, home, input, opts)
		if opts.Stable && !opts.Verbatim {
			ids = bytes.Count(want, []byte("\n"))
		}
		got := ours(t, input, opts)
		if !bytes.Equal(got, want) {
			t.Errorf("%s, patch-id %s:\ngot:\n%s\nwant:\n%s\ninput:\n%s", what, modeFlag(opts), got, want, input)
		}
	}
	return ids
}

// writeSeed stores input as a seed for FuzzScanMatchesGit if it is small.
func writeSeed(t *testing.T, name string, input []byte) {
	t.Helper()
	if len(input) > 8<<10 {
		return
	}
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(name))
	dir := filepath.Join("testdata", "fuzz", "FuzzScanMatchesGit")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nuint8(1)\n", input)
	if err := os.WriteFile(filepath.Join(dir, "seed-"+clean), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}
