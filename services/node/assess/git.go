package assess

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/dpihub/dpihub/services/node/internal/gitcmd"
)

// GitError reports a git command that failed.
type GitError = gitcmd.Error

// exitCode returns git's exit status, or -1 when err is not an exit.
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// repo reads one repository through the git command line. It starts at most
// one long-lived `git cat-file --batch` process, closed by close.
type repo struct {
	dir   string
	cat   *catFile
	cache map[string]cachedObject // by full object id
}

type cachedObject struct {
	typ  string
	data []byte
}

// openRepo checks that dir is (inside) a git repository.
func openRepo(ctx context.Context, dir string) (*repo, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNotRepository, dir, err)
	}
	r := &repo{dir: abs}
	if _, err := r.output(ctx, nil, "rev-parse", "--git-dir"); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrNotRepository, dir, err)
	}
	return r, nil
}

// command returns an unstarted git command in the repository.
func (r *repo) command(ctx context.Context, args ...string) *exec.Cmd {
	full := make([]string, 0, len(gitcmd.Config)+2+len(args))
	full = append(full, "-C", r.dir)
	full = append(full, gitcmd.Config...)
	full = append(full, args...)
	cmd := exec.CommandContext(ctx, "git", full...)
	cmd.Env = gitcmd.Env()
	return cmd
}

// output runs git with stdin (may be nil) and returns its standard output.
func (r *repo) output(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	cmd := r.command(ctx, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, &GitError{Args: args, Stderr: strings.TrimSpace(stderr.String()), Err: err}
	}
	return out, nil
}

// resolveCommit returns the full id of the commit rev names, or ok false when
// rev names no commit.
func (r *repo) resolveCommit(ctx context.Context, rev string) (oid string, ok bool, err error) {
	out, err := r.output(ctx, nil, "rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{commit}")
	if err != nil {
		if exitCode(err) == 1 && ctx.Err() == nil {
			return "", false, nil
		}
		return "", false, err
	}
	return strings.TrimSpace(string(out)), true, nil
}

// treeEntry is one entry of `git ls-tree`.
type treeEntry struct {
	mode uint32
	typ  string
	oid  string
}

// lsTree returns the entries at commit for exactly the given paths; paths
// that name nothing (or a directory) are absent from the map.
func (r *repo) lsTree(ctx context.Context, commit string, paths []string) (map[string]treeEntry, error) {
	entries := make(map[string]treeEntry, len(paths))
	if len(paths) == 0 {
		return entries, nil
	}
	want := make(map[string]bool, len(paths))
	for _, p := range paths {
		want[p] = true
	}
	args := append([]string{"ls-tree", "-r", "-z", "--full-tree", commit, "--"}, paths...)
	out, err := r.output(ctx, nil, args...)
	if err != nil {
		return nil, err
	}
	for _, rec := range bytes.Split(out, []byte{0}) {
		if len(rec) == 0 {
			continue
		}
		meta, path, ok := bytes.Cut(rec, []byte{'\t'})
		if !ok || !want[string(path)] {
			continue
		}
		f := strings.Fields(string(meta))
		if len(f) != 3 {
			return nil, fmt.Errorf("git ls-tree: unexpected line %q", rec)
		}
		mode, err := strconv.ParseUint(f[0], 8, 32)
		if err != nil {
			return nil, fmt.Errorf("git ls-tree: bad mode in %q: %w", rec, err)
		}
		entries[string(path)] = treeEntry{mode: uint32(mode), typ: f[1], oid: f[2]}
	}
	return entries, nil
}

// object reads one object by name through `git cat-file --batch`. It returns
// ok false when the repository has no such object or the name is an
// ambiguous abbreviation.
func (r *repo) object(ctx context.Context, name string) (typ string, data []byte, ok bool, err error) {
	if !isHex(name) {
		return "", nil, false, nil
	}
	if o, ok := r.cache[name]; ok {
		return o.typ, o.data, true, nil
	}
	if r.cat == nil {
		c, err := startCatFile(ctx, r)
		if err != nil {
			return "", nil, false, err
		}
		r.cat = c
	}
	typ, data, ok, err = r.cat.get(name)
	if ok && (len(name) == 40 || len(name) == 64) {
		if r.cache == nil {
			r.cache = make(map[string]cachedObject)
		}
		r.cache[name] = cachedObject{typ: typ, data: data}
	}
	return typ, data, ok, err
}

// close stops the cat-file process, if any.
func (r *repo) close() {
	if r.cat != nil {
		r.cat.close()
		r.cat = nil
	}
}

// catFile is a running `git cat-file --batch`.
type catFile struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	stderr *bytes.Buffer
}

func startCatFile(ctx context.Context, r *repo) (*catFile, error) {
	cmd := r.command(ctx, "cat-file", "--batch")
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("git cat-file: %w", err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("git cat-file: %w", err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("git cat-file: %w", err)
	}
	return &catFile{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 64<<10), stderr: &stderr}, nil
}

func (c *catFile) get(name string) (typ string, data []byte, ok bool, err error) {
	fail := func(err error) (string, []byte, bool, error) {
		return "", nil, false, &GitError{Args: []string{"cat-file", "--batch"}, Stderr: strings.TrimSpace(c.stderr.String()), Err: err}
	}
	if _, err := io.WriteString(c.in, name+"\n"); err != nil {
		return fail(err)
	}
	header, err := c.out.ReadString('\n')
	if err != nil {
		return fail(err)
	}
	f := strings.Fields(header)
	if len(f) == 2 && (f[1] == "missing" || f[1] == "ambiguous") {
		return "", nil, false, nil
	}
	if len(f) != 3 {
		return fail(fmt.Errorf("unexpected header %q", header))
	}
	size, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil || size < 0 {
		return fail(fmt.Errorf("bad size in header %q", header))
	}
	data = make([]byte, size+1)
	if _, err := io.ReadFull(c.out, data); err != nil {
		return fail(err)
	}
	return f[1], data[:size], true, nil
}

func (c *catFile) close() {
	_ = c.in.Close()
	_ = c.cmd.Wait()
}

// isHex reports whether s is a plausible (possibly abbreviated) object id.
func isHex(s string) bool {
	if len(s) < 4 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// merge merges ours and theirs from base with `git merge-file`, the same
// xdiff merge git apply --3way runs (without .gitattributes merge drivers).
func (r *repo) merge(ctx context.Context, ours, base, theirs []byte) (merged []byte, clean bool, err error) {
	dir, err := os.MkdirTemp("", "dpihub-assess-merge-")
	if err != nil {
		return nil, false, fmt.Errorf("3-way merge: %w", err)
	}
	defer os.RemoveAll(dir)
	names := []string{"ours", "base", "theirs"}
	for i, data := range [][]byte{ours, base, theirs} {
		if err := os.WriteFile(filepath.Join(dir, names[i]), data, 0o600); err != nil {
			return nil, false, fmt.Errorf("3-way merge: %w", err)
		}
	}
	cmd := exec.CommandContext(ctx, "git", "merge-file", "-p", "-q",
		filepath.Join(dir, "ours"), filepath.Join(dir, "base"), filepath.Join(dir, "theirs"))
	cmd.Env = gitcmd.Env()
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	// git merge-file exits with the number of conflicts (capped at 127)
	// and with a negative status (255 as seen here) on error.
	switch code := exitCode(err); {
	case err == nil:
		return out, true, nil
	case code > 0 && code < 128:
		return out, false, nil
	default:
		return nil, false, &GitError{Args: []string{"merge-file"}, Stderr: strings.TrimSpace(stderr.String()), Err: err}
	}
}
