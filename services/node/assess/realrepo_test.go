package assess

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRealRepoVerdicts holds Assess against the git command line on real
// commits of a real repository, across its release branches. It is not run
// in CI: it needs a clone (bare is fine) named by DPIHUB_REALREPO.
//
//	DPIHUB_REALREPO=<git dir>                the repository
//	DPIHUB_REALREPO_BRANCHES="b1 b2 ..."     branches to cross (required)
//	DPIHUB_REALREPO_SAMPLE=N                 commits per ordered branch pair
//	                                         that git cherry marks "+" (default 4)
//	DPIHUB_REALREPO_MAXEQ=N                  cap on "-" commits per ordered pair
//	                                         (default 0: all of them)
//	DPIHUB_REALREPO_EXCLUDE="p1 p2 ..."      paths whose blobs are missing from
//	                                         the clone, left out of the
//	                                         full-history patch-id list
//	DPIHUB_REALREPO_PICK=N                   real `cherry-pick -x` runs onto the
//	                                         target in a scratch repository
//	                                         (default 0)
//	DPIHUB_REALREPO_OUT=<file>               per-pair results, tab-separated
//
// For every ordered pair of branches (X, Y), `git cherry Y X` lists the
// commits of X that Y lacks, "-" when Y has a commit with the same patch-id.
// Every "-" commit C, a sample of the "+" ones, and every commit named by a
// "(cherry picked from commit C)" trailer on Y, give a pair (C, Y). For each
// pair, with P = `git format-patch -1 --stdout C`, the test compares:
//
//   - Assess(Y, P), against the verdict git's own tools give in the same
//     order: a commit of `git log -p Y | git patch-id --stable` with P's
//     patch-id (present, patch-id); `git log --grep` for the trailer
//     (present, trailer); `git apply --cached --check` on Y's tree in a
//     temporary index (applies); `git apply -R --cached --check` (present,
//     content); none of the files P modifies exists in Y (not-applicable);
//     otherwise conflicts;
//   - on every pair, not only those that get that far: our forward and
//     reverse checks against `git apply --check` and `git apply -R --check`,
//     our patch-id search against `git cherry Y C C^`, and, when the patch
//     does not apply, our 3-way answer against `git apply --cached --3way`.
//
// Pairs git cannot read (a blob missing from the clone) are skipped and
// counted. It logs the confusion matrix and the median times.
func TestRealRepoVerdicts(t *testing.T) {
	dir := os.Getenv("DPIHUB_REALREPO")
	if dir == "" {
		t.Skip("set DPIHUB_REALREPO to a git directory (and DPIHUB_REALREPO_BRANCHES) to compare with git on a real repository")
	}
	branches := strings.Fields(os.Getenv("DPIHUB_REALREPO_BRANCHES"))
	if len(branches) < 2 {
		t.Fatal("DPIHUB_REALREPO_BRANCHES must name at least two branches")
	}
	sample := envInt(t, "DPIHUB_REALREPO_SAMPLE", 4)
	maxEq := envInt(t, "DPIHUB_REALREPO_MAXEQ", 0)
	exclude := strings.Fields(os.Getenv("DPIHUB_REALREPO_EXCLUDE"))
	g := newTestGit(t)
	ctx := context.Background()

	git := func(stdin []byte, env []string, args ...string) (string, string, int) {
		return g.exec(dir, stdin, env, args...)
	}
	must := func(args ...string) string {
		out, errOut, code := git(nil, nil, args...)
		if code != 0 {
			t.Fatalf("git %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return out
	}

	// Full-history stable patch-ids of each branch, by git alone.
	fullPID := make(map[string]map[string][]string)
	for _, y := range branches {
		// --full-history: with a pathspec, git log would otherwise
		// prune side branches of merges TREESAME to one parent.
		// --binary: format-patch writes binary changes in full, and
		// git patch-id hashes them; without it git log prints "Binary
		// files differ" and a commit with a binary change gets another
		// id than its own format-patch.
		args := []string{"log", "-p", "--binary", "--no-merges", "--full-history", "refs/heads/" + y, "--", "."}
		for _, p := range exclude {
			args = append(args, ":!"+p)
		}
		log := must(args...)
		out, errOut, code := git([]byte(log), nil, "patch-id", "--stable")
		if code != 0 {
			t.Fatalf("git patch-id: %s", errOut)
		}
		m := make(map[string][]string)
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if f := strings.Fields(line); len(f) == 2 {
				m[f[0]] = append(m[f[0]], f[1])
			}
		}
		fullPID[y] = m
	}

	// The pairs.
	type pair struct{ c, x, y, kind string }
	var pairs []pair
	seen := make(map[[2]string]bool)
	add := func(p pair) {
		k := [2]string{p.c, p.y}
		if !seen[k] {
			seen[k] = true
			pairs = append(pairs, p)
		}
	}
	for _, x := range branches {
		for _, y := range branches {
			if x == y {
				continue
			}
			var minus, plus []string
			for _, line := range strings.Split(strings.TrimSpace(must("cherry", "refs/heads/"+y, "refs/heads/"+x)), "\n") {
				sign, c, ok := strings.Cut(line, " ")
				switch {
				case !ok:
				case sign == "-":
					minus = append(minus, c)
				case sign == "+":
					plus = append(plus, c)
				}
			}
			if maxEq > 0 && len(minus) > maxEq {
				minus = spread(minus, maxEq)
			}
			for _, c := range minus {
				add(pair{c, x, y, "cherry-"})
			}
			for _, c := range spread(plus, sample) {
				add(pair{c, x, y, "cherry+"})
			}
		}
	}
	for _, y := range branches {
		out := must("log", "--no-merges", "--format=%H%x00%B%x01", "--grep=(cherry picked from commit ", "--fixed-strings", "refs/heads/"+y)
		for _, rec := range strings.Split(out, "\x01") {
			_, body, ok := strings.Cut(rec, "\x00")
			if !ok {
				continue
			}
			for _, m := range trailerRe.FindAllStringSubmatch(body, -1) {
				c := m[1]
				if _, _, code := git(nil, nil, "cat-file", "-e", c+"^{commit}"); code != 0 {
					continue // the picked commit is not in the clone
				}
				if _, _, code := git(nil, nil, "merge-base", "--is-ancestor", c, "refs/heads/"+y); code == 0 {
					continue // y has the commit itself
				}
				add(pair{c, "", y, "trailer"})
			}
		}
	}
	t.Logf("%d branches, %d pairs", len(branches), len(pairs))

	type row struct {
		pair
		ours, ref                   string // verdict[/how]
		cherry                      string // "-", "+"
		pidFull                     bool
		trailer                     bool
		gitApply, gitRev, git3      bool
		ourApply, ourRev, our3      bool
		have3                       bool
		tOurs, tCherry, tApply, tRT time.Duration
	}
	var rows []row
	skipped := make(map[string]int)
	patches := make(map[string][]byte)
	idx := filepath.Join(t.TempDir(), "index")
	idxEnv := []string{"GIT_INDEX_FILE=" + idx}
	readTree := func(y string) time.Duration {
		start := time.Now()
		if _, errOut, code := git(nil, idxEnv, "read-tree", "refs/heads/"+y); code != 0 {
			t.Fatalf("git read-tree %s: %s", y, errOut)
		}
		return time.Since(start)
	}
	// `git apply --3way` writes: it checks files out next to the index
	// (even with --cached, in git 2.39) and stores merged blobs. It runs in
	// a scratch repository that borrows the objects of dir through
	// alternates, with the touched files checked out, as in a clone at Y.
	scratch := filepath.Join(t.TempDir(), "scratch")
	g.run(filepath.Dir(scratch), "init", "-q", scratch)
	objects := strings.TrimSpace(must("rev-parse", "--path-format=absolute", "--git-path", "objects"))
	if err := os.WriteFile(filepath.Join(scratch, ".git", "objects", "info", "alternates"), []byte(objects+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	threeWay := func(y string, paths []string, patch []byte) bool {
		head := strings.TrimSpace(must("rev-parse", "refs/heads/"+y))
		g.run(scratch, "read-tree", head)
		ents, _ := os.ReadDir(scratch)
		for _, e := range ents {
			if e.Name() != ".git" {
				if err := os.RemoveAll(filepath.Join(scratch, e.Name())); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, p := range paths {
			g.exec(scratch, nil, nil, "checkout-index", "-f", "--", p) // absent paths fail, as they should
		}
		g.exec(scratch, nil, nil, "update-index", "-q", "--refresh")
		_, _, code := g.exec(scratch, patch, nil, "apply", "--3way")
		return code == 0
	}
	unreadable := func(errOut string) bool {
		return strings.Contains(errOut, "unable to read") || strings.Contains(errOut, "bad object") ||
			strings.Contains(errOut, "missing blob") || strings.Contains(errOut, "is not a valid object")
	}

pairs:
	for _, p := range pairs {
		patch, ok := patches[p.c]
		if !ok {
			out, errOut, code := git(nil, nil, "format-patch", "-1", "--stdout", p.c)
			if code != 0 {
				if !unreadable(errOut) {
					t.Fatalf("git format-patch %s: %s", p.c, errOut)
				}
				out = ""
			}
			patch = []byte(out)
			patches[p.c] = patch
		}
		if len(patch) == 0 {
			skipped["format-patch: blob missing from clone"]++
			continue
		}
		fx, err := parsePatch(patch)
		if err != nil {
			skipped["not a patch (empty or merge)"]++
			continue
		}
		for _, path := range fx.oldPaths() {
			if _, errOut, code := git(nil, nil, "cat-file", "-p", "refs/heads/"+p.y+":"+path); code != 0 && unreadable(errOut) {
				skipped["touched blob in target missing from clone"]++
				continue pairs
			}
		}
		r := row{pair: p}

		// Ours.
		start := time.Now()
		res, err := Assess(ctx, dir, "refs/heads/"+p.y, patch)
		r.tOurs = time.Since(start)
		if err != nil {
			if unreadable(err.Error()) {
				skipped["history of target reads a blob missing from clone"]++
				continue
			}
			t.Fatalf("Assess %s against %s: %v", p.c, p.y, err)
		}
		r.ours = res.Verdict
		if res.How != "" {
			r.ours += "/" + res.How
		}
		{
			rp, err := openRepo(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			entries, err := rp.lsTree(ctx, res.Head, fx.paths())
			if err != nil {
				t.Fatal(err)
			}
			fwd, err := newTree(rp, entries).checkAll(ctx, fx.files, false)
			if err != nil {
				t.Fatal(err)
			}
			rev, err := newTree(rp, entries).checkAll(ctx, reversed(fx.files), false)
			if err != nil {
				t.Fatal(err)
			}
			r.ourApply, r.ourRev = allOK(fwd), allOK(rev)
			if !r.ourApply {
				three, err := newTree(rp, entries).checkAll(ctx, fx.files, true)
				if err != nil {
					t.Fatal(err)
				}
				r.our3 = allOK(three)
			}
			rp.close()
		}

		// git.
		start = time.Now()
		out, errOut, code := git(nil, nil, "cherry", "refs/heads/"+p.y, p.c, p.c+"^")
		r.tCherry = time.Since(start)
		if code != 0 {
			if unreadable(errOut) {
				skipped["git cherry reads a blob missing from clone"]++
				continue
			}
			t.Fatalf("git cherry %s %s: %s", p.y, p.c, errOut)
		}
		r.cherry, _, _ = strings.Cut(strings.TrimSpace(out), " ")
		out, errOut, code = git(patch, nil, "patch-id", "--stable")
		if code != 0 {
			t.Fatalf("git patch-id: %s", errOut)
		}
		if f := strings.Fields(out); len(f) == 2 {
			r.pidFull = len(fullPID[p.y][f[0]]) > 0
		}
		out = must("log", "-1", "--format=%H", "--fixed-strings", "--grep=(cherry picked from commit "+p.c+")", "refs/heads/"+p.y)
		r.trailer = strings.TrimSpace(out) != ""
		r.tRT = readTree(p.y)
		start = time.Now()
		_, errOut, code = git(patch, idxEnv, "apply", "--cached", "--check")
		r.tApply = time.Since(start)
		if code != 0 && unreadable(errOut) {
			skipped["git apply reads a blob missing from clone"]++
			continue
		}
		r.gitApply = code == 0
		_, _, code = git(patch, idxEnv, "apply", "-R", "--cached", "--check")
		r.gitRev = code == 0
		if !r.gitApply {
			r.git3, r.have3 = threeWay(p.y, fx.oldPaths(), patch), true
		}
		anyOld := len(fx.oldPaths()) == 0
		for _, path := range fx.oldPaths() {
			if _, _, code := git(nil, nil, "cat-file", "-e", "refs/heads/"+p.y+":"+path); code == 0 {
				anyOld = true
			}
		}
		switch {
		case r.pidFull:
			r.ref = "present/patch-id"
		case r.trailer:
			r.ref = "present/trailer"
		case r.gitApply:
			r.ref = "applies"
		case r.gitRev:
			r.ref = "present/content"
		case !anyOld:
			r.ref = "not-applicable"
		default:
			r.ref = "conflicts"
		}
		rows = append(rows, r)
		if r.ours != r.ref {
			t.Errorf("%s (from %s, %s) on %s: ours %s, git %s", p.c, p.x, p.kind, p.y, r.ours, r.ref)
		}
	}

	// Real cherry-picks with -x: for up to DPIHUB_REALREPO_PICK pairs that
	// conflict but merge cleanly in 3 ways (and some that apply), the scratch
	// repository checks out Y, runs `git cherry-pick -x C`, and the fix is
	// assessed against the result. A clean pick keeps the patch-id (present,
	// patch-id); a merged one changes it and only the trailer names C
	// (present, trailer). git's reference: `git cherry pick C C^` and
	// `git log --grep`.
	type pick struct{ c, y, ours, ref, cherry string }
	var picks []pick
	if n := envInt(t, "DPIHUB_REALREPO_PICK", 0); n > 0 {
		var cands []row
		for _, r := range rows {
			if r.ref == "conflicts" && r.git3 {
				cands = append(cands, r)
			}
		}
		var applies []row
		for _, r := range rows {
			if r.ref == "applies" {
				applies = append(applies, r)
			}
		}
		cands = append(spreadRows(cands, n-n/4), spreadRows(applies, n/4)...)
		for _, r := range cands {
			head := strings.TrimSpace(must("rev-parse", "refs/heads/"+r.y))
			if _, errOut, code := g.exec(scratch, nil, nil, "checkout", "-q", "-f", "-B", "pick", head); code != 0 {
				t.Logf("checkout %s: %s", r.y, errOut) // a blob missing from the clone
				continue
			}
			g.exec(scratch, nil, nil, "clean", "-q", "-f", "-d")
			if _, _, code := g.exec(scratch, nil, nil, "cherry-pick", "-x", r.c); code != 0 {
				g.exec(scratch, nil, nil, "cherry-pick", "--abort")
				continue
			}
			pk := pick{c: r.c, y: r.y}
			res, err := Assess(ctx, scratch, "refs/heads/pick", patches[r.c])
			if err != nil {
				t.Fatalf("Assess %s against a cherry-pick onto %s: %v", r.c, r.y, err)
			}
			pk.ours = res.Verdict + "/" + res.How
			out, errOut, code := g.exec(scratch, nil, nil, "cherry", "pick", r.c, r.c+"^")
			if code != 0 {
				t.Fatalf("git cherry: %s", errOut)
			}
			pk.cherry, _, _ = strings.Cut(strings.TrimSpace(out), " ")
			trailer := strings.TrimSpace(g.run(scratch, "log", "-1", "--format=%H", "--fixed-strings", "--grep=(cherry picked from commit "+r.c+")", "pick")) != ""
			switch {
			case pk.cherry == "-":
				pk.ref = "present/patch-id"
			case trailer:
				pk.ref = "present/trailer"
			default:
				pk.ref = "(no trailer, different patch-id)"
			}
			picks = append(picks, pk)
			if pk.ours != pk.ref {
				t.Errorf("%s cherry-picked -x onto %s: ours %s, git %s", r.c, r.y, pk.ours, pk.ref)
			}
		}
	}

	// Report.
	var b strings.Builder
	fmt.Fprintf(&b, "pairs checked: %d; skipped: %v\n", len(rows), skipped)
	verdicts := []string{"present/patch-id", "present/trailer", "present/content", "applies", "conflicts", "not-applicable"}
	fmt.Fprintf(&b, "\n| ours \\ git | %s |\n|---|%s\n", strings.Join(verdicts, " | "), strings.Repeat("---|", len(verdicts)))
	agree := 0
	for _, o := range verdicts {
		fmt.Fprintf(&b, "| %s |", o)
		for _, gv := range verdicts {
			n := 0
			for _, r := range rows {
				if r.ours == o && r.ref == gv {
					n++
				}
			}
			fmt.Fprintf(&b, " %d |", n)
		}
		b.WriteString("\n")
	}
	for _, r := range rows {
		if r.ours == r.ref {
			agree++
		}
	}
	fmt.Fprintf(&b, "\nverdict agreement: %d/%d\n", agree, len(rows))
	count := func(f func(row) bool) int {
		n := 0
		for _, r := range rows {
			if f(r) {
				n++
			}
		}
		return n
	}
	ourPID := func(r row) bool { return r.ours == "present/patch-id" }
	fmt.Fprintf(&b, "patch-id: ours present & cherry '-': %d; ours present & cherry '+': %d; ours not & cherry '-': %d; ours not & cherry '+': %d\n",
		count(func(r row) bool { return ourPID(r) && r.cherry == "-" }), count(func(r row) bool { return ourPID(r) && r.cherry == "+" }),
		count(func(r row) bool { return !ourPID(r) && r.cherry == "-" }), count(func(r row) bool { return !ourPID(r) && r.cherry == "+" }))
	fmt.Fprintf(&b, "patch-id: ours present & full-history git patch-id: %d/%d\n",
		count(func(r row) bool { return ourPID(r) == r.pidFull }), len(rows))
	fmt.Fprintf(&b, "apply --check (all pairs): both ok %d, both fail %d, ours only %d, git only %d\n",
		count(func(r row) bool { return r.ourApply && r.gitApply }), count(func(r row) bool { return !r.ourApply && !r.gitApply }),
		count(func(r row) bool { return r.ourApply && !r.gitApply }), count(func(r row) bool { return !r.ourApply && r.gitApply }))
	fmt.Fprintf(&b, "apply -R --check (all pairs): both ok %d, both fail %d, ours only %d, git only %d\n",
		count(func(r row) bool { return r.ourRev && r.gitRev }), count(func(r row) bool { return !r.ourRev && !r.gitRev }),
		count(func(r row) bool { return r.ourRev && !r.gitRev }), count(func(r row) bool { return !r.ourRev && r.gitRev }))
	fmt.Fprintf(&b, "apply --3way (pairs that do not apply): both clean %d, both not %d, ours only %d, git only %d\n",
		count(func(r row) bool { return r.have3 && r.our3 && r.git3 }), count(func(r row) bool { return r.have3 && !r.our3 && !r.git3 }),
		count(func(r row) bool { return r.have3 && r.our3 && !r.git3 }), count(func(r row) bool { return r.have3 && !r.our3 && r.git3 }))
	med := func(f func(row) time.Duration) time.Duration {
		d := make([]time.Duration, len(rows))
		for i, r := range rows {
			d[i] = f(r)
		}
		slices.Sort(d)
		if len(d) == 0 {
			return 0
		}
		return d[len(d)/2]
	}
	fmt.Fprintf(&b, "median per pair: Assess %v; git cherry %v; git read-tree %v; git apply --check %v; cherry+apply %v; cherry+read-tree+apply %v\n",
		med(func(r row) time.Duration { return r.tOurs }), med(func(r row) time.Duration { return r.tCherry }),
		med(func(r row) time.Duration { return r.tRT }), med(func(r row) time.Duration { return r.tApply }),
		med(func(r row) time.Duration { return r.tCherry + r.tApply }), med(func(r row) time.Duration { return r.tCherry + r.tRT + r.tApply }))
	byKind := make(map[string]int)
	for _, r := range rows {
		byKind[r.kind]++
	}
	fmt.Fprintf(&b, "pairs by source: %v\n", byKind)
	if len(picks) > 0 {
		counts := make(map[[2]string]int)
		for _, pk := range picks {
			counts[[2]string{pk.ours, pk.ref}]++
		}
		fmt.Fprintf(&b, "cherry-pick -x onto the target, %d picks (ours, git: count): %v\n", len(picks), counts)
	}
	t.Log("\n" + b.String())

	if out := os.Getenv("DPIHUB_REALREPO_OUT"); out != "" {
		var s strings.Builder
		s.WriteString("commit\tfrom\ttarget\tsource\tours\tgit\tcherry\tpid_full\ttrailer\tgit_apply\tour_apply\tgit_rev\tour_rev\tgit_3way\tour_3way\tours_ms\tcherry_ms\tapply_ms\n")
		sort.SliceStable(rows, func(i, j int) bool { return rows[i].y < rows[j].y })
		for _, r := range rows {
			fmt.Fprintf(&s, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%t\t%t\t%t\t%t\t%t\t%t\t%t\t%t\t%.1f\t%.1f\t%.1f\n",
				r.c, r.x, r.y, r.kind, r.ours, r.ref, r.cherry, r.pidFull, r.trailer, r.gitApply, r.ourApply, r.gitRev, r.ourRev,
				r.git3, r.our3, ms(r.tOurs), ms(r.tCherry), ms(r.tApply))
		}
		if err := os.WriteFile(out, []byte(s.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out+".summary", []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// trailerRe finds what `git cherry-pick -x` writes.
var trailerRe = regexp.MustCompile(`\(cherry picked from commit ([0-9a-f]{40})\)`)

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// spreadRows returns n elements of s, evenly spaced, or all of s.
func spreadRows[T any](s []T, n int) []T {
	if n <= 0 {
		return nil
	}
	if len(s) <= n {
		return s
	}
	out := make([]T, n)
	for i := range out {
		out[i] = s[i*len(s)/n]
	}
	return out
}

// spread returns n elements of s, evenly spaced, or all of s.
func spread(s []string, n int) []string { return spreadRows(s, n) }

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return n
}
