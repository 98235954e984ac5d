package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/dpihub/dpihub/events/minhash"
	"github.com/dpihub/dpihub/services/node"
	"github.com/dpihub/dpihub/services/node/gitfork"
)

const dedupUsage = "usage: dpihub dedup scan --repo DIR --upstream REF [--threshold 0.5] [--candidates [--mbox DIR]] BRANCH BRANCH...\n" +
	"       dpihub dedup report --project SLUG [--api URL] [--json]"

// dedupCmd dispatches dpihub dedup scan|report.
func dedupCmd(ctx context.Context, env Env, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(env.Stderr, dedupUsage)
		return errUsage
	}
	switch args[0] {
	case "scan":
		return dedupScan(ctx, env, args[1:])
	case "report":
		return dedupReport(ctx, env, args[1:])
	case "-h", "--help", "help":
		fmt.Fprintln(env.Stdout, dedupUsage)
		return errHelp
	default:
		fmt.Fprintf(env.Stderr, "dpihub: unknown dedup command %q\n%s\n", args[0], dedupUsage)
		return errUsage
	}
}

// dedupPair is one line of dpihub dedup scan: two branches and how much of
// their own changes they share. The field order is the interface's.
type dedupPair struct {
	A              string   `json:"a"`
	B              string   `json:"b"`
	Similarity     float64  `json:"similarity"`       // MinHash estimate of Jaccard
	Jaccard        float64  `json:"jaccard"`          // exact, over the shingle sets
	SharedPatchIDs int      `json:"shared_patch_ids"` // identical commits, however they got there
	Files          []string `json:"files"`            // changed by both, sorted, at most maxPairFiles
}

// dedupCandidate is one line of dpihub dedup scan --candidates: a change
// two or more branches carry and upstream does not, worth upstreaming once
// rather than keeping in every fork.
type dedupCandidate struct {
	PatchID  string            `json:"patch_id"`
	Branches map[string]string `json:"branches"` // branch -> its (newest) commit with the patch-id
	Subject  string            `json:"subject"`
}

// maxPairFiles bounds the files of a pair line: enough to see where the
// forks meet without printing two forks' worth of paths.
const maxPairFiles = 20

// dedupCacheSize is the shingles the scan's fingerprint cache holds (16 MB
// of them): branches of one repository often share commits (one branched
// from another, or both from an old release), and those are read once.
const dedupCacheSize = 1 << 21

// branchPrint is one branch's fingerprint.
type branchPrint struct {
	name, head, base string
	fp               gitfork.FP
	sig              minhash.Signature
}

