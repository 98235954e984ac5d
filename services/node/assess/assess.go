package assess

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/dpihub/dpihub/events"
)

// Errors for input Assess cannot assess. They are wrapped with detail.
var (
	// ErrBadPatch is returned for input that is not a patch.
	ErrBadPatch = errors.New("not a patch")
	// ErrNotRepository is returned when the directory is not a git
	// repository.
	ErrNotRepository = errors.New("not a git repository")
	// ErrUnknownRef is returned when the ref names no commit.
	ErrUnknownRef = errors.New("unknown ref")
)

// Conflict is a part of a fix that does not apply to the fork.
type Conflict struct {
	// File is the path in the fork (the patch's old name, or its new name
	// for a file the patch creates).
	File string `json:"file"`
	// Hunk is the 1-based index of the failing hunk within File, in patch
	// order; 0 when the file as a whole cannot be patched (it is missing,
	// already exists, has another type, or its binary content differs).
	Hunk int `json:"hunk"`
	// Reason says why, for people; its wording is not stable.
	Reason string `json:"reason,omitempty"`
}

// Result is the assessment of one fix against one fork at one commit.
type Result struct {
	// Verdict is events.VerdictPresent, VerdictApplies, VerdictConflicts
	// or VerdictNotApplicable.
	Verdict string `json:"verdict"`
	// PatchID is the fix's stable patch-id, exactly as `git patch-id
	// --stable` prints it; "" when the patch has no diff git would hash.
	PatchID string `json:"patch_id"`
	// PresentAs is the fork commit that carries the fix (How "patch-id" or
	// "trailer").
	PresentAs string `json:"present_as,omitempty"`
	// How says how a present fix was found: events.HowPatchID,
	// HowTrailer or HowContent.
	How string `json:"how,omitempty"`
	// Conflicts lists what fails, for the verdict "conflicts".
	Conflicts []Conflict `json:"conflicts,omitempty"`
	// ThreeWayClean, for the verdict "conflicts", says whether
	// `git apply --3way` would apply the fix without conflicts.
	ThreeWayClean *bool `json:"three_way_clean,omitempty"`
	// Files are the paths the fix touches, in patch order (both names of a
	// renamed file).
	Files []string `json:"files"`
	// Ref is the ref assessed ("HEAD" when none was given) and Head the
	// commit it resolved to.
	Ref  string `json:"ref"`
	Head string `json:"head"`
}

// Assess assesses patch (one commit as `git format-patch` writes it, or a
// `git diff`) against the repository at dir (a work tree or a bare
// repository) at ref ("" means HEAD). It reads the repository with the git
// command line and never changes it; the work tree, if any, is not looked
// at.
//
// The checks run in this order, and the first that holds gives the verdict:
//
//  1. present, how "patch-id": a commit reachable from ref (and, when the
//     patch names its base commit with `format-patch --base` and the fork
//     has that commit, not reachable from the base) has the fix's stable
//     patch-id. The newest such commit is named. A `cherry-pick -x` of the
//     fix is usually found here, before its trailer is looked at.
//  2. present, how "trailer": a commit in that range says
//     "(cherry picked from commit <id>)" for the id on the patch's From line.
//  3. applies: the patch applies to the tree at ref as
//     `git apply --cached --check` would find (hunks may move, context must
//     match exactly, no fuzz).
//  4. present, how "content": the patch applies in reverse, as
//     `git apply -R --check` would find.
//  5. not-applicable: no file the patch modifies, deletes or renames exists
//     at ref (a patch that only creates files gets "conflicts" when they
//     exist).
//  6. conflicts, naming each failing hunk and whether a 3-way apply would be
//     clean.
//
// Input that cannot be assessed gives an error wrapping ErrBadPatch,
// ErrNotRepository or ErrUnknownRef; any other error is a failure to run
// git.
func Assess(ctx context.Context, dir, ref string, patch []byte) (Result, error) {
	fx, err := parsePatch(patch)
	if err != nil {
		return Result{}, fmt.Errorf("assess patch against %s: %w", dir, err)
	}
	if ref == "" {
		ref = "HEAD"
	}
	res, err := assess(ctx, fx, dir, ref)
	if err != nil {
		return Result{}, fmt.Errorf("assess fix %s against %s at %s: %w", fx.name(), dir, ref, err)
	}
	return res, nil
}

