package assess

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"

	"github.com/bluekeyes/go-gitdiff/gitdiff"
)

// This file re-implements the checks of `git apply --cached --check` (and
// of `--3way`) against an in-memory copy of the fork's files, so that every
// failing hunk can be named. The matching follows git's apply.c: a hunk's
// old lines must match exactly (whitespace included) at some line, searched
// outward from where the patch says, alternately after and before; a hunk
// that starts at line 1 must match at the top of the file and one without
// trailing context at its end; lines an earlier hunk wrote cannot be matched
// again; no context is dropped (no fuzz), as git apply's default -C.

// image is a file's content as git apply sees it: lines that keep their
// newline (the last may lack one), and which of them a hunk has written.
type image struct {
	lines   [][]byte
	patched []bool
}

func newImage(data []byte) *image {
	img := &image{}
	for len(data) > 0 {
		n := len(data)
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			n = i + 1
		}
		img.lines = append(img.lines, data[:n:n])
		data = data[n:]
	}
	img.patched = make([]bool, len(img.lines))
	return img
}

func (img *image) bytes() []byte {
	var b bytes.Buffer
	for _, l := range img.lines {
		b.Write(l)
	}
	return b.Bytes()
}

// hunk is one text fragment as the lines it expects and the lines it writes.
type hunk struct {
	pre, post [][]byte
	// pos is the 0-based line where the hunk expects its old lines, counted
	// in the file as the earlier hunks left it (git uses the new position).
	pos                      int
	matchBeginning, matchEnd bool
}

func newHunk(f *gitdiff.TextFragment) hunk {
	h := hunk{
		// git: a hunk at old line 0 or 1 must match at the beginning, and
		// one without trailing context at the end (without --unidiff-zero).
		matchBeginning: f.OldPosition <= 1,
		matchEnd:       f.TrailingContext == 0,
	}
	if f.NewPosition > 0 {
		h.pos = int(min(f.NewPosition-1, math.MaxInt32))
	}
	for _, l := range f.Lines {
		if l.Old() {
			h.pre = append(h.pre, []byte(l.Line))
		}
		if l.New() {
			h.post = append(h.post, []byte(l.Line))
		}
	}
	return h
}

// apply finds where h applies and applies it; ok is false when it applies
// nowhere.
func (img *image) apply(h hunk) (ok bool) {
	at := img.find(h)
	if at < 0 {
		return false
	}
	n := len(h.pre)
	lines := make([][]byte, 0, len(img.lines)-n+len(h.post))
	lines = append(lines, img.lines[:at]...)
	lines = append(lines, h.post...)
	lines = append(lines, img.lines[at+n:]...)
	patched := make([]bool, 0, len(lines))
	patched = append(patched, img.patched[:at]...)
	for range h.post {
		patched = append(patched, true)
	}
	patched = append(patched, img.patched[at+n:]...)
	img.lines, img.patched = lines, patched
	return true
}

// find returns the line where h matches, searching as git's find_pos does:
// from the expected line, then one after, one before, two after, two
// before, and so on; -1 when nowhere.
func (img *image) find(h hunk) int {
	n := len(img.lines)
	line := h.start(n)
	back, fwd, cur := line, line, line
	for i := 0; ; i++ {
		if img.matches(h, cur) {
			return cur
		}
		if back == 0 && fwd == n {
			return -1
		}
		if (i&1 == 1 && back > 0) || fwd == n {
			back--
			cur = back
		} else {
			fwd++
			cur = fwd
		}
	}
}

// start is the line the search for h begins at in a file of n lines.
func (h hunk) start(n int) int {
	line := h.pos
	if h.matchBeginning {
		line = 0
	} else if h.matchEnd {
		line = n - len(h.pre)
	}
	if line < 0 || line > n {
		line = n
	}
	return line
}

