package minhash_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dpihub/dpihub/events/minhash"
)

func TestNormalize(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"a normal line stays as it is", "if (x) {", "if (x) {"},
		{"indentation goes", "\t\t  return x;", "return x;"},
		{"trailing blanks go", "return x;  \t", "return x;"},
		{"a CRLF line end goes", "return x;\r", "return x;"},
		{"runs of blanks inside become one space", "a \t\t b   c", "a b c"},
		{"vertical tab and form feed are blanks", "a\v\fb", "a b"},
		{"no-break and ideographic spaces are blanks", "a\u00a0b\u3000c", "a b c"},
		{"case counts", "Return X;", "Return X;"},
		{"a blank line becomes empty", " \t\r", ""},
		{"the empty line stays empty", "", ""},
		{"non-ASCII letters are kept", "  nom = \"Ñandú\";", "nom = \"Ñandú\";"},
		{"invalid UTF-8 is kept byte for byte", "a\xff  \xfeb", "a\xff \xfeb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := minhash.Normalize(tc.in); got != tc.want {
				t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// shingles returns LineShingles of hunks, each a hunk's changed lines.
func shingles(hunks ...[]string) []uint64 {
	var lines []string
	for _, h := range hunks {
		lines = append(append(lines, ""), h...)
	}
	return minhash.LineShingles(lines)
}

func TestLineShingles(t *testing.T) {
	h1 := []string{"-\tif (x) {", "+\tif (x != nil) {", "+\t\tlog(x)"}
	h2 := []string{"-return 1;", "+return 2;"}
	base := shingles(h1, h2)

	same := []struct {
		name string
		got  []uint64
	}{
		{"hunks in the other order", shingles(h2, h1)},
		{"re-indented lines and trailing blanks", shingles(
			[]string{"-    if (x) {  ", "+  if (x != nil) {", "+        log(x)\t"}, h2)},
		{"CRLF line ends", shingles(
			[]string{"-\tif (x) {\r", "+\tif (x != nil) {\r", "+\t\tlog(x)\r"}, h2)},
		{"context lines between changed lines", shingles(
			[]string{" // context", "-\tif (x) {", " ", "+\tif (x != nil) {", "\\ No newline at end of file", "+\t\tlog(x)"}, h2)},
		{"blank lines added among them", shingles(
			[]string{"-\tif (x) {", "+", "+\t", "+\tif (x != nil) {", "+\t\tlog(x)"}, h2)},
		{"a hunk given twice", shingles(h1, h2, h1)},
	}
	for _, tc := range same {
		t.Run(tc.name+" give the same shingles", func(t *testing.T) {
			if !slices.Equal(tc.got, base) {
				t.Errorf("got %d shingles %v, want the %d of the base %v", len(tc.got), tc.got, len(base), base)
			}
		})
	}

	differ := []struct {
		name string
		got  []uint64
	}{
		{"a different line", shingles([]string{"-\tif (x) {", "+\tif (y != nil) {", "+\t\tlog(x)"}, h2)},
		{"an added line instead of a removed one", shingles([]string{"+\tif (x) {", "+\tif (x != nil) {", "+\t\tlog(x)"}, h2)},
		{"two lines in the other order", shingles([]string{"-\tif (x) {", "+\t\tlog(x)", "+\tif (x != nil) {"}, h2)},
		{"a hunk split in two", shingles([]string{"-\tif (x) {", "+\tif (x != nil) {"}, []string{"+\t\tlog(x)"}, h2)},
		{"other case", shingles([]string{"-\tIf (x) {", "+\tif (x != nil) {", "+\t\tlog(x)"}, h2)},
	}
	for _, tc := range differ {
		t.Run(tc.name+" gives other shingles", func(t *testing.T) {
			if slices.Equal(tc.got, base) {
				t.Errorf("got the base's shingles %v", base)
			}
		})
	}

	t.Run("lines in the other order keep the lines' shingles and change the pairs'", func(t *testing.T) {
		a := minhash.LineShingles([]string{"+a", "+b", "+c"})
		b := minhash.LineShingles([]string{"+c", "+b", "+a"})
		// 3 lines + 2 pairs each; the lines are shared, the pairs are not.
		if len(a) != 5 || len(b) != 5 {
			t.Fatalf("got %d and %d shingles, want 5 and 5", len(a), len(b))
		}
		if j := minhash.Jaccard(a, b); j != 3.0/7 {
			t.Errorf("Jaccard = %v, want 3/7", j)
		}
	})
	t.Run("one line changed of a long hunk changes a few shingles", func(t *testing.T) {
		var lines []string
		for i := range 50 {
			lines = append(lines, "+line "+strings.Repeat("x", i))
		}
		a := minhash.LineShingles(lines)
		lines[25] = "+something else"
		b := minhash.LineShingles(lines)
		if j := minhash.Jaccard(a, b); j != 96.0/102 {
			t.Errorf("Jaccard = %v, want 96/102 (99 shingles each, 3 of them changed)", j)
		}
	})
	t.Run("the result is sorted and unique", func(t *testing.T) {
		if !slices.IsSorted(base) || len(slices.Compact(slices.Clone(base))) != len(base) {
			t.Errorf("not a sorted set: %v", base)
		}
		if len(base) != 5+1+2 {
			t.Errorf("got %d shingles, want 8 (5 lines, 3 pairs)", len(base))
		}
	})
	t.Run("nothing changed gives no shingles", func(t *testing.T) {
		for _, in := range [][]string{nil, {""}, {" context", "", "+", "-  \t"}} {
			if got := minhash.LineShingles(in); got != nil {
				t.Errorf("LineShingles(%q) = %v, want nil", in, got)
			}
		}
	})
}

func TestDiffShingles(t *testing.T) {
	for _, tc := range []struct {
		name string
		diff string
		want [][]string // the hunks' changed lines
	}{
		{
			name: "headers, index and mode lines are ignored",
			diff: "diff --git a/x.c b/x.c\nold mode 100644\nnew mode 100755\nindex 1111111..2222222\n--- a/x.c\n+++ b/x.c\n" +
				"@@ -1,3 +1,3 @@ func main() {\n a\n-b\n+B\n c\n",
			want: [][]string{{"-b", "+B"}},
		},
		{
			name: "a removed line that looks like a header is a removed line",
			diff: "--- a/s.sql\n+++ b/s.sql\n@@ -1,2 +1,2 @@\n--- schema v1\n+++ schema v2\n create table t (id int);\n",
			want: [][]string{{"--- schema v1", "+++ schema v2"}},
		},
		{
			name: "the hunk ends where its counts say",
			diff: "@@ -1,1 +1,1 @@\n-a\n+b\n-not in a hunk\n+not in a hunk\n@@ -9 +9 @@\n-c\n+d\n",
			want: [][]string{{"-a", "+b"}, {"-c", "+d"}},
		},
		{
			name: "no-newline markers are skipped",
			diff: "@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+b\n\\ No newline at end of file\n",
			want: [][]string{{"-a", "+b"}},
		},
		{
			name: "an empty line in a hunk is an empty context line",
			diff: "@@ -1,3 +1,3 @@\n-a\n\n+b\n c\n",
			want: [][]string{{"-a", "+b"}},
		},
		{
			name: "binary notices and patches give nothing",
			diff: "diff --git a/b.png b/b.png\nindex 1..2 100644\nBinary files a/b.png and b/b.png differ\n" +
				"diff --git a/c.bin b/c.bin\nGIT binary patch\nliteral 5\nMcmZ?b4-w=H0B@NuVE_OC\n\nliteral 0\nHcmV?d00001\n\n",
		},
		{
			name: "a combined diff of a merge gives nothing",
			diff: "diff --cc x\n@@@ -1,1 -1,1 +1,1 @@@\n- a\n -b\n++c\n",
		},
		{
			name: "a hunk header without counts gives nothing",
			diff: "@@ @@\n-a\n+b\n",
		},
		{
			name: "a format-patch mail: message and signature are ignored",
			diff: "From 1234 Mon Sep 17 00:00:00 2001\nSubject: [PATCH] Fix\n\n-- not a line\n---\n x | 2 +-\n\n" +
				"diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n-- \n2.39.5\n\n",
			want: [][]string{{"-a", "+b"}},
		},
		{
			name: "CRLF diffs read as LF ones",
			diff: "--- a/x\r\n+++ b/x\r\n@@ -1,2 +1,2 @@\r\n-a\r\n+b\r\n c\r\n",
			want: [][]string{{"-a", "+b"}},
		},
		{name: "an empty input gives nothing"},
		{name: "prose gives nothing", diff: "We fixed the + and - buttons.\n- a list item\n+ another\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := minhash.DiffShingles(tc.diff)
			want := shingles(tc.want...)
			if !slices.Equal(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

// gitRepo is a throw-away repository with fixed identities and dates.
type gitRepo struct {
	t   *testing.T
	dir string
	env []string
}

func newGitRepo(t *testing.T) *gitRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("this test runs git, which is not installed")
	}
	root := t.TempDir()
	r := &gitRepo{t: t, dir: filepath.Join(root, "repo"), env: []string{
		"HOME=" + root, "PATH=" + os.Getenv("PATH"), "LC_ALL=C", "TZ=UTC",
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=" + filepath.Join(root, "gitconfig"),
		"GIT_AUTHOR_NAME=A U Thor", "GIT_AUTHOR_EMAIL=author@example.com", "GIT_AUTHOR_DATE=2005-04-07T22:13:13Z",
		"GIT_COMMITTER_NAME=C O Mitter", "GIT_COMMITTER_EMAIL=committer@example.com", "GIT_COMMITTER_DATE=2005-04-07T22:13:13Z",
	}}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r.git("-c", "init.defaultBranch=main", "init", "-q")
	return r
}

func (r *gitRepo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir, cmd.Env = r.dir, r.env
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return string(out)
}

func (r *gitRepo) write(files map[string]string) {
	r.t.Helper()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(r.dir, name), []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
}

func (r *gitRepo) commit(msg string) {
	r.t.Helper()
	r.git("add", "-A")
	r.git("commit", "-q", "-m", msg)
}

// numbered returns n lines "<prefix> i;" with line i (1-based) replaced by
// repl[i] where given.
func numbered(prefix string, n int, repl map[int]string) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		if l, ok := repl[i]; ok {
			b.WriteString(l + "\n")
			continue
		}
		b.WriteString("\t" + prefix + " " + strings.Repeat("v", i) + ";\n")
	}
	return b.String()
}

// TestDiffShinglesOfGitDiff feeds DiffShingles what git writes for a real
// change: two hunks in one file, a removed SQL comment that git prints as
// "--- ...", an added "++i;" printed as "+++i;", a binary file and a file
// without a final newline.
func TestDiffShinglesOfGitDiff(t *testing.T) {
	r := newGitRepo(t)
	r.write(map[string]string{
		"a.c":        numbered("x =", 30, nil),
		"schema.sql": "-- schema v1\ncreate table t (id int);\n",
		"z.txt":      "first\nlast",
		"logo.bin":   "\x00\x01\x02binary",
	})
	r.commit("upstream")
	r.git("branch", "upstream")
	r.write(map[string]string{
		"a.c":        numbered("x =", 30, map[int]string{3: "\tif (x) {", 25: "++i;"}),
		"schema.sql": "create table t (id int);\n",
		"z.txt":      "first\nlast line",
		"logo.bin":   "\x00\x01\x02binary, changed",
	})
	r.commit("Fix the counters\n\n--- a line of the message that looks like a header\n+++ and another")

	want := shingles(
		[]string{"-\tx = vvv;", "+\tif (x) {"},
		[]string{"-\tx = " + strings.Repeat("v", 25) + ";", "+++i;"},
		[]string{"--- schema v1"},
		[]string{"-last", "+last line"},
	)
	diff := r.git("diff", "upstream", "HEAD")
	for _, marker := range []string{"\n--- schema v1\n", "\n+++i;\n", "Binary files", "\\ No newline at end of file"} {
		if !strings.Contains(diff, marker) {
			t.Fatalf("git diff has no %q; the test does not test what it says:\n%s", marker, diff)
		}
	}
	if got := minhash.DiffShingles(diff); !slices.Equal(got, want) {
		t.Errorf("git diff: got %v, want %v\n%s", got, want, diff)
	}

	t.Run("format-patch of the same commit gives the same shingles", func(t *testing.T) {
		patch := r.git("format-patch", "--stdout", "upstream..HEAD")
		if got := minhash.DiffShingles(patch); !slices.Equal(got, want) {
			t.Errorf("got %v, want %v\n%s", got, want, patch)
		}
	})
	t.Run("the same change indented otherwise by another fork gives the same shingles", func(t *testing.T) {
		r.git("checkout", "-q", "-b", "other", "upstream")
		r.write(map[string]string{
			"a.c":        numbered("x =", 30, map[int]string{3: "    if (x)   {  ", 25: "        ++i;"}),
			"schema.sql": "create table t (id int);\n",
			"z.txt":      "first\nlast  line",
			"logo.bin":   "\x00\x01\x02binary, changed otherwise",
		})
		r.commit("Fix the counters too")
		other := r.git("diff", "upstream", "HEAD")
		if got := minhash.DiffShingles(other); !slices.Equal(got, want) {
			t.Errorf("got %v, want %v\n%s", got, want, other)
		}
	})
}

func TestTextShingles(t *testing.T) {
	base := minhash.TextShingles("Support offline enrolment for biometric devices.")
	same := []struct{ name, text string }{
		{"other case, punctuation and spacing", "support OFFLINE   enrolment, for: biometric-devices"},
		{"line breaks and tabs", "Support\noffline\tenrolment\r\nfor biometric\n\ndevices"},
	}
	for _, tc := range same {
		t.Run(tc.name+" give the same shingles", func(t *testing.T) {
			if got := minhash.TextShingles(tc.text); !slices.Equal(got, base) {
				t.Errorf("got %v, want %v", got, base)
			}
		})
	}
	t.Run("5 words give 3 shingles", func(t *testing.T) {
		if got := minhash.TextShingles("one two three four five"); len(got) != 3 {
			t.Errorf("got %d shingles, want 3", len(got))
		}
	})
	t.Run("fewer than 3 words give the words", func(t *testing.T) {
		one, two := minhash.TextShingles("Enrolment!"), minhash.TextShingles("offline enrolment")
		if len(one) != 1 || len(two) != 2 || !slices.Contains(two, one[0]) {
			t.Errorf("got %v and %v, want 1 shingle and 2 that include it", one, two)
		}
	})
	t.Run("composed and decomposed accents are the same word", func(t *testing.T) {
		a := minhash.TextShingles("Enr\u00f4lement des donn\u00e9es biom\u00e9triques")
		b := minhash.TextShingles("ENRO\u0302LEMENT DES DONNE\u0301ES BIOME\u0301TRIQUES")
		if !slices.Equal(a, b) {
			t.Errorf("got %v and %v", a, b)
		}
	})
	t.Run("full-width letters and digits are the same word", func(t *testing.T) {
		a := minhash.TextShingles("MOSIP release 1.2")
		b := minhash.TextShingles("\uff2d\uff2f\uff33\uff29\uff30 release \uff11.\uff12")
		if !slices.Equal(a, b) {
			t.Errorf("got %v and %v", a, b)
		}
	})
	t.Run("Sinhala words keep their vowel signs", func(t *testing.T) {
		// ජාතික හැඳුනුම්පත (national identity card): the vowel signs are
		// marks; were they separators, the words would fall apart into
		// more than two.
		if got := minhash.TextShingles("ජාතික හැඳුනුම්පත"); len(got) != 2 {
			t.Errorf("got %d shingles, want 2 words", len(got))
		}
	})
	t.Run("a different word is visible", func(t *testing.T) {
		other := minhash.TextShingles("Support online enrolment for biometric devices.")
		if slices.Equal(other, base) {
			t.Error("same shingles")
		}
	})
	t.Run("no words give no shingles", func(t *testing.T) {
		for _, s := range []string{"", "  ", "!?-- ..."} {
			if got := minhash.TextShingles(s); got != nil {
				t.Errorf("TextShingles(%q) = %v, want nil", s, got)
			}
		}
	})
}
