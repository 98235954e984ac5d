package assess

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bluekeyes/go-gitdiff/gitdiff"
)

// randomText returns up to 24 lines drawn from a small alphabet, so that the
// same line occurs often and a hunk can match in several places; sometimes
// without a final newline.
func randomText(rng *rand.Rand) string {
	alphabet := []string{"a", "b", "c", "d", "", "  x", "x", "e f"}
	n := rng.IntN(25)
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(alphabet[rng.IntN(len(alphabet))])
		b.WriteByte('\n')
	}
	s := b.String()
	if len(s) > 0 && rng.IntN(5) == 0 {
		s = s[:len(s)-1]
	}
	return s
}

// mutate applies a few random line edits to s.
func mutate(rng *rand.Rand, s string) string {
	ls := strings.SplitAfter(s, "\n")
	if ls[len(ls)-1] == "" {
		ls = ls[:len(ls)-1]
	}
	words := []string{"a", "b", "z", "", "y y", "x"}
	for k := 1 + rng.IntN(3); k > 0; k-- {
		i := rng.IntN(len(ls) + 1)
		w := words[rng.IntN(len(words))] + "\n"
		switch op := rng.IntN(4); {
		case op == 0 || len(ls) == 0 || i == len(ls):
			ls = append(ls[:i], append([]string{w}, ls[i:]...)...)
		case op == 1:
			ls = append(ls[:i], ls[i+1:]...)
		case op == 2:
			ls[i] = w
		default:
			// toggle the final newline
			last := ls[len(ls)-1]
			if strings.HasSuffix(last, "\n") {
				ls[len(ls)-1] = strings.TrimSuffix(last, "\n")
			} else {
				ls[len(ls)-1] = last + "\n"
			}
		}
	}
	// only the last line may lack its newline
	for j := 0; j < len(ls)-1; j++ {
		if !strings.HasSuffix(ls[j], "\n") {
			ls[j] += "\n"
		}
	}
	return strings.Join(ls, "")
}

// TestCheckAgreesWithGitApply applies random patches to random files, with
// many repeated lines, missing final newlines and little context, and
// requires the same outcome as `git apply --cached --check`, its reverse
// with -R, and `git apply --3way`.
func TestCheckAgreesWithGitApply(t *testing.T) {
	g := newTestGit(t)
	dir := t.TempDir()
	g.run(dir, "init", "-q", "repo")
	dir = filepath.Join(dir, "repo")
	r, err := openRepo(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.close)
	rng := rand.New(rand.NewPCG(2026, 11))
	write := func(name, content string) string {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return g.run(dir, "hash-object", "-w", name)
	}
	var counts [2][2]int
	for i := 0; i < 160; i++ {
		a := randomText(rng)
		b := mutate(rng, a)
		if a == b {
			continue
		}
		var c string
		switch rng.IntN(4) {
		case 0:
			c = a
		case 1:
			c = mutate(rng, a)
		case 2:
			c = b
		default:
			c = mutate(rng, b)
		}
		write("old", a)
		write("new", b)
		unified := []string{"-U0", "-U1", "-U2", "-U3"}[rng.IntN(4)]
		diff, errOut, code := g.exec(dir, nil, nil, "diff", "--no-index", "--no-color", unified, "old", "new")
		if code != 1 {
			t.Fatalf("git diff --no-index: exit %d: %s", code, errOut)
		}
		// the file names only occur in the headers: the content has no slashes
		patch := []byte(strings.NewReplacer("a/old", "a/f.txt", "b/new", "b/f.txt").Replace(diff))
		oid := write("f.txt", c)

		name := fmt.Sprintf("case %d (%s)", i, unified)
		fx, err := parsePatch(patch)
		if err != nil {
			t.Fatalf("%s: parse %q: %v", name, patch, err)
		}
		entries := map[string]treeEntry{"f.txt": {mode: 0o100644, typ: "blob", oid: oid}}
		check := func(files []*gitdiff.File, threeWay bool) bool {
			t.Helper()
			out, err := newTree(r, entries).checkAll(context.Background(), files, threeWay)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return allOK(out)
		}
		index := func(args ...string) int {
			t.Helper()
			env := []string{"GIT_INDEX_FILE=" + filepath.Join(t.TempDir(), "index")}
			if _, errOut, code := g.exec(dir, nil, env, "update-index", "--add", "--cacheinfo", "100644,"+oid+",f.txt"); code != 0 {
				t.Fatalf("update-index: %s", errOut)
			}
			_, _, code := g.exec(dir, patch, env, args...)
			return code
		}
		gotForward, gotReverse, gotThreeWay := check(fx.files, false), check(reversed(fx.files), false), check(fx.files, true)
		wantForward := index("apply", "--cached", "--check") == 0
		wantReverse := index("apply", "--cached", "--check", "-R") == 0
		wantThreeWay := index("apply", "--cached", "--3way") == 0
		if gotForward != wantForward || gotReverse != wantReverse || gotThreeWay != wantThreeWay {
			t.Errorf("%s: applies %v reverse %v 3-way %v; git apply says %v %v %v\nfile:\n%q\npatch:\n%s",
				name, gotForward, gotReverse, gotThreeWay, wantForward, wantReverse, wantThreeWay, c, patch)
		}
		counts[b2i(wantForward)][b2i(wantReverse)]++
	}
	// The cases must exercise both outcomes of both checks.
	if counts[1][0] == 0 || counts[0][1] == 0 || counts[0][0] == 0 {
		t.Errorf("random cases too one-sided: [forward][reverse] counts %v", counts)
	}
	t.Logf("[forward fails/applies][reverse fails/applies] counts: %v", counts)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
