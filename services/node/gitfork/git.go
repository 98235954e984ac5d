package gitfork

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"

	"github.com/dpihub/dpihub/services/node"
	"github.com/dpihub/dpihub/services/node/internal/gitcmd"
)

// ErrNotRepository is returned (wrapped) when a fork's directory is not a
// git repository; it also wraps node.ErrInvalid.
var ErrNotRepository = fmt.Errorf("%w: not a git repository", node.ErrInvalid)

// GitError reports a git command that failed.
type GitError = gitcmd.Error

func command(ctx context.Context, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "git", append(append([]string{}, gitcmd.Config...), args...)...)
	cmd.Dir = dir
	cmd.Env = gitcmd.Env()
	return cmd
}

// git runs git in dir and returns its standard output.
func git(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := command(ctx, dir, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &GitError{Args: args, Stderr: strings.TrimSpace(errb.String()), Err: err}
	}
	return out.Bytes(), nil
}

// stream runs git in dir and hands its standard output to fn; git is
// stopped when fn returns early.
func stream(ctx context.Context, dir string, fn func(io.Reader) error, args ...string) error {
	return streamWith(ctx, dir, nil, fn, args...)
}

// streamWith is stream with stdin (nil: none) given to git.
func streamWith(ctx context.Context, dir string, stdin io.Reader, fn func(io.Reader) error, args ...string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := command(ctx, dir, args...)
	cmd.Stdin = stdin
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("git %s: %w", args[0], err)
	}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("git %s: %w", args[0], err)
	}
	ferr := fn(stdout)
	if ferr != nil {
		cancel()
		_ = cmd.Wait()
		return ferr
	}
	// Drain what fn left so that git is not blocked on a full pipe.
	_, _ = io.Copy(io.Discard, stdout)
	if err := cmd.Wait(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &GitError{Args: args, Stderr: strings.TrimSpace(errb.String()), Err: err}
	}
	return nil
}

// checkRepo checks that dir is a git repository.
func checkRepo(ctx context.Context, dir string) error {
	if dir == "" {
		return fmt.Errorf("%w: no directory given", ErrNotRepository)
	}
	if _, err := git(ctx, dir, "rev-parse", "--git-dir"); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, exec.ErrNotFound) {
			return err // no git: the node's failure, not the input's
		}
		// Neither dir nor git's message (which repeats it) goes into the
		// error: it may be answered to an API's caller.
		return ErrNotRepository
	}
	return nil
}

// resolve returns the commit id rev names in dir, or an error wrapping
// node.ErrInvalid when it names none.
func resolve(ctx context.Context, dir, rev string) (string, error) {
	if rev == "" || strings.HasPrefix(rev, "-") {
		return "", node.Invalid("%q is not a revision", rev)
	}
	out, err := git(ctx, dir, "rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{commit}")
	if err != nil {
		var ge *GitError
		if errors.As(err, &ge) {
			return "", node.Invalid("%q names no commit in the repository", rev)
		}
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}
