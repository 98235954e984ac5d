package gitfork

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/minhash"
	"github.com/dpihub/dpihub/services/node"
	"github.com/dpihub/dpihub/services/node/patchid"
)

// Head returns the commit id at the head of the fork's branch.
func Head(ctx context.Context, f node.Fork) (string, error) {
	if err := checkRepo(ctx, f.Dir); err != nil {
		return "", err
	}
	head, err := resolve(ctx, f.Dir, f.Branch)
	if err != nil {
		return "", fmt.Errorf("head of fork %s: %w", f.Key(), err)
	}
	return head, nil
}

// MergeBase returns the best common ancestor of a and b in dir.
func MergeBase(ctx context.Context, dir, a, b string) (string, error) {
	out, err := git(ctx, dir, "merge-base", a, b)
	if err != nil {
		return "", fmt.Errorf("merge-base of %s and %s: %w", a, b, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// SnapshotOption changes how Snapshot reads a fork.
type SnapshotOption func(*snapshotOptions)

type snapshotOptions struct {
	cache    *FingerprintCache
	progress func(done, total int)
}

// WithProgress has Snapshot report, while it fingerprints the fork's own
// commits, how many of them it has done: for a large fork, a first
// snapshot takes a while.
func WithProgress(progress func(done, total int)) SnapshotOption {
	return func(o *snapshotOptions) { o.progress = progress }
}

// WithFingerprintCache makes Snapshot read, of the fork's own commits, only
// those c has not seen (see FingerprintCache). Without it every snapshot
// reads them all.
func WithFingerprintCache(c *FingerprintCache) SnapshotOption {
	return func(o *snapshotOptions) { o.cache = c }
}

// Snapshot reads the fork's state: the head of its branch, the merge-base
// with its upstream ref, how far ahead and behind upstream it is, the
// stable patch-ids of its fork-only (non-merge) commits, as
// `git log -p upstream..branch | git patch-id --stable` gives them, the
// files those commits change, and the MinHash signature of their changed
// lines (Fingerprint; none when they change no line). It never changes the
// repository.
func Snapshot(ctx context.Context, f node.Fork, opts ...SnapshotOption) (events.ForkSnapshot, error) {
	var o snapshotOptions
	for _, opt := range opts {
		opt(&o)
	}
	snap, err := snapshot(ctx, f, o)
	if err != nil {
		return events.ForkSnapshot{}, fmt.Errorf("snapshot of fork %s: %w", f.Key(), err)
	}
	return snap, nil
}

func snapshot(ctx context.Context, f node.Fork, o snapshotOptions) (events.ForkSnapshot, error) {
	if err := checkRepo(ctx, f.Dir); err != nil {
		return events.ForkSnapshot{}, err
	}
	head, err := resolve(ctx, f.Dir, f.Branch)
	if err != nil {
		return events.ForkSnapshot{}, err
	}
	up, err := resolve(ctx, f.Dir, f.Ref())
	if err != nil {
		return events.ForkSnapshot{}, fmt.Errorf("upstream ref: %w", err)
	}
	base, err := MergeBase(ctx, f.Dir, up, head)
	if err != nil {
		return events.ForkSnapshot{}, err
	}
	out, err := git(ctx, f.Dir, "rev-list", "--left-right", "--count", up+"..."+head)
	if err != nil {
		return events.ForkSnapshot{}, err
	}
	counts := strings.Fields(string(out))
	if len(counts) != 2 {
		return events.ForkSnapshot{}, fmt.Errorf("git rev-list --count printed %q", out)
	}
	behind, err1 := strconv.Atoi(counts[0])
	ahead, err2 := strconv.Atoi(counts[1])
	if err1 != nil || err2 != nil {
		return events.ForkSnapshot{}, fmt.Errorf("git rev-list --count printed %q", out)
	}
	fp, err := o.cache.Fingerprint(ctx, f.Dir, base, head, o.progress)
	if err != nil {
		return events.ForkSnapshot{}, err
	}
	snap := events.ForkSnapshot{
		Branch: f.Branch, Head: head, MergeBase: base, Ahead: ahead, Behind: behind,
		Files:   fp.Files,
		TakenAt: time.Now().UTC().Truncate(time.Millisecond),
	}
	for id := range fp.PatchIDs {
		snap.PatchIDs = append(snap.PatchIDs, id)
	}
	sort.Strings(snap.PatchIDs)
	for _, id := range snap.PatchIDs {
		snap.Commits = append(snap.Commits, fp.PatchIDs[id])
	}
	// The signature of no shingles would make every two forks without
	// changed lines look identical: such a fork has none.
	if len(fp.Shingles) > 0 {
		snap.MinHash = minhash.Sign(fp.Shingles).Values()
		snap.MinHashVersion = minhash.Version
	}
	return snap, nil
}

// PatchIDs returns the stable patch-ids of the non-merge commits reachable
// from head and not from base, each mapped to the newest commit that has
// it.
func PatchIDs(ctx context.Context, dir, base, head string) (map[string]string, error) {
	ids := map[string]string{}
	rng := head
	if base != "" {
		rng = base + ".." + head
	}
	err := stream(ctx, dir, func(r io.Reader) error {
		return patchid.Scan(r, patchid.Options{Stable: true}, func(res patchid.Result) error {
			if _, ok := ids[res.PatchID]; !ok {
				ids[res.PatchID] = res.CommitID
			}
			return nil
		})
	}, "log", "-p", "--no-merges", "--format=commit %H", "--no-color", "--no-ext-diff", "--no-textconv",
		"--binary", "-M", "--src-prefix=a/", "--dst-prefix=b/", rng, "--")
	if err != nil {
		return nil, fmt.Errorf("patch-ids of %s: %w", rng, err)
	}
	return ids, nil
}
