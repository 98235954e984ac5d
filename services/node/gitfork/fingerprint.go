package gitfork

import (
	"bytes"
	"container/list"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/dpihub/dpihub/events/minhash"
	"github.com/dpihub/dpihub/services/node"
	"github.com/dpihub/dpihub/services/node/patchid"
)

// FP is a fork's fingerprint: what its own (fork-only, non-merge) commits
// change since its merge-base with upstream. Two forks that carry the same
// changes have close shingle sets even when their commits were split,
// squashed or reformatted differently, and share patch-ids when the
// commits were cherry-picked as they are.
type FP struct {
	// Shingles is the union of the changed-line shingles
	// (minhash.DiffShingles) of every commit, sorted, each once.
	Shingles []uint64
	// PatchIDs maps the stable patch-id of every commit to the newest
	// commit that has it, as PatchIDs gives them.
	PatchIDs map[string]string
	// Commits is the number of commits fingerprinted.
	Commits int
	// Files are the paths the commits change (old and new names of a
	// rename), sorted, each once, as `git log --name-only --no-renames`
	// lists them.
	Files []string
	// Read is the number of commits read from git for this fingerprint;
	// the other Commits-Read came from the cache.
	Read int
}

// Fingerprint returns the fingerprint of the non-merge commits reachable
// from head and not from base (all of head's history when base is "") in
// the repository dir. It reads them in one pass of `git log -p`, the same
// stream PatchIDs reads, taking the patch-ids and the shingles from it
// together. progress, when not nil, is called with the commits done out of
// the total, first before anything is read and then after every commit.
//
// Fingerprint is (*FingerprintCache)(nil).Fingerprint: it caches nothing.
func Fingerprint(ctx context.Context, dir, base, head string, progress func(done, total int)) (FP, error) {
	return (*FingerprintCache)(nil).Fingerprint(ctx, dir, base, head, progress)
}

// DefaultFingerprintCacheSize is the number of shingles a FingerprintCache
// made with size 0 holds (about 2 MB): the own changes of a fork of a few
// hundred to a thousand commits, depending on their size.
const DefaultFingerprintCacheSize = 200_000

// FingerprintCache keeps what Fingerprint learnt of each commit (its
// shingles, patch-id and files), keyed by commit id, so that a later
// fingerprint of the same fork, or of another fork carrying the same
// commits, reads from git only the commits it has not seen. A commit's
// fingerprint depends on nothing but the commit, so entries never go stale;
// they are only dropped, least recently used first, to keep the cache
// within its size.
//
// The size counts shingles, and one for every commit so that commits
// without changed lines count too; a commit larger than the whole cache is
// not kept. A fork whose own changes exceed the size is read again, in
// part, on every fingerprint: size the cache above the forks it serves.
//
// A FingerprintCache is safe for concurrent use. A nil *FingerprintCache
// is a valid cache that keeps nothing.
type FingerprintCache struct {
	mu     sync.Mutex
	max    int
	size   int
	lru    *list.List // of *commitPrint, most recently used first
	byID   map[string]*list.Element
	hits   uint64
	misses uint64
}

// NewFingerprintCache returns an empty cache holding at most size
// shingles (DefaultFingerprintCacheSize when size is 0 or less).
func NewFingerprintCache(size int) *FingerprintCache {
	if size <= 0 {
		size = DefaultFingerprintCacheSize
	}
	return &FingerprintCache{max: size, lru: list.New(), byID: map[string]*list.Element{}}
}

// CacheStats says what a FingerprintCache holds and has served.
type CacheStats struct {
	Hits     uint64 // commits served from the cache
	Misses   uint64 // commits looked up and not found (then read from git)
	Commits  int    // commits held
	Shingles int    // shingles held
}