// dedupScan treats each branch as a fork of the upstream ref and prints
// the pairs of branches that duplicate each other (or, with --candidates,
// the changes several carry).
//
// A pair is printed when its MinHash similarity, as printed (two
// decimals), reaches the threshold, or when the branches share a patch-id:
// an identical commit in two forks is a duplicate however much else they
// carry. Pairs come most similar first (then by exact Jaccard, shared
// patch-ids, and names), so the output does not depend on map order.
func dedupScan(ctx context.Context, env Env, args []string) error {
	fs := flags(env, "dedup scan")
	repo := fs.String("repo", "", "the repository holding every branch (a fork network fetched into one repo)")
	upstream := fs.String("upstream", "", "the upstream ref every branch is a fork of")
	threshold := fs.Float64("threshold", 0.5, "print pairs whose similarity is at least this (0 to 1)")
	fs.Bool("json", false, "print JSON lines: the only output there is, accepted so that scripts may ask for it")
	candidates := fs.Bool("candidates", false, "print instead the changes (patch-ids) two or more branches carry and upstream lacks, most carried first")
	mbox := fs.String("mbox", "", "with --candidates: write DIR/<rank>-<patch-id>.mbox for each, ready for git am on upstream")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), dedupUsage)
		fs.PrintDefaults()
	}
	if err := parse(fs, env, args); err != nil {
		return err
	}
	if *mbox != "" && !*candidates {
		fmt.Fprintln(env.Stderr, "dpihub dedup scan: --mbox needs --candidates")
		return errUsage
	}
	switch {
	case *repo == "":
		return errors.New("--repo is required")
	case *upstream == "":
		return errors.New("--upstream is required")
	case math.IsNaN(*threshold) || *threshold < 0 || *threshold > 1:
		return fmt.Errorf("--threshold %v is not between 0 and 1", *threshold)
	case fs.NArg() < 2:
		return fmt.Errorf("dedup scan needs at least two branches, got %d", fs.NArg())
	}
	branches := fs.Args()
	for i, b := range branches {
		if slices.Contains(branches[:i], b) {
			return fmt.Errorf("branch %s is given twice", b)
		}
	}

	start := time.Now()
	up, err := resolveRef(ctx, *repo, *upstream, "--upstream "+*upstream)
	if err != nil {
		return err
	}
	prints := make([]*branchPrint, 0, len(branches))
	for _, b := range branches {
		head, err := resolveRef(ctx, *repo, b, "branch "+b)
		if err != nil {
			return err
		}
		prints = append(prints, &branchPrint{name: b, head: head})
	}
	cache := gitfork.NewFingerprintCache(dedupCacheSize)
	commits := 0
	for _, p := range prints {
		if p.base, err = gitfork.MergeBase(ctx, *repo, up, p.head); err != nil {
			return fmt.Errorf("branch %s: %w", p.name, err)
		}
		bar := &lineProgress{w: env.Stderr, name: p.name}
		p.fp, err = cache.Fingerprint(ctx, *repo, p.base, p.head, bar.update)
		bar.finish()
		if err != nil {
			return fmt.Errorf("branch %s: %w", p.name, err)
		}
		p.sig = minhash.Sign(p.fp.Shingles)
		commits += p.fp.Commits
	}

	var n int
	if *candidates {
		n, err = printCandidates(ctx, env.Stdout, cache, *repo, *upstream, up, prints, *mbox)
	} else {
		n, err = printPairs(env.Stdout, prints, *threshold)
	}
	if err != nil {
		return err
	}
	what := "pairs"
	if *candidates {
		what = "candidates"
	}
	fmt.Fprintf(env.Stderr, "%d branches, %d commits of their own, %d %s, in %s\n",
		len(prints), commits, n, what, time.Since(start).Round(time.Millisecond))
	return nil
}

// resolveRef returns the commit rev names in repo; its errors say whether
// the repository or the name (what, as the user gave it) is wrong.
func resolveRef(ctx context.Context, repo, rev, what string) (string, error) {
	c, err := gitfork.Head(ctx, node.Fork{Dir: repo, Branch: rev})
	switch {
	case errors.Is(err, gitfork.ErrNotRepository):
		return "", fmt.Errorf("--repo %s is not a git repository", repo)
	case errors.Is(err, node.ErrInvalid):
		return "", fmt.Errorf("%s names no commit in %s", what, repo)
	case err != nil:
		return "", fmt.Errorf("%s: %w", what, err)
	}
	return c, nil
}

// printPairs writes the pair lines and returns how many.
func printPairs(w io.Writer, prints []*branchPrint, threshold float64) (int, error) {
	var pairs []dedupPair
	for i, a := range prints {
		for _, b := range prints[i+1:] {
			sim := 0.0
			// Two forks without changed lines are not duplicates of each
			// other, though their (empty) signatures are equal.
			if len(a.fp.Shingles) > 0 && len(b.fp.Shingles) > 0 {
				sim = round2(a.sig.Similarity(b.sig))
			}
			shared := 0
			for id := range a.fp.PatchIDs {
				if _, ok := b.fp.PatchIDs[id]; ok {
					shared++
				}
			}
			if sim < threshold && shared == 0 {
				continue
			}
			jac := 0.0
			if len(a.fp.Shingles) > 0 && len(b.fp.Shingles) > 0 {
				jac = round2(minhash.Jaccard(a.fp.Shingles, b.fp.Shingles))
			}
			pairs = append(pairs, dedupPair{
				A: a.name, B: b.name, Similarity: sim, Jaccard: jac, SharedPatchIDs: shared,
				Files: sharedFiles(a.fp.Files, b.fp.Files),
			})
		}
	}
	sort.SliceStable(pairs, func(i, j int) bool {
		p, q := pairs[i], pairs[j]
		switch {
		case p.Similarity != q.Similarity:
			return p.Similarity > q.Similarity
		case p.Jaccard != q.Jaccard:
			return p.Jaccard > q.Jaccard
		case p.SharedPatchIDs != q.SharedPatchIDs:
			return p.SharedPatchIDs > q.SharedPatchIDs
		case p.A != q.A:
			return p.A < q.A
		}
		return p.B < q.B
	})
	enc := json.NewEncoder(w)
	for _, p := range pairs {
		if err := enc.Encode(p); err != nil {
			return 0, fmt.Errorf("write pair: %w", err)
		}
	}
	return len(pairs), nil
}

