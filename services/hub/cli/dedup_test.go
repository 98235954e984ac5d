package cli_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// forkNetwork makes one repository holding an upstream (main) and four
// forks of it as branches:
//   - ma carries three changes (X1, X2, X3) and a large change of its own;
//   - ph carries a small change of its own and the same three, cherry-picked
//     from ma: other commit ids, the same patch-ids;
//   - lk carries the three squashed into one commit and re-indented (white
//     space only): a patch-id of its own, the same lines once normalised;
//   - ke changes something else entirely.
//
// Upstream then takes X1 (cherry-picked with -x after the forks branched
// off, so as another commit). It returns the repository and ma's commits
// of X1, X2 and X3.
func forkNetwork(t *testing.T) (repo string, x [3]string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	repo = t.TempDir()
	write := func(name, body string) {
		t.Helper()
		path := filepath.Join(repo, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	commit := func(msg string, files map[string]string) string {
		t.Helper()
		for name, body := range files {
			write(name, body)
		}
		git(t, repo, "", "add", "-A")
		git(t, repo, "", "commit", "-qm", msg)
		return strings.TrimSpace(git(t, repo, "", "rev-parse", "HEAD"))
	}
	// lines returns lines from..to of a file, made by f.
	lines := func(from, to int, f func(i int) string) string {
		var b strings.Builder
		for i := from; i <= to; i++ {
			b.WriteString(f(i) + "\n")
		}
		return b.String()
	}
	file := func(name string) string {
		return lines(1, 40, func(i int) string { return fmt.Sprintf("%s line %d: check(%d)", name, i, i) })
	}
	// edited is the file with lines 10..21 rewritten, indent before each.
	edited := func(name, indent string) string {
		return lines(1, 9, func(i int) string { return fmt.Sprintf("%s line %d: check(%d)", name, i, i) }) +
			lines(10, 21, func(i int) string {
				return fmt.Sprintf("%s%s fixed %d:%sverify(otp,%s%d)", indent, name, i, indent+" ", indent+" ", i)
			}) +
			lines(22, 40, func(i int) string { return fmt.Sprintf("%s line %d: check(%d)", name, i, i) })
	}
	throttle := func(indent string) string {
		return lines(1, 20, func(i int) string {
			return fmt.Sprintf("%sthrottle rule %d: limit%s(%d)", indent, i, strings.TrimSpace(indent), i)
		})
	}

	git(t, repo, "", "init", "-q", "-b", "main")
	commit("initial", map[string]string{"src/auth.go": file("auth"), "src/otp.go": file("otp"), "src/store.go": file("store")})
	commit("upstream: docs", map[string]string{"README": "the upstream\n"})

	git(t, repo, "", "checkout", "-q", "-b", "ma", "main")
	x[0] = commit("Verify OTPs in auth", map[string]string{"src/auth.go": edited("auth", "")})
	x[1] = commit("Verify OTPs in otp", map[string]string{"src/otp.go": edited("otp", "")})
	x[2] = commit("Throttle OTP requests", map[string]string{"src/throttle.go": throttle("")})
	commit("ma: local settings", map[string]string{"conf/ma.conf": lines(1, 20, func(i int) string { return fmt.Sprintf("ma.setting.%d = %d", i, i*7) })})

	git(t, repo, "", "checkout", "-q", "-b", "ph", "main")
	commit("ph: local settings", map[string]string{"conf/ph.conf": lines(1, 5, func(i int) string { return fmt.Sprintf("ph.setting.%d = %d", i, i*3) })})
	git(t, repo, "", "cherry-pick", x[0], x[1], x[2])

	git(t, repo, "", "checkout", "-q", "-b", "lk", "main")
	commit("OTP hardening, reformatted", map[string]string{
		"src/auth.go": edited("auth", "\t"), "src/otp.go": edited("otp", "  "), "src/throttle.go": throttle("    "),
	})

	git(t, repo, "", "checkout", "-q", "-b", "ke", "main")
	commit("ke: storage quotas", map[string]string{"src/store.go": edited("store", "")})
	commit("ke: notes", map[string]string{"docs/ke.md": lines(1, 10, func(i int) string { return fmt.Sprintf("note %d about quotas", i) })})

	git(t, repo, "", "checkout", "-q", "main")
	git(t, repo, "", "cherry-pick", "-x", x[0])
	return repo, x
}

type dedupLine struct {
	A              string   `json:"a"`
	B              string   `json:"b"`
	Similarity     float64  `json:"similarity"`
	Jaccard        float64  `json:"jaccard"`
	SharedPatchIDs int      `json:"shared_patch_ids"`
	Files          []string `json:"files"`
}

// decodeLines decodes every line of out into a T, refusing unknown fields.
func decodeLines[T any](t *testing.T, out string) []T {
	t.Helper()
	var got []T
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if l == "" {
			continue
		}
		var v T
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		got = append(got, v)
	}
	return got
}

func patchID(t *testing.T, repo, commit string) string {
	t.Helper()
	show := git(t, repo, "", "show", commit)
	return strings.Fields(git(t, repo, show, "patch-id", "--stable"))[0]
}

func TestDedupScanFindsForksThatCarryTheSameChanges(t *testing.T) {
	repo, _ := forkNetwork(t)
	r := dpihub(t, nil, "", "dedup", "scan", "--repo", repo, "--upstream", "main", "ma", "ph", "lk", "ke")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	// The interface fixes each line: these keys, in this order.
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if !strings.HasPrefix(l, `{"a":"`) || !strings.Contains(l, `","b":"`) || !strings.Contains(l, `,"similarity":`) ||
			!strings.Contains(l, `,"jaccard":`) || !strings.Contains(l, `,"shared_patch_ids":`) || !strings.Contains(l, `,"files":[`) {
			t.Errorf("line %s is not the interface's", l)
		}
	}
	got := decodeLines[dedupLine](t, r.stdout)
	byPair := map[string]dedupLine{}
	for i, p := range got {
		byPair[p.A+"-"+p.B] = p
		if i > 0 && p.Similarity > got[i-1].Similarity {
			t.Errorf("line %d (%.2f) is more similar than the line before it (%.2f): want most similar first", i+1, p.Similarity, got[i-1].Similarity)
		}
		if p.Similarity < 0.5 && p.SharedPatchIDs == 0 {
			t.Errorf("pair %s-%s under the threshold was printed: %+v", p.A, p.B, p)
		}
		if d := p.Similarity - p.Jaccard; d > 0.15 || d < -0.15 {
			t.Errorf("pair %s-%s: MinHash says %.2f, exact Jaccard %.2f", p.A, p.B, p.Similarity, p.Jaccard)
		}
	}
	var pairs []string
	for k := range byPair {
		pairs = append(pairs, k)
	}
	slices.Sort(pairs)
	if want := []string{"ma-lk", "ma-ph", "ph-lk"}; !slices.Equal(pairs, want) || len(got) != 3 {
		t.Fatalf("pairs %v, want %v and nothing with the unrelated ke:\n%s", pairs, want, r.stdout)
	}
	otp := []string{"src/auth.go", "src/otp.go", "src/throttle.go"}
	for k, p := range byPair {
		if !reflect.DeepEqual(p.Files, otp) {
			t.Errorf("%s: files %v, want %v", k, p.Files, otp)
		}
	}
	// Cherry-picked: the same patch-ids.
	if p := byPair["ma-ph"]; p.SharedPatchIDs != 3 {
		t.Errorf("ma and ph share %d patch-ids, want 3", p.SharedPatchIDs)
	}
	// Reformatted: no patch-id in common, yet the same lines once white
	// space is normalised. ph's own change is smaller than ma's, so ph is
	// closer to lk (which carries nothing else) than ma is, and ma and ph
	// (each with a change of its own) are the least close.
	lk, malk, maph := byPair["ph-lk"], byPair["ma-lk"], byPair["ma-ph"]
	if lk.SharedPatchIDs != 0 || malk.SharedPatchIDs != 0 {
		t.Errorf("lk shares patch-ids: %+v %+v", lk, malk)
	}
	if lk.Jaccard < 0.9 || !(lk.Jaccard > malk.Jaccard && malk.Jaccard > maph.Jaccard) {
		t.Errorf("jaccard ph-lk %.2f, ma-lk %.2f, ma-ph %.2f: want above 0.9 and falling", lk.Jaccard, malk.Jaccard, maph.Jaccard)
	}
	if got[0].A != "ph" || got[0].B != "lk" {
		t.Errorf("first line %+v, want ph and lk", got[0])
	}
	// Progress: a line per branch on stderr, with its commits.
	for _, want := range []string{"ma: 4/4 commits", "ph: 4/4 commits", "lk: 1/1 commits", "ke: 2/2 commits", "4 branches, 11 commits of their own, 3 pairs"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}

	// A pair that shares a patch-id is printed whatever the threshold.
	r = dpihub(t, nil, "", "dedup", "scan", "--repo", repo, "--upstream", "main", "--threshold", "1", "--json", "ma", "ph", "lk", "ke")
	if got := decodeLines[dedupLine](t, r.stdout); r.code != 0 || len(got) != 1 || got[0].A != "ma" || got[0].B != "ph" {
		t.Errorf("at threshold 1: exit %d, %s", r.code, r.stdout)
	}
}

