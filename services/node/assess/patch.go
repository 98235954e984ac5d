package assess

import (
	"bytes"
	"fmt"
	"regexp"

	"github.com/bluekeyes/go-gitdiff/gitdiff"

	"github.com/dpihub/dpihub/services/node/patchid"
)

// fix is a parsed patch: one commit as `git format-patch` writes it, or a
// bare `git diff`.
type fix struct {
	files []*gitdiff.File
	// commit is the id on the "From <id> Mon Sep 17 00:00:00 2001" line, or
	// "" when the patch has none (or the all-zero id of --zero-commit).
	commit string
	// base is the id on the "base-commit:" line of `format-patch --base`,
	// or "".
	base string
	// patchID is the stable patch-id, "" when git would print none.
	patchID string
	// renames and copies say whether the diff was made with rename or copy
	// detection, so that fork commits are diffed the same way.
	renames, copies bool
	// data is the patch as given.
	data []byte
}

var (
	// fromLine is the first line format-patch writes for each commit.
	fromLine = regexp.MustCompile(`(?m)^From ([0-9a-f]{40}|[0-9a-f]{64}) Mon Sep 17 00:00:00 2001$`)
	// baseLine is written by `format-patch --base` after the diff.
	baseLine = regexp.MustCompile(`(?m)^base-commit: ([0-9a-f]{40}|[0-9a-f]{64})$`)
	zeroID   = regexp.MustCompile(`^0+$`)
)

// parsePatch parses data as one commit's patch. Every error wraps ErrBadPatch.
func parsePatch(data []byte) (fx *fix, err error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%w: empty input", ErrBadPatch)
	}
	if bytes.IndexByte(data, 0) >= 0 {
		// git apply refuses patches with NUL bytes; binary changes are
		// base85-encoded, so a NUL means the input is not a patch.
		return nil, fmt.Errorf("%w: input contains NUL bytes", ErrBadPatch)
	}
	froms := fromLine.FindAllSubmatch(data, 2)
	if len(froms) > 1 {
		return nil, fmt.Errorf("%w: input holds more than one commit; assess one patch at a time", ErrBadPatch)
	}
	defer func() {
		// The parser is a third-party library fed untrusted input: a panic
		// in it is a bad patch, not a crash of the node.
		if p := recover(); p != nil {
			fx, err = nil, fmt.Errorf("%w: parser failed: %v", ErrBadPatch, p)
		}
	}()
	files, _, perr := gitdiff.Parse(bytes.NewReader(data))
	if perr != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadPatch, perr)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%w: no file changes found", ErrBadPatch)
	}
	fx = &fix{files: files, data: data}
	for i, f := range files {
		if f.OldName == "" && f.NewName == "" {
			return nil, fmt.Errorf("%w: file %d has no name", ErrBadPatch, i+1)
		}
		if f.IsNew && f.IsDelete {
			return nil, fmt.Errorf("%w: %s is both created and deleted", ErrBadPatch, f.NewName)
		}
		if f.IsNew && f.NewName == "" || f.IsDelete && f.OldName == "" || !f.IsNew && !f.IsDelete && (f.OldName == "" || f.NewName == "") {
			return nil, fmt.Errorf("%w: file %d lacks an old or new name", ErrBadPatch, i+1)
		}
		fx.renames = fx.renames || f.IsRename
		fx.copies = fx.copies || f.IsCopy
	}
	if len(froms) == 1 && !zeroID.Match(froms[0][1]) {
		fx.commit = string(froms[0][1])
	}
	if m := baseLine.FindAllSubmatch(data, -1); len(m) > 0 {
		fx.base = string(m[len(m)-1][1])
	}
	id, ok, iderr := patchid.Of(data)
	if iderr != nil {
		return nil, fmt.Errorf("%w: patch-id: %v", ErrBadPatch, iderr)
	}
	if ok {
		fx.patchID = id
	}
	return fx, nil
}

// paths returns every path the patch reads or writes, in patch order, each
// once.
func (fx *fix) paths() []string {
	seen := make(map[string]bool)
	paths := []string{}
	for _, f := range fx.files {
		for _, p := range []string{f.OldName, f.NewName} {
			if p != "" && !seen[p] {
				seen[p] = true
				paths = append(paths, p)
			}
		}
	}
	return paths
}

// oldPaths returns the paths the patch expects to exist: those it modifies,
// deletes, renames or copies from.
func (fx *fix) oldPaths() []string {
	var paths []string
	for _, f := range fx.files {
		if !f.IsNew {
			paths = append(paths, f.OldName)
		}
	}
	return paths
}

// reversed returns the patch as `git apply -R` sees it: every file's old and
// new sides swapped, in the same order.
func reversed(files []*gitdiff.File) []*gitdiff.File {
	out := make([]*gitdiff.File, len(files))
	for i, f := range files {
		r := *f
		r.OldName, r.NewName = f.NewName, f.OldName
		r.IsNew, r.IsDelete = f.IsDelete, f.IsNew
		r.OldMode, r.NewMode = f.NewMode, f.OldMode
		r.OldOIDPrefix, r.NewOIDPrefix = f.NewOIDPrefix, f.OldOIDPrefix
		r.BinaryFragment, r.ReverseBinaryFragment = f.ReverseBinaryFragment, f.BinaryFragment
		r.TextFragments = make([]*gitdiff.TextFragment, len(f.TextFragments))
		for j, frag := range f.TextFragments {
			rf := *frag
			rf.OldPosition, rf.NewPosition = frag.NewPosition, frag.OldPosition
			rf.OldLines, rf.NewLines = frag.NewLines, frag.OldLines
			rf.LinesAdded, rf.LinesDeleted = frag.LinesDeleted, frag.LinesAdded
			rf.Lines = make([]gitdiff.Line, len(frag.Lines))
			for k, l := range frag.Lines {
				switch l.Op {
				case gitdiff.OpAdd:
					l.Op = gitdiff.OpDelete
				case gitdiff.OpDelete:
					l.Op = gitdiff.OpAdd
				}
				rf.Lines[k] = l
			}
			r.TextFragments[j] = &rf
		}
		out[i] = &r
	}
	return out
}