// sharedFiles returns the paths in both sorted sets, at most maxPairFiles.
func sharedFiles(a, b []string) []string {
	out := []string{}
	for i, j := 0, 0; i < len(a) && j < len(b) && len(out) < maxPairFiles; {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// printCandidates writes a line for every patch-id two or more branches
// carry and upstream lacks, and with mboxDir an mbox of each, and returns
// how many. The most carried come first; among equals, the order of the
// first carrying branch's commits, oldest first, so that `git am` of the
// mboxes in name order applies changes before the ones that build on them.
func printCandidates(ctx context.Context, w io.Writer, cache *gitfork.FingerprintCache, repo, upstream, up string, prints []*branchPrint, mboxDir string) (int, error) {
	type carrier struct{ branch, commit string }
	carriers := map[string][]carrier{}
	for _, p := range prints { // command-line order: the first carrier is the first branch named
		for id, c := range p.fp.PatchIDs {
			carriers[id] = append(carriers[id], carrier{p.name, c})
		}
	}
	for id, cs := range carriers {
		if len(cs) < 2 {
			delete(carriers, id)
		}
	}
	if len(carriers) == 0 {
		return 0, nil
	}
	// Upstream already has a change when a commit of it since a branch's
	// merge-base has the same patch-id (it was cherry-picked or applied
	// there after the forks branched off). Branches of one network have
	// many merge-bases whose ranges overlap; the cache reads each upstream
	// commit once.
	seenBase := map[string]bool{}
	for _, p := range prints {
		if seenBase[p.base] || p.base == up {
			continue
		}
		seenBase[p.base] = true
		fp, err := cache.Fingerprint(ctx, repo, p.base, up, nil)
		if err != nil {
			return 0, fmt.Errorf("upstream %s since %s: %w", upstream, p.base, err)
		}
		for id := range fp.PatchIDs {
			delete(carriers, id)
		}
	}
	// Where each commit stands in its branch, oldest first.
	order := map[string]int{}
	for _, p := range prints {
		if p.fp.Commits == 0 {
			continue
		}
		commits, err := revList(ctx, repo, p.base+".."+p.head)
		if err != nil {
			return 0, fmt.Errorf("branch %s: %w", p.name, err)
		}
		for i, c := range commits {
			if _, ok := order[c]; !ok {
				order[c] = i
			}
		}
	}
	ids := make([]string, 0, len(carriers))
	for id := range carriers {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		a, b := carriers[ids[i]], carriers[ids[j]]
		switch {
		case len(a) != len(b):
			return len(a) > len(b)
		case a[0].branch != b[0].branch:
			return branchIndex(prints, a[0].branch) < branchIndex(prints, b[0].branch)
		case order[a[0].commit] != order[b[0].commit]:
			return order[a[0].commit] < order[b[0].commit]
		}
		return ids[i] < ids[j]
	})
	if mboxDir != "" {
		if err := os.MkdirAll(mboxDir, 0o755); err != nil {
			return 0, fmt.Errorf("--mbox: %w", err)
		}
	}
	// The subjects in one git call: reading each commit as a fix (below,
	// for its mbox) costs a few git calls per candidate.
	var subjects map[string]string
	if mboxDir == "" {
		firsts := make([]string, len(ids))
		for i, id := range ids {
			firsts[i] = carriers[id][0].commit
		}
		var err error
		if subjects, err = commitSubjects(ctx, repo, firsts); err != nil {
			return 0, err
		}
	}
	enc := json.NewEncoder(w)
	for rank, id := range ids {
		cs := carriers[id]
		line := dedupCandidate{PatchID: id, Branches: map[string]string{}, Subject: subjects[cs[0].commit]}
		for _, c := range cs {
			line.Branches[c.branch] = c.commit
		}
		if mboxDir != "" {
			fix, err := gitfork.Fix(ctx, repo, upstream, cs[0].commit)
			if err != nil {
				return 0, fmt.Errorf("candidate %s: %w", id, err)
			}
			line.Subject = fix.Title
			path := filepath.Join(mboxDir, fmt.Sprintf("%04d-%s.mbox", rank+1, id))
			if err := os.WriteFile(path, gitfork.Mbox(fix, []byte(fix.Diff)), 0o644); err != nil {
				return 0, fmt.Errorf("--mbox: %w", err)
			}
		}
		if err := enc.Encode(line); err != nil {
			return 0, fmt.Errorf("write candidate: %w", err)
		}
	}
	return len(ids), nil
}

// commitSubjects returns the subject of each commit, on one line with its
// white space collapsed, as a fix's title is.
func commitSubjects(ctx context.Context, repo string, commits []string) (map[string]string, error) {
	cmd := exec.CommandContext(ctx, "git", "-C", repo, "-c", "log.showSignature=false", "-c", "i18n.logOutputEncoding=UTF-8",
		"log", "--no-walk=unsorted", "--stdin", "--format=%H%x00%s")
	cmd.Stdin = strings.NewReader(strings.Join(commits, "\n") + "\n")
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("subjects of %d commits in %s: %w", len(commits), repo, err)
	}
	subjects := make(map[string]string, len(commits))
	for _, l := range strings.Split(string(out), "\n") {
		if id, subject, ok := strings.Cut(l, "\x00"); ok {
			subjects[id] = strings.Join(strings.Fields(subject), " ")
		}
	}
	return subjects, nil
}