// matches reports whether h's old lines are at line at.
func (img *image) matches(h hunk, at int) bool {
	n := len(h.pre)
	if at+n > len(img.lines) {
		return false
	}
	if h.matchEnd && at+n != len(img.lines) {
		return false
	}
	if h.matchBeginning && at != 0 {
		return false
	}
	for i, want := range h.pre {
		if img.patched[at+i] {
			return false
		}
		have := img.lines[at+i]
		if bytes.Equal(have, want) {
			continue
		}
		// git compares the hunk's bytes with the file's, so an old last
		// line without its newline also matches the same line with one,
		// unless the hunk must end the file.
		if i == n-1 && !h.matchEnd && len(have) == len(want)+1 && have[len(want)] == '\n' && bytes.Equal(have[:len(want)], want) {
			continue
		}
		return false
	}
	return true
}

// explain says why h does not apply, looking where the patch expects it.
func (img *image) explain(h hunk) string {
	at := h.start(len(img.lines))
	if h.matchBeginning {
		at = 0
	}
	for i, want := range h.pre {
		if at+i >= len(img.lines) {
			return fmt.Sprintf("the file ends at line %d; the hunk expects %d lines from line %d", len(img.lines), len(h.pre), at+1)
		}
		if img.patched[at+i] {
			return fmt.Sprintf("the hunk overlaps an earlier hunk at line %d", at+i+1)
		}
		if have := img.lines[at+i]; !bytes.Equal(have, want) {
			return fmt.Sprintf("line %d is %s, the hunk expects %s", at+i+1, quoteLine(have), quoteLine(want))
		}
	}
	if h.matchBeginning && at != 0 {
		return "the hunk must match at the start of the file"
	}
	if h.matchEnd {
		return fmt.Sprintf("the hunk must match at the end of the file (line %d), which has %d lines", at+len(h.pre), len(img.lines))
	}
	return "the hunk's context and removed lines are nowhere in the file"
}

// quoteLine quotes a line for a reason, shortened.
func quoteLine(b []byte) string {
	b = bytes.TrimSuffix(b, []byte("\n"))
	const max = 60
	if len(b) > max {
		return strconv.Quote(string(b[:max])) + "…"
	}
	return strconv.Quote(string(b))
}

// objects is what checking a patch needs from the repository.
type objects interface {
	// object returns an object by full or abbreviated id; ok is false when
	// the repository has no such object or the abbreviation is ambiguous.
	object(ctx context.Context, name string) (typ string, data []byte, ok bool, err error)
	// merge merges ours and theirs from base as `git merge-file` does.
	merge(ctx context.Context, ours, base, theirs []byte) (merged []byte, clean bool, err error)
}

// fileState is one path of the fork's tree as the patch has left it so far.
type fileState struct {
	exists bool
	mode   uint32
	// oid is the object id of data when data is still the repository's
	// blob, and "" once a patch changed it in memory.
	oid    string
	data   []byte
	loaded bool
}

// tree is the fork's tree at one commit, restricted to the paths the patch
// touches, changed in memory as the patch's files are applied one by one.
type tree struct {
	objs  objects
	files map[string]*fileState
}

func newTree(objs objects, entries map[string]treeEntry) *tree {
	t := &tree{objs: objs, files: make(map[string]*fileState, len(entries))}
	for path, e := range entries {
		t.files[path] = &fileState{exists: true, mode: e.mode, oid: e.oid}
	}
	return t
}

func (t *tree) get(path string) *fileState {
	if fs, ok := t.files[path]; ok {
		return fs
	}
	fs := &fileState{}
	t.files[path] = fs
	return fs
}

const (
	modeType    = 0o170000
	modeGitlink = 0o160000
)

// content returns a file's bytes; a submodule reads as git apply reads it,
// "Subproject commit <id>\n".
func (t *tree) content(ctx context.Context, fs *fileState) ([]byte, error) {
	if fs.loaded || !fs.exists {
		return fs.data, nil
	}
	if fs.mode&modeType == modeGitlink {
		fs.data, fs.loaded = []byte("Subproject commit "+fs.oid+"\n"), true
		return fs.data, nil
	}
	typ, data, ok, err := t.objs.object(ctx, fs.oid)
	if err != nil {
		return nil, err
	}
	if !ok || typ != "blob" {
		return nil, fmt.Errorf("read blob %s: the repository lacks it", fs.oid)
	}
	fs.data, fs.loaded = data, true
	return data, nil
}

