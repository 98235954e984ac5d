package patchid

import (
	"bytes"
	"testing"
)

// FuzzScanMatchesGit feeds arbitrary text to Write and to `git patch-id` and
// wants the same output. mode picks the algorithm: 0 unstable, 1 stable,
// 2 verbatim. Seeds under testdata/fuzz/FuzzScanMatchesGit come from the
// histories of TestWriteMatchesGit (regenerate with -update).
func FuzzScanMatchesGit(f *testing.F) {
	requireGit(f)
	for _, s := range []string{
		"",
		"diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n",
		"commit 0123456789abcdef0123456789abcdef01234567\n\n    msg\n\ndiff --git a/x b/x\nindex 1..2 100644\n--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n-a\n+b\n c\n\\ No newline at end of file\n",
		"diff --git a/x b/x\nBinary files a/x and b/x differ\ndiff --git a/y b/y\n--- a/y\n+++ b/y\n@@ -1 +1 @@\n-a\n+b\n",
		"diff --cc x\nindex 1,2..3\n--- a/x\n+++ b/x\n@@@ -1,1 -1,1 +1,1 @@@\n- a\n +b\n++c\n",
		"diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,-1 +1, 2 @@\n-a\n+b\n",
	} {
		f.Add([]byte(s), uint8(1))
	}
	home := f.TempDir()
	f.Fuzz(func(t *testing.T, input []byte, mode uint8) {
		opts := allModes[int(mode)%len(allModes)]
		want := gitPatchID(t, home, input, opts)
		got := ours(t, input, opts)
		if !bytes.Equal(got, want) {
			t.Fatalf("patch-id %s differs\ngot:\n%s\nwant:\n%s\ninput: %q", modeFlag(opts), got, want, input)
		}
	})
}