func branchIndex(prints []*branchPrint, name string) int {
	return slices.IndexFunc(prints, func(p *branchPrint) bool { return p.name == name })
}

// lineProgress shows one branch's fingerprint on one line of stderr,
// redrawn at most ten times a second, ended when the branch is done.
type lineProgress struct {
	w           io.Writer
	name        string
	start, last time.Time
	done, total int
}

func (p *lineProgress) update(done, total int) {
	now := time.Now()
	if p.start.IsZero() {
		p.start = now
	}
	p.done, p.total = done, total
	if done != total && now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	fmt.Fprintf(p.w, "\r%s: %d/%d commits", p.name, done, total)
}

// finish ends the line, if one was started.
func (p *lineProgress) finish() {
	if p.start.IsZero() {
		return
	}
	fmt.Fprintf(p.w, "\r%s: %d/%d commits in %s\n", p.name, p.done, p.total, time.Since(p.start).Round(time.Millisecond))
}

// dedupReport prints a project's duplicated effort as the hub's dedup
// service sees it: clusters of forks that carry largely the same changes,
// and the upstream candidates (changes two or more countries carry).
func dedupReport(ctx context.Context, env Env, args []string) error {
	fs := flags(env, "dedup report")
	api := apiFlag(fs)
	projectName := fs.String("project", "", "the upstream project slug (required)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := parse(fs, env, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *projectName == "" {
		return errors.New("--project is required")
	}
	var r struct {
		Project    string     `json:"project"`
		Forks      int        `json:"forks"`
		Clusters   [][]string `json:"clusters"`
		Candidates []struct {
			PatchID   string            `json:"patch_id"`
			Forks     []string          `json:"forks"`
			Countries int               `json:"countries"`
			Commits   map[string]string `json:"commits"`
		} `json:"candidates"`
	}
	if err := getJSON(ctx, *api+"/api/v1/dedup/projects/"+url.PathEscape(*projectName), "", &r); err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(env.Stdout).Encode(r)
	}
	w := env.Stdout
	fmt.Fprintf(w, "%s: %d forks fingerprinted\n", r.Project, r.Forks)
	if len(r.Clusters) == 0 {
		fmt.Fprintln(w, "no forks that carry largely the same changes")
	}
	for i, c := range r.Clusters {
		fmt.Fprintf(w, "cluster %d: %s\n", i+1, strings.Join(c, ", "))
	}
	if len(r.Candidates) == 0 {
		fmt.Fprintln(w, "no upstream candidates")
	}
	for _, c := range r.Candidates {
		fmt.Fprintf(w, "upstream candidate %s: carried by %d countries (%s)\n", c.PatchID, c.Countries, strings.Join(c.Forks, ", "))
		for _, f := range c.Forks {
			if commit := c.Commits[f]; commit != "" {
				fmt.Fprintf(w, "  %s: commit %s\n", f, commit)
			}
		}
	}
	return nil
}
