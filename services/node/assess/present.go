package assess

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/dpihub/dpihub/services/node/patchid"
)

// errFound stops a patch-id scan at the first match.
var errFound = errors.New("found")

// revRange is the history searched for the fix: commits reachable from head
// and, when the patch names a base the fork has, not from that base.
func revRange(head, base string) []string {
	if base == "" {
		return []string{head}
	}
	return []string{head, "^" + base}
}

// findByPatchID returns the newest commit in the range whose stable
// patch-id is id, or "".
//
// A commit with the same stable patch-id touches exactly the same files, so
// git is asked only for commits that touch one of them (`--full-history`
// so that no side branch is pruned, `--full-diff` so that the whole commit
// is hashed). git then diffs only those commits, as `git cherry` diffs only
// the commits whose file list matches; the diff streams through
// patchid.Scan and git is stopped at the first match.
func (r *repo) findByPatchID(ctx context.Context, fx *fix, head, base string) (string, error) {
	args := []string{
		"log", "-p", "--no-merges", "--full-history", "--full-diff",
		"--format=commit %H", "--no-color", "--no-ext-diff", "--no-textconv",
		"--binary", "--diff-algorithm=myers", "--src-prefix=a/", "--dst-prefix=b/",
	}
	switch {
	case fx.copies:
		args = append(args, "-C")
	case fx.renames:
		args = append(args, "-M")
	default:
		args = append(args, "--no-renames")
	}
	args = append(args, revRange(head, base)...)
	args = append(args, "--")
	args = append(args, fx.paths()...)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := r.command(ctx, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", fmt.Errorf("git log: %w", err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("git log: %w", err)
	}
	found := ""
	scanErr := patchid.Scan(stdout, patchid.Options{Stable: true}, func(res patchid.Result) error {
		if res.PatchID == fx.patchID {
			found = res.CommitID
			return errFound
		}
		return nil
	})
	if scanErr != nil {
		// Stop git: nobody reads the rest of its output.
		cancel()
		_ = cmd.Wait()
		if found != "" {
			return found, nil
		}
		return "", fmt.Errorf("patch-ids of git log: %w", scanErr)
	}
	if err := cmd.Wait(); err != nil {
		return "", &GitError{Args: args[:1], Stderr: strings.TrimSpace(stderr.String()), Err: err}
	}
	return "", nil
}

// findTrailer returns the newest commit in the range whose message says
// "(cherry picked from commit <commit>)", as `git cherry-pick -x` writes,
// or "". git does the search.
func (r *repo) findTrailer(ctx context.Context, commit, head, base string) (string, error) {
	args := []string{"log", "-1", "--format=%H", "--fixed-strings",
		"--grep=(cherry picked from commit " + commit + ")"}
	args = append(args, revRange(head, base)...)
	args = append(args, "--")
	out, err := r.output(ctx, nil, args...)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}