// Stats returns what the cache holds and has served so far.
func (c *FingerprintCache) Stats() CacheStats {
	if c == nil {
		return CacheStats{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for e := c.lru.Front(); e != nil; e = e.Next() {
		n += len(e.Value.(*commitPrint).shingles)
	}
	return CacheStats{Hits: c.hits, Misses: c.misses, Commits: c.lru.Len(), Shingles: n}
}

// commitPrint is one commit's part of a fingerprint.
type commitPrint struct {
	id       string
	patchID  string   // "" when git prints no patch-id for the commit
	shingles []uint64 // sorted, each once
	files    []string // sorted, each once
}

// cost is what an entry counts against the cache's size.
func (p *commitPrint) cost() int { return len(p.shingles) + 1 }

// get returns the cached fingerprint of commit id, or nil.
func (c *FingerprintCache) get(id string) *commitPrint {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byID[id]
	if !ok {
		c.misses++
		return nil
	}
	c.hits++
	c.lru.MoveToFront(e)
	return e.Value.(*commitPrint)
}

// put keeps p, dropping the least recently used entries to make room.
func (c *FingerprintCache) put(p *commitPrint) {
	if c == nil || p.cost() > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byID[p.id]; ok {
		c.lru.MoveToFront(e)
		return
	}
	for c.size+p.cost() > c.max {
		old := c.lru.Back()
		op := c.lru.Remove(old).(*commitPrint)
		delete(c.byID, op.id)
		c.size -= op.cost()
	}
	c.byID[p.id] = c.lru.PushFront(p)
	c.size += p.cost()
}

// Fingerprint is the package's Fingerprint, reading from git only the
// commits the cache does not hold and keeping what it read. Entries
// are shared: the slices of the result are the caller's own.
func (c *FingerprintCache) Fingerprint(ctx context.Context, dir, base, head string, progress func(done, total int)) (FP, error) {
	rng := head
	if base != "" {
		rng = base + ".." + head
	}
	fp, err := c.fingerprint(ctx, dir, base, head, progress)
	if err != nil {
		return FP{}, fmt.Errorf("fingerprint of %s: %w", rng, err)
	}
	return fp, nil
}

func (c *FingerprintCache) fingerprint(ctx context.Context, dir, base, head string, progress func(done, total int)) (FP, error) {
	for _, rev := range []string{base, head} {
		if strings.HasPrefix(rev, "-") {
			return FP{}, node.Invalid("%q is not a revision", rev)
		}
	}
	if head == "" {
		return FP{}, node.Invalid("no head revision")
	}
	rng := head
	if base != "" {
		rng = base + ".." + head
	}
	out, err := git(ctx, dir, "rev-list", "--no-merges", rng, "--")
	if err != nil {
		return FP{}, err
	}
	ids := strings.Fields(string(out))
	if progress == nil {
		progress = func(int, int) {}
	}
	prints := make(map[string]*commitPrint, len(ids))
	var unseen []string
	for _, id := range ids {
		if p := c.get(id); p != nil {
			prints[id] = p
		} else {
			unseen = append(unseen, id)
		}
	}
	done := len(ids) - len(unseen)
	progress(done, len(ids))
	if len(unseen) > 0 {
		read, err := readCommits(ctx, dir, unseen, func() {
			done++
			progress(done, len(ids))
		})
		if err != nil {
			return FP{}, err
		}
		// Oldest first, so that when the cache is too small for the fork
		// it keeps the newest commits, the ones the next fingerprint reads.
		for i := len(unseen) - 1; i >= 0; i-- {
			id := unseen[i]
			p, ok := read[id]
			if !ok {
				return FP{}, fmt.Errorf("git log -p did not show commit %s", id)
			}
			prints[id] = p
			c.put(p)
		}
	}
	fp := FP{PatchIDs: map[string]string{}, Commits: len(ids), Read: len(unseen)}
	var files []string
	for _, id := range ids { // newest first, as git log shows them
		p := prints[id]
		fp.Shingles = append(fp.Shingles, p.shingles...)
		files = append(files, p.files...)
		if _, ok := fp.PatchIDs[p.patchID]; !ok && p.patchID != "" {
			fp.PatchIDs[p.patchID] = p.id
		}
	}
	fp.Shingles = sortedSet(fp.Shingles)
	fp.Files = sortedSet(files)
	return fp, nil
}

// readCommits reads the given commits with one `git log -p` (the flags of
// PatchIDs, so that the patch-ids are the same) and returns each one's
// fingerprint. onCommit is called after every commit read.
func readCommits(ctx context.Context, dir string, ids []string, onCommit func()) (map[string]*commitPrint, error) {
	read := make(map[string]*commitPrint, len(ids))
	patchIDs := make(map[string]string, len(ids))
	lines := &changeReader{onCommit: func(p *commitPrint) {
		read[p.id] = p
		onCommit()
	}}
	// --no-walk=unsorted shows exactly the commits given on stdin (no
	// command line to overflow on a large fork), in the order given.
	stdin := strings.NewReader(strings.Join(ids, "\n") + "\n")
	err := streamStdin(ctx, dir, stdin, func(r io.Reader) error {
		// The patch-id scanner and the change reader see the same bytes:
		// the tee hands the reader every byte the scanner reads.
		err := patchid.Scan(io.TeeReader(r, lines), patchid.Options{Stable: true}, func(res patchid.Result) error {
			if _, ok := patchIDs[res.CommitID]; !ok {
				patchIDs[res.CommitID] = res.PatchID
			}
			return nil
		})
		if err != nil {
			return err
		}
		lines.close()
		return nil
	}, "log", "-p", "--no-walk=unsorted", "--stdin", "--format=commit %H", "--no-color", "--no-ext-diff", "--no-textconv",
		"--binary", "-M", "--src-prefix=a/", "--dst-prefix=b/", "--")
	if err != nil {
		return nil, err
	}
	for id, p := range read {
		p.patchID = patchIDs[id]
	}
	return read, nil
}

// streamStdin is stream with stdin given to git.
func streamStdin(ctx context.Context, dir string, stdin io.Reader, fn func(io.Reader) error, args ...string) error {
	return streamWith(ctx, dir, stdin, fn, args...)
}

// changeReader takes `git log -p --format="commit %H"` output as it is
// written to it and gathers, per commit, the changed lines of its hunks
// (for minhash.LineShingles) and the paths its file headers name.
//
// It needs no line counts: with that format a commit has no message, and
// inside a hunk every line starts with '+', '-', ' ' or '\'; any other
// line (a "diff --git" header, the next hunk's "@@", the next commit) ends
// the hunk. No header line can start with '+', '-' or a space.
type changeReader struct {
	onCommit func(*commitPrint)

	partial []byte // a line not yet ended by '\n'
	cur     *commitPrint
	changed []string // the current commit's changed lines, "" between hunks
	files   []string
	inHunk  bool
}

// Write implements io.Writer; it never fails.
func (r *changeReader) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			r.partial = append(r.partial, b...)
			break
		}
		if len(r.partial) > 0 {
			r.partial = append(r.partial, b[:i]...)
			r.line(r.partial)
			r.partial = r.partial[:0]
		} else {
			r.line(b[:i])
		}
		b = b[i+1:]
	}
	return n, nil
}

