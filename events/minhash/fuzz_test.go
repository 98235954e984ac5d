package minhash_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/dpihub/dpihub/events/minhash"
)

// FuzzDiffShingles feeds DiffShingles anything: it must not panic, must
// return a sorted set without duplicates (nil rather than empty), and must
// read a diff with CRLF line ends as the same diff with LF ones.
func FuzzDiffShingles(f *testing.F) {
	for _, s := range []string{
		"",
		"@@ -1 +1 @@\n-a\n+b\n",
		"@@ -1,3 +1,3 @@ f()\n a\n-b\n+B\n c\n",
		"--- a/s.sql\n+++ b/s.sql\n@@ -1,2 +1,2 @@\n--- x\n+++ y\n z\n",
		"@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+b\n\\ No newline at end of file\n",
		"@@ -0,0 +1,2 @@\n+x\n+y\n",
		"@@ -2147483647,2147483647 +1,99999999999999999999 @@\n-a\n",
		"@@@ -1,1 -1,1 +1,1 @@@\n- a\n -b\n++c\n",
		"diff --git a/c.bin b/c.bin\nGIT binary patch\nliteral 5\nMcmZ?b4-w=H0B@NuVE_OC\n\n",
		"@@ -1,2 +1,2 @@\n-\xff\xfe\n+\u00a0x\u3000\n\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, diff string) {
		got := minhash.DiffShingles(diff)
		if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
			t.Fatalf("not a sorted set: %v", got)
		}
		if got != nil && len(got) == 0 {
			t.Fatal("an empty non-nil result")
		}
		if !strings.Contains(diff, "\r") {
			crlf := strings.ReplaceAll(diff, "\n", "\r\n")
			if again := minhash.DiffShingles(crlf); !slices.Equal(again, got) {
				t.Fatalf("with CRLF line ends: %v, with LF: %v", again, got)
			}
		}
	})
}
