package minhash

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestDensifyReachesEveryBin proves that borrow's search never ends at
// maxBorrowAttempts: for every bin, the sequence of bins it tries reaches
// all K bins within that many attempts, so whichever bins are non-empty,
// the first non-empty one of the sequence is found.
func TestDensifyReachesEveryBin(t *testing.T) {
	worst := 0
	for i := range K {
		var seen [K]bool
		left := K
		attempt := uint64(1)
		for ; left > 0 && attempt <= maxBorrowAttempts; attempt++ {
			if j := borrowCandidate(i, attempt); !seen[j] {
				seen[j] = true
				left--
			}
		}
		if left > 0 {
			t.Fatalf("bin %d reaches only %d of %d bins in %d attempts", i, K-left, K, maxBorrowAttempts)
		}
		worst = max(worst, int(attempt-1))
	}
	t.Logf("every bin reaches all bins within %d attempts (bound %d)", worst, maxBorrowAttempts)
}

// TestSignOfOneShingle: a set of one shingle fills one bin, and every other
// bin borrows its value.
func TestSignOfOneShingle(t *testing.T) {
	s := Sign([]uint64{42})
	for i, v := range s {
		if v != s[0] || v == emptyValue {
			t.Fatalf("position %d holds %d, position 0 %d", i, v, s[0])
		}
	}
}

var normalizeInputs = []string{
	"", " ", "a", " a", "a ", "a  b", "a\tb", "\t\tif (x) {\r", "x\u00a0\u00a0y", "\u3000z\u2028",
	"a\xffb", "\xff \xfe", "é  è", "a \u0085 b", strings.Repeat(" x", 100),
}

// TestLineHashIsHashOfNormalize holds lineHash, which normalises as it
// hashes, to the FNV-1a of Normalize's result.
func TestLineHashIsHashOfNormalize(t *testing.T) {
	for _, s := range normalizeInputs {
		checkLineHash(t, s)
	}
}

func checkLineHash(t *testing.T, s string) {
	t.Helper()
	n := Normalize(s)
	want := mix64(fnvString((fnvStart(domainLine)^'+')*fnvPrime64, n))
	got, ok := lineHash('+', s)
	if ok != (n != "") || ok && got != want {
		t.Errorf("lineHash(%q) = %x, %v; Normalize gives %q, hash %x", s, got, ok, n, want)
	}
}

// FuzzNormalize checks that Normalize is idempotent, leaves no white space
// at the ends or doubled, and agrees with lineHash.
func FuzzNormalize(f *testing.F) {
	for _, s := range normalizeInputs {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := Normalize(s)
		if Normalize(n) != n {
			t.Errorf("Normalize(%q) = %q, not a fixed point", s, n)
		}
		if strings.HasPrefix(n, " ") || strings.HasSuffix(n, " ") || strings.Contains(n, "  ") {
			t.Errorf("Normalize(%q) = %q", s, n)
		}
		for i := 0; i < len(n); {
			r, size := utf8.DecodeRuneInString(n[i:])
			if r != ' ' && isSpace(r, size) {
				t.Errorf("Normalize(%q) = %q keeps white space %q", s, n, r)
			}
			i += size
		}
		checkLineHash(t, s)
	})
}