// name identifies a fix in error messages.
func (fx *fix) name() string {
	switch {
	case fx.commit != "":
		return fx.commit
	case fx.patchID != "":
		return "with patch-id " + fx.patchID
	}
	return "(no id)"
}

func assess(ctx context.Context, fx *fix, dir, ref string) (Result, error) {
	r, err := openRepo(ctx, dir)
	if err != nil {
		return Result{}, err
	}
	defer r.close()
	head, ok, err := r.resolveCommit(ctx, ref)
	if err != nil {
		return Result{}, err
	}
	if !ok {
		return Result{}, fmt.Errorf("%w: %q names no commit", ErrUnknownRef, ref)
	}
	res := Result{PatchID: fx.patchID, Files: fx.paths(), Ref: ref, Head: head}

	base := ""
	if fx.base != "" {
		if oid, ok, err := r.resolveCommit(ctx, fx.base); err != nil {
			return Result{}, err
		} else if ok {
			base = oid
		}
	}

	// The searches by patch-id and by trailer each walk the fork's history
	// in git; they run side by side, with reading the touched files' tree
	// entries, and the patch-id wins when both find a commit.
	var byID, byTrailer string
	var entries map[string]treeEntry
	err = parallel(ctx,
		func(ctx context.Context) error {
			if fx.patchID == "" {
				return nil
			}
			c, err := r.findByPatchID(ctx, fx, head, base)
			if err != nil {
				return fmt.Errorf("search by patch-id: %w", err)
			}
			byID = c
			return nil
		},
		func(ctx context.Context) error {
			if fx.commit == "" {
				return nil
			}
			c, err := r.findTrailer(ctx, fx.commit, head, base)
			if err != nil {
				return fmt.Errorf("search by trailer: %w", err)
			}
			byTrailer = c
			return nil
		},
		func(ctx context.Context) error {
			e, err := r.lsTree(ctx, head, fx.paths())
			entries = e
			return err
		},
	)
	if err != nil {
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		return Result{}, err
	}
	switch {
	case byID != "":
		res.Verdict, res.How, res.PresentAs = events.VerdictPresent, events.HowPatchID, byID
		return res, nil
	case byTrailer != "":
		res.Verdict, res.How, res.PresentAs = events.VerdictPresent, events.HowTrailer, byTrailer
		return res, nil
	}

	forward, err := newTree(r, entries).checkAll(ctx, fx.files, false)
	if err != nil {
		return Result{}, fmt.Errorf("check apply: %w", err)
	}
	if allOK(forward) {
		res.Verdict = events.VerdictApplies
		return res, nil
	}
	backward, err := newTree(r, entries).checkAll(ctx, reversed(fx.files), false)
	if err != nil {
		return Result{}, fmt.Errorf("check reverse apply: %w", err)
	}
	if allOK(backward) {
		res.Verdict, res.How = events.VerdictPresent, events.HowContent
		return res, nil
	}
	if old := fx.oldPaths(); len(old) > 0 {
		anyExists := false
		for _, p := range old {
			if _, ok := entries[p]; ok {
				anyExists = true
				break
			}
		}
		if !anyExists {
			res.Verdict = events.VerdictNotApplicable
			return res, nil
		}
	}

	res.Verdict = events.VerdictConflicts
	for _, o := range forward {
		if o.whole != "" {
			res.Conflicts = append(res.Conflicts, Conflict{File: o.file, Hunk: 0, Reason: o.whole})
		}
		for _, h := range o.hunks {
			res.Conflicts = append(res.Conflicts, Conflict{File: o.file, Hunk: h.index, Reason: h.reason})
		}
	}
	merged, err := newTree(r, entries).checkAll(ctx, fx.files, true)
	if err != nil {
		return Result{}, fmt.Errorf("check 3-way apply: %w", err)
	}
	clean := allOK(merged)
	res.ThreeWayClean = &clean
	return res, nil
}

// parallel runs fns concurrently and returns the first error to occur,
// cancelling the others' context when one fails.
func parallel(ctx context.Context, fns ...func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for _, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(ctx); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
				cancel()
			}
		}()
	}
	wg.Wait()
	return first
}

// WriteJSON writes r as one JSON object on one line, as
// `dpihub fix assess` prints it.
func WriteJSON(w io.Writer, r Result) error {
	if r.Files == nil {
		r.Files = []string{}
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write assessment: %w", err)
	}
	return nil
}
