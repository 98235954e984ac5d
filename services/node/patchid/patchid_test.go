package patchid

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

const simpleDiff = "diff --git a/x b/x\nindex 1234567..89abcde 100644\n--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n-old\n+new\n same\n"

func TestOf(t *testing.T) {
	// Ids from `git patch-id --stable` on the same inputs.
	tests := []struct {
		name   string
		diff   string
		wantID string
		wantOK bool
	}{
		{"a bare diff has an id", simpleDiff, "944c0d3dd22898ee5946d75393dd5fc076b1afd1", true},
		{"a diff under a log header has the same id", "commit 0123456789abcdef0123456789abcdef01234567\nAuthor: A <a@example.com>\n\n    subject\n\n" + simpleDiff, "944c0d3dd22898ee5946d75393dd5fc076b1afd1", true},
		{"whitespace changes do not change the id", strings.ReplaceAll(simpleDiff, "+new", "+  n e w\t"), "944c0d3dd22898ee5946d75393dd5fc076b1afd1", true},
		{"a commit without a diff has no id", "commit 0123456789abcdef0123456789abcdef01234567\nMerge: 1 2\n\n    merge\n", "", false},
		{"empty input has no id", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, ok, err := Of([]byte(tt.diff))
			if err != nil {
				t.Fatal(err)
			}
			if id != tt.wantID || ok != tt.wantOK {
				t.Errorf("Of() = %q, %v; want %q, %v", id, ok, tt.wantID, tt.wantOK)
			}
		})
	}
}

func TestOfMatchesGit(t *testing.T) {
	requireGit(t)
	want := gitPatchID(t, t.TempDir(), []byte(simpleDiff), Options{Stable: true})
	id, ok, err := Of([]byte(simpleDiff))
	if err != nil || !ok {
		t.Fatalf("Of() = %q, %v, %v", id, ok, err)
	}
	if got := id + " " + strings.Repeat("0", 40) + "\n"; got != string(want) {
		t.Errorf("Of() line %q, git printed %q", got, want)
	}
}

func TestScan(t *testing.T) {
	twoCommits := "commit 1111111111111111111111111111111111111111\n\n" + simpleDiff + "\ncommit 2222222222222222222222222222222222222222\n\n" + strings.ReplaceAll(simpleDiff, "new", "newer")
	t.Run("results come in input order with their commit ids", func(t *testing.T) {
		var got []Result
		err := Scan(strings.NewReader(twoCommits), Options{Stable: true}, func(r Result) error {
			got = append(got, r)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].CommitID != strings.Repeat("1", 40) || got[1].CommitID != strings.Repeat("2", 40) {
			t.Fatalf("got %+v", got)
		}
	})
	t.Run("an error from the callback stops the scan and is returned as is", func(t *testing.T) {
		stop := errors.New("stop here")
		calls := 0
		err := Scan(strings.NewReader(twoCommits), Options{}, func(Result) error {
			calls++
			return stop
		})
		if err != stop || calls != 1 {
			t.Fatalf("err = %v after %d calls; want %v after 1", err, calls, stop)
		}
	})
	t.Run("a read error is returned wrapped", func(t *testing.T) {
		boom := errors.New("disk on fire")
		r := io.MultiReader(strings.NewReader(simpleDiff), iotest.ErrReader(boom))
		err := Scan(r, Options{}, func(Result) error { return nil })
		if !errors.Is(err, boom) || !strings.Contains(err.Error(), "patchid") {
			t.Fatalf("err = %v; want it to wrap %v", err, boom)
		}
	})
	t.Run("input read one byte at a time gives the same ids", func(t *testing.T) {
		want := ours(t, []byte(twoCommits), Options{Stable: true})
		var got bytes.Buffer
		if err := Write(&got, iotest.OneByteReader(strings.NewReader(twoCommits)), Options{Stable: true}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("got %q want %q", got.Bytes(), want)
		}
	})
}

// TestScanMemoryStaysFlat feeds a 24 MiB stream and checks that the bytes
// allocated do not grow with it.
func TestScanMemoryStaysFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("large input")
	}
	commit := []byte("commit 0123456789abcdef0123456789abcdef01234567\n\n    msg\n\n" + simpleDiff + "\n")
	allocs := func(size int) float64 {
		return testing.AllocsPerRun(1, func() {
			r := &repeatReader{unit: commit, left: size}
			if err := Write(io.Discard, r, Options{Stable: true}); err != nil {
				t.Fatal(err)
			}
		})
	}
	small, large := allocs(1<<20), allocs(24<<20)
	if large > small+2 {
		t.Errorf("allocations grow with input: %v for 1 MiB, %v for 24 MiB", small, large)
	}
}

// repeatReader yields unit again and again until left bytes were read.
type repeatReader struct {
	unit []byte
	off  int
	left int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && r.left > 0 {
		c := copy(p[n:min(len(p), n+r.left)], r.unit[r.off:])
		n += c
		r.left -= c
		r.off = (r.off + c) % len(r.unit)
	}
	return n, nil
}

// TestMatchesGitOnLogFile compares Write with git on a large log file named
// by DPIHUB_PATCHID_LOG (for example `git log -p --all` of a real
// repository), in both modes, and logs the timings. It is skipped otherwise.
func TestMatchesGitOnLogFile(t *testing.T) {
	path := os.Getenv("DPIHUB_PATCHID_LOG")
	if path == "" {
		t.Skip("DPIHUB_PATCHID_LOG not set")
	}
	requireGit(t)
	home := t.TempDir()
	for _, opts := range []Options{{Stable: true}, {}} {
		t.Run("patch-id "+modeFlag(opts)+" matches git", func(t *testing.T) {
			input, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			want := gitPatchID(t, home, input, opts)
			gitTime := time.Since(start)
			start = time.Now()
			got := ours(t, input, opts)
			ourTime := time.Since(start)
			if !bytes.Equal(got, want) {
				t.Fatalf("outputs differ: ours %d bytes, git %d bytes", len(got), len(want))
			}
			mb := float64(len(input)) / 1e6
			t.Logf("%s: %d bytes, %d ids; ours %v (%.0f MB/s), git %v (%.0f MB/s)", modeFlag(opts), len(input),
				bytes.Count(want, []byte("\n")), ourTime, mb/ourTime.Seconds(), gitTime, mb/gitTime.Seconds())
		})
	}
}

func ExampleOf() {
	diff := []byte("diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old\n+new\n")
	id, ok, err := Of(diff)
	fmt.Println(id, ok, err)
	// Output: 51f81a60872c18a0add9bed7219e697b7e8adf5e true <nil>
}

func ExampleWrite() {
	log := "commit 0123456789abcdef0123456789abcdef01234567\nAuthor: A U Thor <author@example.com>\n\n    change x\n\n" +
		"diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old\n+new\n"
	if err := Write(os.Stdout, strings.NewReader(log), Options{Stable: true}); err != nil {
		fmt.Println(err)
	}
	// Output: 51f81a60872c18a0add9bed7219e697b7e8adf5e 0123456789abcdef0123456789abcdef01234567
}