// close ends the last line and the last commit.
func (r *changeReader) close() {
	if len(r.partial) > 0 {
		r.line(r.partial)
		r.partial = nil
	}
	r.endCommit()
}

func (r *changeReader) line(l []byte) {
	if r.inHunk && len(l) > 0 {
		switch l[0] {
		case '+', '-':
			r.changed = append(r.changed, string(l))
			return
		case ' ', '\\':
			return
		}
	}
	r.inHunk = false
	if id, ok := bytes.CutPrefix(l, []byte("commit ")); ok && isObjectID(id) {
		r.endCommit()
		r.cur = &commitPrint{id: string(id)}
		return
	}
	if r.cur == nil {
		return
	}
	switch {
	case bytes.HasPrefix(l, []byte("@@ ")):
		if n := len(r.changed); n > 0 && r.changed[n-1] != "" {
			r.changed = append(r.changed, "")
		}
		r.inHunk = true
	case bytes.HasPrefix(l, []byte("diff --git ")):
		r.files = append(r.files, diffGitNames(string(l[len("diff --git "):]))...)
	default:
		for _, h := range []string{"rename from ", "rename to ", "copy from ", "copy to "} {
			if name, ok := bytes.CutPrefix(l, []byte(h)); ok {
				if p, ok := unquotePath(string(name)); ok {
					r.files = append(r.files, p)
				}
				break
			}
		}
	}
}

// endCommit hands the current commit over.
func (r *changeReader) endCommit() {
	if r.cur == nil {
		return
	}
	r.cur.shingles = sortedSet(minhash.LineShingles(r.changed))
	r.cur.files = sortedSet(r.files)
	r.onCommit(r.cur)
	r.cur, r.changed, r.files, r.inHunk = nil, nil, nil, false
}

// isObjectID reports whether b is a full SHA-1 or SHA-256 hex object id.
func isObjectID(b []byte) bool {
	if len(b) != 40 && len(b) != 64 {
		return false
	}
	for _, c := range b {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// diffGitNames returns the paths of a "diff --git a/X b/Y" line (what
// follows "diff --git "), without their prefixes. git quotes a name
// (core.quotePath) when it holds a special byte, and leaves it bare
// otherwise, spaces included: two bare names can then only be told apart
// when they are equal. Unequal ones belong to a rename or copy, whose
// "rename from"/"rename to" lines name them again, so nothing is lost when
// this returns none.
func diffGitNames(s string) []string {
	var a, b string
	switch {
	case strings.HasPrefix(s, `"`):
		end := quotedEnd(s)
		if end < 0 || end+1 >= len(s) || s[end+1] != ' ' {
			return nil
		}
		a, b = s[:end+1], s[end+2:]
	case strings.HasSuffix(s, `"`):
		i := strings.LastIndex(s, ` "b/`)
		if i < 0 {
			return nil
		}
		a, b = s[:i], s[i+1:]
	default:
		n := len(s) / 2
		if len(s)%2 == 0 || s[n] != ' ' || !strings.HasPrefix(s, "a/") || !strings.HasPrefix(s[n+1:], "b/") || s[2:n] != s[n+3:] {
			return nil
		}
		a, b = s[:n], s[n+1:]
	}
	var names []string
	for i, q := range []string{a, b} {
		p, ok := unquotePath(q)
		if !ok {
			return nil
		}
		p, ok = strings.CutPrefix(p, []string{"a/", "b/"}[i])
		if !ok || p == "" {
			return nil
		}
		names = append(names, p)
	}
	return names
}

// quotedEnd returns the index of the quote that closes the C-style quoted
// string s starts with, or -1.
func quotedEnd(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// unquotePath undoes git's C-style quoting of a path (quote_c_style: \a
// \b \t \n \v \f \r \" \\ and three-digit octal escapes, all of which Go's
// string literals share); a bare path is returned as it is.
func unquotePath(s string) (string, bool) {
	if !strings.HasPrefix(s, `"`) {
		return s, s != ""
	}
	p, err := strconv.Unquote(s)
	return p, err == nil && p != ""
}

// sortedSet sorts s and removes repeats, in place.
func sortedSet[T ~uint64 | ~string](s []T) []T {
	slices.Sort(s)
	return slices.Compact(s)
}
