package patchid

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGolden checks Write against the outputs of git patch-id stored next to
// hand-written inputs in testdata/golden, so the quirks stay covered where no
// git is installed. -update regenerates the .golden files with the installed
// git.
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "golden", "*.patch"))
	if err != nil {
		t.Fatal(err)
	}
	if len(inputs) == 0 {
		t.Fatal("no golden inputs")
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".patch")
		t.Run(strings.ReplaceAll(name, "-", " ")+" gives git's ids", func(t *testing.T) {
			input, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			goldenPath := strings.TrimSuffix(in, ".patch") + ".golden"
			if *update {
				requireGit(t)
				home := t.TempDir()
				var g bytes.Buffer
				for _, opts := range allModes {
					g.WriteString(modeFlag(opts) + "\n")
					g.Write(gitPatchID(t, home, input, opts))
				}
				if err := os.WriteFile(goldenPath, g.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(goldenPath)
			if err != nil {
				t.Fatalf("read golden file (run with -update): %v", err)
			}
			var got bytes.Buffer
			for _, opts := range allModes {
				got.WriteString(modeFlag(opts) + "\n")
				got.Write(ours(t, input, opts))
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("got:\n%s\nwant:\n%s", got.Bytes(), want)
			}
		})
	}
}

// TestLongLinesMatchGit covers lines longer than the read buffer, which take
// the streaming path, against the installed git.
func TestLongLinesMatchGit(t *testing.T) {
	requireGit(t)
	big := func(c string) string { return strings.Repeat(c, readBufferSize+1000) }
	const head = "commit 0123456789abcdef0123456789abcdef01234567\n\ndiff --git a/x b/x\n"
	const hunk = "--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n"
	tests := []struct {
		name  string
		input string
	}{
		{"a long added line is hashed without its whitespace", head + hunk + "-a\n+" + big("ab \t") + "\n c\n"},
		{"a long line with a NUL is hashed up to the NUL", head + hunk + "-a\n+" + big("x") + "\x00" + big("y") + "\n c\n"},
		{"a long line at the very end of input without newline", head + hunk + "-a\n c\n+" + big("z ")},
		{"a long index line keeps its ids", head + "index " + big("1") + ".." + big("2") + " 100644\nBinary files differ\n"},
		{"a long index line with the dots far in", head + "index " + big("a") + "..b\nBinary files differ\n"},
		{"a long hunk header with many digits", head + "--- a/x\n+++ b/x\n@@ -" + big("0") + "1,1 +1," + big("0") + "2 @@\n-a\n+b\n+c\n\ndiff --git a/y b/y\n"},
		{"a long hunk header function context", head + "--- a/x\n+++ b/x\n@@ -1 +1 @@ " + big("f") + "\n-a\n+b\n"},
		{"a long commit line with decorations", "commit 0123456789abcdef0123456789abcdef01234567 " + big("(") + "\n\ndiff --git a/x b/x\n" + hunk + "-a\n+b\n c\n"},
		{"a long message line is ignored", head[:len(head)-len("diff --git a/x b/x\n")] + "    " + big("m ") + "\n\ndiff --git a/x b/x\n" + hunk + "-a\n+b\n c\n"},
		{"a long no-newline marker line", head + hunk + "-a\n\\ " + big("n ") + "\n+b\n c\n"},
		{"a long line in a binary patch", head + "index 1..2\nGIT binary patch\n" + big("z") + "\n\ndiff --git a/y b/y\n" + hunk + "-a\n+b\n c\n"},
		{"a long line that ends the patch", head + hunk + "-a\n+b\n c\n" + big("q") + "\ndiff --git a/y b/y\n" + hunk + "-a\n+b\n c\n"},
	}
	home := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, opts := range allModes {
				want := gitPatchID(t, home, []byte(tt.input), opts)
				got := ours(t, []byte(tt.input), opts)
				if !bytes.Equal(got, want) {
					t.Errorf("patch-id %s:\ngot:\n%s\nwant:\n%s", modeFlag(opts), got, want)
				}
			}
		})
	}
}