// fileOutcome is how one file of a patch fared.
type fileOutcome struct {
	file string
	// whole is non-empty when the file as a whole cannot be patched: it is
	// missing or already exists, its type or binary content differs, or
	// (with 3-way) the merge conflicts.
	whole string
	// hunks are the hunks that match nowhere, 1-based, in patch order.
	hunks []hunkFailure
}

type hunkFailure struct {
	index  int
	reason string
}

func (o fileOutcome) ok() bool { return o.whole == "" && len(o.hunks) == 0 }

// checkAll applies files in order, as git apply does with one patch, and
// returns how each fared. threeWay selects `git apply --3way` behaviour.
// Like `git apply --reject`, it goes on after a failing hunk so that every
// failing hunk is named.
func (t *tree) checkAll(ctx context.Context, files []*gitdiff.File, threeWay bool) ([]fileOutcome, error) {
	out := make([]fileOutcome, 0, len(files))
	for _, f := range files {
		o, err := t.check(ctx, f, threeWay)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

func allOK(outcomes []fileOutcome) bool {
	for _, o := range outcomes {
		if !o.ok() {
			return false
		}
	}
	return true
}

// check applies one file's patch to the tree.
func (t *tree) check(ctx context.Context, f *gitdiff.File, threeWay bool) (fileOutcome, error) {
	out := fileOutcome{file: f.NewName}
	var cur *fileState
	if !f.IsNew {
		out.file = f.OldName
		cur = t.get(f.OldName)
		if !cur.exists {
			out.whole = "no such file at ref"
			return out, nil
		}
		if f.OldMode != 0 && uint32(f.OldMode)&modeType != cur.mode&modeType {
			out.whole = fmt.Sprintf("the file has mode %06o, the patch expects %06o", cur.mode, uint32(f.OldMode))
			return out, nil
		}
	}
	// With --3way, git merges instead of refusing a new, renamed or copied
	// file whose path exists: a new file against the existing one from an
	// empty ancestor, a renamed or copied one from the old path.
	directToThreeWay := false
	if f.IsNew || f.IsRename || f.IsCopy {
		if dst := t.get(f.NewName); dst.exists {
			if !threeWay {
				out.file, out.whole = f.NewName, "the file already exists at ref"
				return out, nil
			}
			directToThreeWay = true
			if f.IsNew {
				cur = dst
			}
		}
	}
	var src []byte
	if cur != nil {
		var err error
		if src, err = t.content(ctx, cur); err != nil {
			return out, err
		}
	}

	var result []byte
	merged := false
	if threeWay && threeWayPossible(f, directToThreeWay) {
		res, clean, tried, err := t.threeWay(ctx, f, src)
		if err != nil {
			return out, err
		}
		if tried {
			if !clean {
				out.whole = "the 3-way merge conflicts"
				return out, nil
			}
			result, merged = res, true
		}
	}
	if !merged && directToThreeWay {
		out.file, out.whole = f.NewName, "the file already exists at ref"
		return out, nil
	}
	if !merged {
		var err error
		result, err = t.direct(ctx, f, cur, src, &out)
		if err != nil || !out.ok() {
			return out, err
		}
	}
	if f.IsDelete && len(result) > 0 {
		out.whole = "the file has content the deletion does not remove"
		return out, nil
	}

	if f.IsRename || f.IsDelete {
		*t.get(f.OldName) = fileState{}
	}
	if !f.IsDelete {
		mode := uint32(f.NewMode)
		if mode == 0 && cur != nil {
			mode = cur.mode
		}
		if mode == 0 {
			mode = 0o100644
		}
		*t.get(f.NewName) = fileState{exists: true, mode: mode, data: result, loaded: true}
	}
	return out, nil
}

// direct applies f to src without merging, recording failures in out.
func (t *tree) direct(ctx context.Context, f *gitdiff.File, cur *fileState, src []byte, out *fileOutcome) ([]byte, error) {
	if f.IsBinary {
		if f.BinaryFragment == nil {
			out.whole = "a binary change without data cannot be applied"
			return nil, nil
		}
		if cur != nil {
			oid := blobID(src, len(f.OldOIDPrefix))
			if oid == "" {
				out.whole = "a binary patch needs the full index line"
				return nil, nil
			}
			if oid != f.OldOIDPrefix {
				out.whole = fmt.Sprintf("the file is %s, the binary patch applies to %s", oid, f.OldOIDPrefix)
				return nil, nil
			}
		}
		var b bytes.Buffer
		if err := gitdiff.Apply(&b, bytes.NewReader(src), f); err != nil {
			out.whole = fmt.Sprintf("the binary patch does not apply: %v", err)
			return nil, nil
		}
		return b.Bytes(), nil
	}
	img := newImage(src)
	for i, frag := range f.TextFragments {
		h := newHunk(frag)
		if !img.apply(h) {
			out.hunks = append(out.hunks, hunkFailure{index: i + 1, reason: img.explain(h)})
		}
	}
	return img.bytes(), nil
}

// threeWayPossible mirrors the cases where git apply --3way does not try a
// merge but applies directly.
func threeWayPossible(f *gitdiff.File, directToThreeWay bool) bool {
	switch {
	case f.IsDelete:
		return false
	case uint32(f.OldMode)&modeType == modeGitlink || uint32(f.NewMode)&modeType == modeGitlink:
		return false
	case f.IsNew && !directToThreeWay:
		return false
	case f.IsRename && len(f.TextFragments) == 0 && f.BinaryFragment == nil:
		return false
	}
	return true
}

// threeWay merges f into ours as git apply --3way does: the patch applied
// to the blob named on its index line is "theirs", that blob the base.
// tried is false when no merge is possible (the blob is missing or the
// patch does not apply to it), and git falls back to applying directly.
func (t *tree) threeWay(ctx context.Context, f *gitdiff.File, ours []byte) (merged []byte, clean, tried bool, err error) {
	var base []byte
	if !f.IsNew {
		typ, data, ok, err := t.objs.object(ctx, f.OldOIDPrefix)
		if err != nil {
			return nil, false, false, err
		}
		if !ok || typ != "blob" {
			return nil, false, false, nil
		}
		base = data
	}
	var theirs []byte
	if f.IsBinary {
		if f.BinaryFragment == nil {
			return nil, false, false, nil
		}
		var b bytes.Buffer
		if err := gitdiff.Apply(&b, bytes.NewReader(base), f); err != nil {
			return nil, false, false, nil
		}
		theirs = b.Bytes()
	} else {
		img := newImage(base)
		for _, frag := range f.TextFragments {
			if !img.apply(newHunk(frag)) {
				return nil, false, false, nil
			}
		}
		theirs = img.bytes()
	}
	// git resolves the trivial cases before merging.
	switch {
	case bytes.Equal(base, ours):
		return theirs, true, true, nil
	case bytes.Equal(base, theirs), bytes.Equal(ours, theirs):
		return ours, true, true, nil
	}
	if isBinary(base) || isBinary(ours) || isBinary(theirs) {
		return nil, false, true, nil
	}
	merged, clean, err = t.objs.merge(ctx, ours, base, theirs)
	return merged, clean, true, err
}

// isBinary is git's buffer_is_binary: a NUL in the first 8000 bytes.
func isBinary(b []byte) bool {
	return bytes.IndexByte(b[:min(len(b), 8000)], 0) >= 0
}

// blobID returns the git blob id of data in the hash whose hex length is
// hexLen (40 for SHA-1, 64 for SHA-256), or "" for any other length.
func blobID(data []byte, hexLen int) string {
	header := "blob " + strconv.Itoa(len(data)) + "\x00"
	switch hexLen {
	case 40:
		h := sha1.New()
		h.Write([]byte(header))
		h.Write(data)
		return hex.EncodeToString(h.Sum(nil))
	case 64:
		h := sha256.New()
		h.Write([]byte(header))
		h.Write(data)
		return hex.EncodeToString(h.Sum(nil))
	}
	return ""
}
