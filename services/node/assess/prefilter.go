package assess

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
)

// prefilter decides, from a commit's `git log --raw` entries alone (paths,
// blob ids; no content read), whether the commit can have the fix's stable
// patch-id. It must never drop a commit that has it: it only tests what
// `git patch-id --stable` (package patchid, git's builtin/patch-id.c)
// necessarily hashes.
//
// The stable id is the sum of one SHA-1 per file (per "hunk group" in git's
// words), each over that file's diff lines with whitespace removed: its
// "diff --git a/X b/Y" line, its extended header lines ("new file mode",
// "old mode", "rename from", "similarity index", …, but not "index"), its
// "---"/"+++" lines and its hunk lines. Two commits with the same id thus
// have the same files, named by the same paths with whitespace removed (the
// id cannot tell "a b" from "ab"; the prefilter compares paths the same
// way).
//
// One exception, a quirk git's patch-id shares: after a binary file, the
// next file's "diff --git" line is swallowed, and a binary file hashes only
// its blob ids (from its "index" line). So a file that follows a binary one
// and has no "---"/"+++" or rename/copy lines (another binary file, a
// mode-only change, an empty new or deleted file) is hashed without its
// path. Hence two rules:
//
//   - A fix without binary files: a commit with a binary file cannot share
//     its id (its binary part is a hashed pair of blob ids that no text diff
//     yields), so every file of both is hashed with its path, and the commit
//     must change exactly the fix's set of paths.
//   - A fix with binary files: the commit must change every path the fix
//     hashes for certain (files with hunks, both names of a rename or copy),
//     and have, for each of the fix's binary files, an entry whose old blob
//     is the file's old blob and one whose new blob is its new blob (the
//     blob ids the binary file hashes; one entry for a modified file, or a
//     deleted and an added one when a rename is listed without rename
//     detection).
//
// The path set of a commit does not depend on rename or copy detection (a
// rename names its old and new paths either way; -C without
// --find-copies-harder takes copy sources only among modified files), so
// the listing is made without it, and it holds for the fix's diff options
// too. Merge commits are not listed, as before.
type prefilter struct {
	// keys are the fix's paths with whitespace removed.
	keys map[string]bool
	// binary is set when the fix has a binary file; then robust (a subset
	// of keys) must be changed and the blob ids in oldOIDs and newOIDs
	// (prefixes when the fix abbreviates them) must be found.
	binary           bool
	robust           []string
	oldOIDs, newOIDs []string
}

func newPrefilter(fx *fix) *prefilter {
	pf := &prefilter{keys: make(map[string]bool)}
	for _, p := range fx.paths() {
		pf.keys[stripSpace(p)] = true
	}
	for _, f := range fx.files {
		if f.IsBinary {
			pf.binary = true
			if isBlobID(f.OldOIDPrefix) {
				pf.oldOIDs = append(pf.oldOIDs, f.OldOIDPrefix)
			}
			if isBlobID(f.NewOIDPrefix) {
				pf.newOIDs = append(pf.newOIDs, f.NewOIDPrefix)
			}
		}
		if len(f.TextFragments) > 0 || f.IsRename || f.IsCopy {
			for _, p := range []string{f.OldName, f.NewName} {
				if p != "" {
					pf.robust = append(pf.robust, stripSpace(p))
				}
			}
		}
	}
	return pf
}

// isBlobID reports whether s is a usable (possibly abbreviated) blob id of
// a side that exists: hex, and not the all-zero id of a missing side.
func isBlobID(s string) bool {
	return isHex(s) && strings.Trim(s, "0") != ""
}

// keep reports whether commit c may have the fix's stable patch-id.
func (pf *prefilter) keep(c *rawCommit) bool {
	paths := make(map[string]bool, len(c.entries)+1)
	for _, e := range c.entries {
		for _, p := range e.paths {
			paths[stripSpace(p)] = true
		}
	}
	if !pf.binary {
		if len(paths) != len(pf.keys) {
			return false
		}
		for p := range paths {
			if !pf.keys[p] {
				return false
			}
		}
		return true
	}
	for _, p := range pf.robust {
		if !paths[p] {
			return false
		}
	}
	for _, id := range pf.oldOIDs {
		if !c.hasOID(id, false) {
			return false
		}
	}
	for _, id := range pf.newOIDs {
		if !c.hasOID(id, true) {
			return false
		}
	}
	return true
}

// stripSpace removes the bytes git's patch-id treats as whitespace.
func stripSpace(s string) string {
	if !strings.ContainsAny(s, " \t\n\r") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
		default:
			b = append(b, s[i])
		}
	}
	return string(b)
}

// rawCommit is one commit of `git log --raw -z --format=%H`.
type rawCommit struct {
	id      string
	entries []rawEntry
}

// rawEntry is one `--raw` line: the blob ids of both sides and the path (two
// for a rename or copy).
type rawEntry struct {
	oldOID, newOID string
	paths          []string
}

// hasOID reports whether an entry's new (or old) blob id starts with id.
func (c *rawCommit) hasOID(id string, newSide bool) bool {
	for _, e := range c.entries {
		oid := e.oldOID
		if newSide {
			oid = e.newOID
		}
		if strings.HasPrefix(oid, id) {
			return true
		}
	}
	return false
}

// scanRawLog parses `git log --raw -z --no-abbrev --format=%H` output and
// calls fn for each commit, in order. With -z, a commit is its id and a NUL,
// then a newline before its first entry; an entry is
// ":<mode> <mode> <oid> <oid> <status>" and a NUL, then its path and a NUL
// (two paths for a rename or a copy). The *rawCommit is reused.
func scanRawLog(r io.Reader, fn func(*rawCommit)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		c       rawCommit
		have    bool
		pending int // paths still to read for the last entry
	)
	for {
		tok, err := br.ReadSlice(0)
		if err == bufio.ErrBufferFull {
			// A path longer than the buffer.
			long := append([]byte(nil), tok...)
			for err == bufio.ErrBufferFull {
				tok, err = br.ReadSlice(0)
				long = append(long, tok...)
			}
			tok = long
		}
		if err != nil && err != io.EOF {
			return err
		}
		if err == io.EOF && len(tok) == 0 {
			break
		}
		if len(tok) > 0 && tok[len(tok)-1] == 0 {
			tok = tok[:len(tok)-1]
		}
		switch {
		case pending > 0:
			e := &c.entries[len(c.entries)-1]
			e.paths = append(e.paths, string(tok))
			pending--
		default:
			t := bytes.TrimLeft(tok, "\n")
			switch {
			case len(t) == 0:
			case t[0] == ':':
				f := strings.Fields(string(t[1:]))
				if len(f) != 5 || len(f[4]) == 0 {
					return fmt.Errorf("unexpected entry %q", t)
				}
				if !have {
					return fmt.Errorf("entry %q before any commit", t)
				}
				c.entries = append(c.entries, rawEntry{oldOID: f[2], newOID: f[3]})
				pending = 1
				if s := f[4][0]; s == 'R' || s == 'C' {
					pending = 2
				}
			default:
				id := string(t)
				if !isHex(id) || len(id) != 40 && len(id) != 64 {
					return fmt.Errorf("unexpected line %q", t)
				}
				if have {
					fn(&c)
				}
				c.id, c.entries, have = id, c.entries[:0], true
			}
		}
		if err == io.EOF {
			break
		}
	}
	if pending > 0 {
		return fmt.Errorf("output ends inside an entry")
	}
	if have {
		fn(&c)
	}
	return nil
}
