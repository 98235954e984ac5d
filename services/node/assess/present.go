package assess

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
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
// patch-id is the fix's, or "".
//
// It works in two steps, as `git cherry` does (git compares header-only
// patch-ids, in effect the file lists, and diffs only the commits whose
// file lists match):
//
//  1. patchIDCandidates lists, without diffing any content, the commits of
//     the range that touch one of the fix's files, with every path each
//     commit changes, and keeps those that can have the fix's patch-id
//     (see prefilter).
//  2. Only those are diffed, in the same order and with the same options
//     as before, and the diff streams through patchid.Scan; git is stopped
//     at the first match.
func (r *repo) findByPatchID(ctx context.Context, fx *fix, head, base string) (string, error) {
	cands, newest, err := r.patchIDCandidates(ctx, fx, head, base)
	if err != nil || len(cands) == 0 {
		return "", err
	}
	if len(cands) >= narrowMin {
		if cands, err = r.narrowByFile(ctx, fx, cands, newest); err != nil || len(cands) == 0 {
			return "", err
		}
	}
	return r.scanPatchIDs(ctx, fx, cands)
}

// narrowMin is the number of candidates from which narrowByFile is worth
// its two extra git processes.
const narrowMin = 4

// patchIDCandidates returns, newest first (in `git log` order), the commits
// of the range that touch one of the fix's files and pass the fix's
// prefilter.
//
// `--full-history` so that no side branch is pruned, `--full-diff` so that
// every path a commit changes is listed, not only the fix's. The listing is
// made with `--no-renames` whatever the fix's rename and copy detection:
// the set of paths a commit changes is the same with or without it (a
// rename lists its old and new names either way, and -C without
// --find-copies-harder only takes copy sources among the files the commit
// modifies), and a rename search over whole commits would cost more than
// the listing itself.
//
// newest holds the raw entries of the first candidate.
func (r *repo) patchIDCandidates(ctx context.Context, fx *fix, head, base string) (cands []string, newest rawCommit, err error) {
	args := []string{
		"log", "--raw", "-z", "--no-abbrev", "--no-merges", "--full-history", "--full-diff",
		"--no-renames", "--format=%H",
	}
	args = append(args, revRange(head, base)...)
	args = append(args, "--")
	args = append(args, fx.paths()...)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := r.command(ctx, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, newest, fmt.Errorf("git log: %w", err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, newest, fmt.Errorf("git log: %w", err)
	}
	pf := newPrefilter(fx)
	parseErr := scanRawLog(stdout, func(c *rawCommit) {
		if pf.keep(c) {
			if len(cands) == 0 {
				newest = rawCommit{id: c.id, entries: slices.Clone(c.entries)}
			}
			cands = append(cands, c.id)
		}
	})
	if parseErr != nil {
		cancel()
		_ = cmd.Wait()
		return nil, newest, fmt.Errorf("git log --raw: %w", parseErr)
	}
	if err := cmd.Wait(); err != nil {
		return nil, newest, &GitError{Args: args[:1], Stderr: strings.TrimSpace(stderr.String()), Err: err}
	}
	return cands, newest, nil
}

// diffArgs are the options fork commits are diffed with: as the fix was
// diffed by format-patch (its rename and copy detection, full binary data),
// and pinned against the repository's configuration.
func diffArgs(fx *fix) []string {
	args := []string{
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
	return args
}

// scanPatchIDs diffs commits, in the order given, with diffArgs and returns
// the first whose stable patch-id is the fix's, or "".
func (r *repo) scanPatchIDs(ctx context.Context, fx *fix, commits []string) (string, error) {
	found := ""
	err := r.scanLogPatchIDs(ctx, diffArgs(fx), commits, nil, func(res patchid.Result) error {
		if res.PatchID == fx.patchID {
			found = res.CommitID
			return errFound
		}
		return nil
	})
	if err == errFound {
		return found, nil
	}
	return "", err
}

// scanLogPatchIDs runs `git log -p --no-walk=unsorted` on commits (in that
// order) with the diff options args, limited to paths when there are any,
// and passes the stable patch-id of each commit's diff to fn. An error from
// fn stops git and is returned as is.
func (r *repo) scanLogPatchIDs(ctx context.Context, args, commits, paths []string, fn func(patchid.Result) error) error {
	full := append([]string{"log", "-p", "--no-walk=unsorted", "--stdin"}, args...)
	if len(paths) > 0 {
		full = append(full, "--")
		full = append(full, paths...)
	}
	var stdin bytes.Buffer
	for _, c := range commits {
		stdin.WriteString(c)
		stdin.WriteByte('\n')
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := r.command(ctx, full...)
	cmd.Stdin = &stdin
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("git log: %w", err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("git log: %w", err)
	}
	var fnErr error
	scanErr := patchid.Scan(stdout, patchid.Options{Stable: true}, func(res patchid.Result) error {
		fnErr = fn(res)
		return fnErr
	})
	if scanErr != nil {
		// Stop git: nobody reads the rest of its output.
		cancel()
		_ = cmd.Wait()
		if fnErr != nil {
			return fnErr
		}
		return fmt.Errorf("patch-ids of git log: %w", scanErr)
	}
	if err := cmd.Wait(); err != nil {
		return &GitError{Args: full[:1], Stderr: strings.TrimSpace(stderr.String()), Err: err}
	}
	return nil
}

// narrowByFile keeps the candidates whose diff of one file of the fix, the
// one whose blob is smallest in the newest candidate, has that file's
// patch-id in the fix, so that big files (lock files, generated code) are
// diffed only for the commits that match on a small one.
//
// It is sound where fileUnitIDs says so: every file of the fix is then
// hashed on its own (a unit of its own in the stable sum), so a commit with
// the fix's patch-id has a unit equal to the file's, the file's diff is the
// same whether the rest of the commit is diffed or not (no rename or copy
// detection), and that unit is the file's diff alone (were the file hashed
// together with a header-only file before it, that unit could not be one of
// the fix's, and the commit would not match anyway).
func (r *repo) narrowByFile(ctx context.Context, fx *fix, cands []string, newest rawCommit) ([]string, error) {
	ids, ok := fileUnitIDs(fx)
	if !ok || len(ids) < 2 {
		return cands, nil
	}
	// The size of each file's blob in the newest candidate.
	var paths, oids []string
	for _, e := range newest.entries {
		if len(e.paths) != 1 {
			continue
		}
		if _, ok := ids[e.paths[0]]; !ok {
			continue
		}
		oid := e.newOID
		if !isBlobID(oid) {
			oid = e.oldOID
		}
		if isBlobID(oid) {
			paths, oids = append(paths, e.paths[0]), append(oids, oid)
		}
	}
	if len(paths) == 0 {
		return cands, nil
	}
	out, err := r.output(ctx, []byte(strings.Join(oids, "\n")+"\n"), "cat-file", "--batch-check=%(objectsize)")
	if err != nil {
		return nil, err
	}
	sizes := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(sizes) != len(paths) {
		return cands, nil
	}
	pick, least := "", int64(-1)
	for i, p := range paths {
		n, err := strconv.ParseInt(sizes[i], 10, 64)
		if err != nil { // "<oid> missing"
			continue
		}
		if least < 0 || n < least {
			pick, least = p, n
		}
	}
	if pick == "" {
		return cands, nil
	}

	want := ids[pick]
	match := make(map[string]bool, len(cands))
	err = r.scanLogPatchIDs(ctx, diffArgs(fx), cands, []string{pick}, func(res patchid.Result) error {
		if res.PatchID == want {
			match[res.CommitID] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	kept := cands[:0]
	for _, c := range cands {
		if match[c] {
			kept = append(kept, c)
		}
	}
	return kept, nil
}

// fileUnitIDs returns the stable patch-id of each file's part of the fix,
// by path, when each file is a unit of its own in the fix's stable
// patch-id: no rename or copy detection, every file a text diff with hunks
// (so none is binary or header-only, which git's patch-id hashes together
// with the next file), every "diff --git" header the plain
// "diff --git a/<path> b/<path>", and the ids of the parts adding up to the
// fix's patch-id, which checks the split. ok is false otherwise.
func fileUnitIDs(fx *fix) (ids map[string]string, ok bool) {
	if fx.renames || fx.copies || fx.patchID == "" {
		return nil, false
	}
	var starts []int
	for off := 0; off < len(fx.data); {
		end := bytes.IndexByte(fx.data[off:], '\n')
		if end < 0 {
			end = len(fx.data)
		} else {
			end += off + 1
		}
		if bytes.HasPrefix(fx.data[off:end], []byte("diff --git ")) {
			starts = append(starts, off)
		}
		off = end
	}
	if len(starts) != len(fx.files) {
		return nil, false
	}
	ids = make(map[string]string, len(starts))
	var sum [20]byte
	for i, f := range fx.files {
		if f.IsBinary || len(f.TextFragments) == 0 {
			return nil, false
		}
		name := f.NewName
		if name == "" {
			name = f.OldName
		}
		end := len(fx.data)
		if i+1 < len(starts) {
			end = starts[i+1]
		}
		part := fx.data[starts[i]:end]
		header := "diff --git a/" + name + " b/" + name + "\n"
		if !bytes.HasPrefix(part, []byte(header)) {
			return nil, false
		}
		if _, dup := ids[name]; dup {
			return nil, false
		}
		id, ok, err := patchid.Of(part)
		if err != nil || !ok {
			return nil, false
		}
		if !addHexID(&sum, id) {
			return nil, false
		}
		ids[name] = id
	}
	if hex.EncodeToString(sum[:]) != fx.patchID {
		return nil, false
	}
	return ids, true
}

// addHexID adds the 40-digit hex id to sum as git's stable patch-id sums
// its files' digests: bytewise with carry, first byte lowest. It reports
// false when id is not such an id.
func addHexID(sum *[20]byte, id string) bool {
	var d [20]byte
	if n, err := hex.Decode(d[:], []byte(id)); err != nil || n != len(d) || len(id) != 2*len(d) {
		return false
	}
	var carry uint16
	for i := range sum {
		carry += uint16(sum[i]) + uint16(d[i])
		sum[i] = byte(carry)
		carry >>= 8
	}
	return true
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
