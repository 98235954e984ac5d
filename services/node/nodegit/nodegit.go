// Package nodegit gives the node's rules their git: forks and commits read
// by package gitfork, diffs parsed by gitfork and hashed by package
// patchid, fixes judged by package assess. It turns their errors into the
// node's kinds (node.ErrMalformedFix, node.ErrForkUnreadable) and decides
// nothing else.
package nodegit

import (
	"context"
	"errors"
	"fmt"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/services/node"
	"github.com/dpihub/dpihub/services/node/assess"
	"github.com/dpihub/dpihub/services/node/gitfork"
	"github.com/dpihub/dpihub/services/node/patchid"
)

// Git runs the git command line for a node. The zero value is ready; it
// implements node.Git and node.Assessor. New gives one that fingerprints
// forks incrementally and reports its progress.
type Git struct {
	// Cache keeps the fingerprints of commits already read, so that a
	// fork's next snapshot reads only its new commits (nil: none).
	Cache *gitfork.FingerprintCache
	// Progress, when set, hears how far a snapshot's fingerprint is.
	Progress func(fork node.Fork, done, total int)
}

// New returns a Git with a fingerprint cache of the default size and
// progress reported to progress (nil: none).
func New(progress func(fork node.Fork, done, total int)) Git {
	return Git{Cache: gitfork.NewFingerprintCache(0), Progress: progress}
}

var (
	_ node.Git      = Git{}
	_ node.Assessor = Git{}
)

// Head implements node.Git with gitfork.Head.
func (Git) Head(ctx context.Context, f node.Fork) (string, error) { return gitfork.Head(ctx, f) }

// Snapshot implements node.Git with gitfork.Snapshot.
func (g Git) Snapshot(ctx context.Context, f node.Fork) (events.ForkSnapshot, error) {
	opts := []gitfork.SnapshotOption{gitfork.WithFingerprintCache(g.Cache)}
	if g.Progress != nil {
		opts = append(opts, gitfork.WithProgress(func(done, total int) { g.Progress(f, done, total) }))
	}
	return gitfork.Snapshot(ctx, f, opts...)
}

// Fix implements node.Git with gitfork.Fix.
func (Git) Fix(ctx context.Context, repo, upstreamRef, commit string) (events.FixPublished, error) {
	return gitfork.Fix(ctx, repo, upstreamRef, commit)
}

// Files implements node.Git with gitfork.Files.
func (Git) Files(diff []byte) ([]string, error) { return gitfork.Files(diff) }

// PatchID implements node.Git with patchid.Of.
func (Git) PatchID(diff []byte) (string, bool, error) { return patchid.Of(diff) }

// Mbox implements node.Git with gitfork.Mbox.
func (Git) Mbox(fix events.FixPublished, diff []byte) []byte { return gitfork.Mbox(fix, diff) }

// Assess implements node.Assessor with assess.Assess: a diff that is not a
// patch is a malformed fix, a directory that is no repository or a branch
// that names no commit is a fork that cannot be read.
func (Git) Assess(ctx context.Context, dir, branch string, diff []byte) (node.AssessResult, error) {
	res, err := assess.Assess(ctx, dir, branch, diff)
	switch {
	case errors.Is(err, assess.ErrBadPatch):
		return node.AssessResult{}, fmt.Errorf("%w: %v", node.ErrMalformedFix, err)
	case errors.Is(err, assess.ErrNotRepository), errors.Is(err, assess.ErrUnknownRef):
		return node.AssessResult{}, fmt.Errorf("%w: %w", node.ErrForkUnreadable, err)
	case err != nil:
		return node.AssessResult{}, err
	}
	var cs []events.Conflict
	for _, c := range res.Conflicts {
		cs = append(cs, events.Conflict{File: c.File, Hunk: c.Hunk, Reason: c.Reason})
	}
	return node.AssessResult{
		Head: res.Head, Verdict: res.Verdict, How: res.How, PresentAs: res.PresentAs,
		Conflicts: cs, ThreeWayClean: res.ThreeWayClean,
	}, nil
}