func TestDedupScanCandidatesAreWhatForksShareAndUpstreamLacks(t *testing.T) {
	repo, x := forkNetwork(t)
	mbox := filepath.Join(t.TempDir(), "mbox")
	r := dpihub(t, nil, "", "dedup", "scan", "--repo", repo, "--upstream", "main", "--candidates", "--mbox", mbox, "ma", "ph", "lk", "ke")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	type candidate struct {
		PatchID  string            `json:"patch_id"`
		Branches map[string]string `json:"branches"`
		Subject  string            `json:"subject"`
	}
	got := decodeLines[candidate](t, r.stdout)
	// X1 is upstream already; X2 and X3 are carried by ma and ph, in the
	// order ma made them.
	phCommits := strings.Fields(git(t, repo, "", "rev-list", "--reverse", "main~1..ph"))[1:]
	var want []candidate
	for i, c := range x[1:] {
		want = append(want, candidate{
			PatchID:  patchID(t, repo, c),
			Branches: map[string]string{"ma": c, "ph": phCommits[i+1]},
			Subject:  strings.TrimSpace(git(t, repo, "", "log", "-1", "--format=%s", c)),
		})
		if p := patchID(t, repo, phCommits[i+1]); p != want[i].PatchID {
			t.Fatalf("the test's cherry-pick has patch-id %s, want %s", p, want[i].PatchID)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("candidates\n%+v\nwant\n%+v", got, want)
	}
	if !strings.Contains(r.stderr, "2 candidates") {
		t.Errorf("stderr %q", r.stderr)
	}

	// The mboxes apply, in name order, on upstream in a fresh clone.
	files, _ := filepath.Glob(filepath.Join(mbox, "*.mbox"))
	wantFiles := []string{filepath.Join(mbox, "0001-"+want[0].PatchID+".mbox"), filepath.Join(mbox, "0002-"+want[1].PatchID+".mbox")}
	if !slices.Equal(files, wantFiles) {
		t.Fatalf("mbox files %v, want %v", files, wantFiles)
	}
	clone := filepath.Join(t.TempDir(), "clone")
	git(t, repo, "", "clone", "-q", "--branch", "main", repo, clone)
	git(t, clone, "", append([]string{"am", "-q"}, files...)...)
	for _, f := range []string{"src/otp.go", "src/throttle.go"} {
		if a, b := git(t, clone, "", "show", "HEAD:"+f), git(t, repo, "", "show", "ma:"+f); a != b {
			t.Errorf("%s after git am differs from ma's", f)
		}
	}
	if s := strings.TrimSpace(git(t, clone, "", "log", "-1", "--format=%s")); s != want[1].Subject {
		t.Errorf("last applied commit %q, want %q", s, want[1].Subject)
	}
}

func TestDedupRefusesWhatItCannotScan(t *testing.T) {
	repo, _ := forkNetwork(t)
	empty := t.TempDir()
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"a directory that is no repository is named", []string{"scan", "--repo", empty, "--upstream", "main", "ma", "ph"}, 1, empty + " is not a git repository"},
		{"an unknown upstream ref is named", []string{"scan", "--repo", repo, "--upstream", "nope", "ma", "ph"}, 1, "--upstream nope names no commit"},
		{"an unknown branch is named", []string{"scan", "--repo", repo, "--upstream", "main", "ma", "nope"}, 1, "branch nope names no commit"},
		{"one branch is not enough", []string{"scan", "--repo", repo, "--upstream", "main", "ma"}, 1, "at least two branches"},
		{"a branch given twice is refused", []string{"scan", "--repo", repo, "--upstream", "main", "ma", "ma"}, 1, "branch ma is given twice"},
		{"a threshold above 1 is refused", []string{"scan", "--repo", repo, "--upstream", "main", "--threshold", "2", "ma", "ph"}, 1, "--threshold 2"},
		{"the repository is required", []string{"scan", "--upstream", "main", "ma", "ph"}, 1, "--repo is required"},
		{"an unknown flag is a usage error", []string{"scan", "--frob", "--repo", repo, "--upstream", "main", "ma", "ph"}, 2, "dpihub dedup scan: flag provided but not defined: -frob"},
		{"--mbox without --candidates is a usage error", []string{"scan", "--mbox", empty, "--repo", repo, "--upstream", "main", "ma", "ph"}, 2, "--mbox needs --candidates"},
		{"report needs a project", []string{"report"}, 1, "--project is required"},
		{"report asks a hub that answers", []string{"report", "--project", "x", "--api", "http://127.0.0.1:1"}, 1, "is dpihub serve running"},
		{"an unknown subcommand is a usage error", []string{"frob"}, 2, "usage: dpihub dedup scan"},
		{"no subcommand is a usage error", nil, 2, "usage: dpihub dedup scan"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := dpihub(t, nil, "", append([]string{"dedup"}, tc.args...)...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d and %q", r.code, r.stdout, r.stderr, tc.code, tc.want)
			}
			if tc.code == 1 && strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Errorf("want one line on stderr, got %q", r.stderr)
			}
		})
	}
	if r := dpihub(t, nil, "", "dedup", "scan", "-h"); r.code != 0 || !strings.Contains(r.stdout, "--threshold") {
		t.Errorf("help: exit %d, stdout %q", r.code, r.stdout)
	}
}
