package patchid

import (
	"bufio"
	"crypto/sha1"
	"hash"
	"io"
	"math"
)

// action tells the read loop what a line did to the current patch.
type action uint8

const (
	// actContinue: the line belongs to the current patch (or is ignored).
	actContinue action = iota
	// actFound: the line names the next commit; the current patch ends.
	actFound
	// actBreak: the line is not part of a diff; the current patch ends and
	// the next one has no commit id.
	actBreak
	// actNeedFull: only for the head of an over-long line whose meaning
	// depends on all of it; nothing was changed, call again with the full line.
	actNeedFull
)

// tailMode says what to do with the rest of an over-long line after its head
// went through scanner.line.
type tailMode uint8

const (
	tailSkip    tailMode = iota // ignore the rest
	tailHash                    // hash the rest as content (whitespace rules apply) and count it
	tailHashRaw                 // hash the rest verbatim without counting it
)

// pendSize is the size of the buffer that gathers whitespace-stripped bytes
// before they reach SHA-1, so the hash sees a few large writes rather than
// one per line.
const pendSize = 64 << 10

// keep is 1 for bytes that survive git's remove_space: git's own ctype
// treats only space, tab, LF and CR as whitespace, in any locale.
var keep = func() (t [256]uint8) {
	for i := range t {
		t[i] = 1
	}
	for _, c := range []byte{' ', '\t', '\n', '\r'} {
		t[c] = 0
	}
	return t
}()

// scanner replays git's get_one_patchid (builtin/patch-id.c). One "patch" in
// git's sense runs from the end of the previous one to a commit line, to a
// line that cannot belong to a diff, or to the end of input.
type scanner struct {
	stable   bool
	verbatim bool

	h    hash.Hash
	pend []byte
	sum  [sha1.Size]byte

	result [sha1.Size]byte // sum of flushed digests for the current patch
	commit [sha1.Size]byte // id printed with the current patch
	next   [sha1.Size]byte // id named by the line that ended the patch

	// Mirrors of git's C ints; int32 so overflow wraps as it does in git.
	patchlen      int32
	before, after int32
	binary        bool

	// Blob ids from the last "index" line. git keeps them in stack buffers
	// that are neither cleared between files nor between patches, so they
	// live for the whole stream here too.
	pre, post []byte

	tail tailMode
	long []byte // gathers an over-long line that must be parsed whole
}

func newScanner(opts Options) *scanner {
	s := &scanner{
		stable:   opts.Stable || opts.Verbatim,
		verbatim: opts.Verbatim,
		h:        sha1.New(),
		pend:     make([]byte, 0, pendSize),
		pre:      make([]byte, 0, maxHexSize),
		post:     make([]byte, 0, maxHexSize),
	}
	s.reset()
	return s
}

// reset starts a new patch.
func (s *scanner) reset() {
	s.result = [sha1.Size]byte{}
	s.patchlen = 0
	s.before, s.after = -1, -1
	s.binary = false
}

// finish ends the current patch after act (actFound, actBreak, or
// actContinue for the end of input). It reports whether git would print the
// patch; if so s.result and s.commit hold the line to print until advance.
func (s *scanner) finish() bool {
	s.flushHunk()
	return s.patchlen != 0
}

// advance moves to the patch after the one finish ended.
func (s *scanner) advance(act action) {
	if act == actFound {
		s.commit = s.next
	} else {
		s.commit = [sha1.Size]byte{}
	}
	s.reset()
}

// line handles one line, already cut at its first NUL, with its trailing LF
// if it had one. partial is true when l is only the head of a longer line
// (and then holds no NUL and at least readBufferSize bytes); the caller then
// feeds the rest according to s.tail, which must be tailSkip on entry.
//
// The order of the tests is git's and matters: a line is first checked for a
// commit id, then for "diff " before anything was hashed, then against the
// header rules, then against the hunk line counts.
func (s *scanner) line(l []byte, partial bool) action {
	p := l
	if hasPrefix(l, "commit ") {
		p = l[7:]
	} else if hasPrefix(l, "From ") {
		p = l[5:]
	} else if len(l) > 12 && l[0] == '\\' && l[1] == ' ' {
		// "\ No newline at end of file" (in any language).
		if s.verbatim {
			s.hashRaw(l)
			s.tail = tailHashRaw
		}
		return actContinue
	}
	if parseOID(p, &s.next) {
		return actFound
	}

	// Ignore commit messages and mail headers.
	if s.patchlen == 0 && !hasPrefix(l, "diff ") {
		return actContinue
	}

	if s.before == -1 {
		switch {
		case hasPrefix(l, "GIT binary patch") || hasPrefix(l, "Binary files"):
			s.binary = true
			s.before = 0
			s.hashRaw(s.pre)
			s.hashRaw(s.post)
			if s.stable {
				s.flushHunk()
			}
			return actContinue
		case hasPrefix(l, "index "):
			if partial {
				return actNeedFull
			}
			s.parseIndex(l)
			return actContinue
		case hasPrefix(l, "--- "):
			s.before, s.after = 1, 1
		case len(l) == 0 || !isAlpha(l[0]):
			return actBreak
		}
	}

	if s.binary {
		if hasPrefix(l, "diff ") {
			s.binary = false
			s.before = -1
		}
		return actContinue
	}

	if s.before == 0 && s.after == 0 {
		if hasPrefix(l, "@@ -") {
			if partial {
				return actNeedFull
			}
			s.scanHunkHeader(l)
			return actContinue
		}
		if !hasPrefix(l, "diff ") {
			return actBreak
		}
		if s.stable {
			s.flushHunk()
		}
		s.before, s.after = -1, -1
	}

	var c byte
	if len(l) > 0 {
		c = l[0]
	}
	if c == '-' || c == ' ' {
		s.before--
	}
	if c == '+' || c == ' ' {
		s.after--
	}

	s.tail = tailHash
	if s.verbatim {
		s.hashRaw(l)
		s.patchlen += int32(len(l))
	} else {
		s.patchlen += s.hashStripped(l)
	}
	return actContinue
}

// longLine handles a line longer than the read buffer, whose first
// readBufferSize bytes are head. It streams the rest of the line unless the
// line has to be parsed whole. eof reports that the input ended with it.
func (s *scanner) longLine(br *bufio.Reader, head []byte) (act action, eof bool, err error) {
	if h := cString(head); len(h) < len(head) {
		act = s.line(h, false)
		eof, err = s.skipRest(br)
		return act, eof, err
	}
	s.tail = tailSkip
	act = s.line(head, true)
	switch act {
	case actNeedFull:
		s.long = append(s.long[:0], head...)
		for {
			chunk, rerr := br.ReadSlice('\n')
			s.long = append(s.long, chunk...)
			if rerr == bufio.ErrBufferFull {
				continue
			}
			if rerr != nil && rerr != io.EOF {
				return actContinue, false, rerr
			}
			act = s.line(cString(s.long), false)
			if cap(s.long) > 4*readBufferSize {
				s.long = nil // do not keep a huge buffer for the rest of the stream
			}
			return act, rerr == io.EOF, nil
		}
	case actContinue:
	default:
		eof, err = s.skipRest(br)
		return act, eof, err
	}
	for {
		chunk, rerr := br.ReadSlice('\n')
		if s.tail != tailSkip {
			c := cString(chunk)
			switch {
			case s.tail == tailHashRaw:
				s.hashRaw(c)
			case s.verbatim:
				s.hashRaw(c)
				s.patchlen += int32(len(c))
			default:
				s.patchlen += s.hashStripped(c)
			}
			if len(c) < len(chunk) {
				s.tail = tailSkip // git stops reading the line at the NUL
			}
		}
		if rerr == bufio.ErrBufferFull {
			continue
		}
		if rerr != nil && rerr != io.EOF {
			return act, false, rerr
		}
		return act, rerr == io.EOF, nil
	}
}

// skipRest discards the rest of the current line.
func (s *scanner) skipRest(br *bufio.Reader) (eof bool, err error) {
	for {
		_, rerr := br.ReadSlice('\n')
		if rerr == bufio.ErrBufferFull {
			continue
		}
		if rerr == io.EOF {
			return true, nil
		}
		return false, rerr
	}
}

// parseIndex records the blob ids of an "index <pre>..<post>[ mode]" line the
// way git does: pre runs from after "index " to the first "..", post from
// there to the next space (or to the last byte of the line), each cut to 64
// bytes. Lines without ".." leave the previous ids in place.
func (s *scanner) parseIndex(l []byte) {
	i := indexDots(l)
	if i < 0 {
		return
	}
	end := len(l) - 1
	for j := i + 2; j < len(l); j++ {
		if l[j] == ' ' {
			end = j
			break
		}
	}
	s.pre = append(s.pre[:0], cutHex(l[len("index "):i])...)
	if end < i+2 {
		end = i + 2
	}
	s.post = append(s.post[:0], cutHex(l[i+2:end])...)
}

func indexDots(l []byte) int {
	for i := 0; i+1 < len(l); i++ {
		if l[i] == '.' && l[i+1] == '.' {
			return i
		}
	}
	return -1
}

// cutHex truncates like git's strlcpy into a GIT_MAX_HEXSZ+1 buffer: git
// sizes the buffers for SHA-256, so 64 bytes survive, not 40.
func cutHex(b []byte) []byte {
	if len(b) > maxHexSize {
		return b[:maxHexSize]
	}
	return b
}

// maxHexSize is git's GIT_MAX_HEXSZ.
const maxHexSize = 64

// scanHunkHeader replays git's scan_hunk_header on a line starting "@@ -",
// including its side effects when the header is malformed: the counts it
// managed to read before giving up stay set.
func (s *scanner) scanHunkHeader(l []byte) {
	q := l[4:]
	n := spanDigits(q)
	if n < len(q) && q[n] == ',' {
		q = q[n+1:]
		s.before = atoi(q)
		n = spanDigits(q)
	} else {
		s.before = 1
	}
	if n == 0 || n+1 >= len(q) || q[n] != ' ' || q[n+1] != '+' {
		return
	}
	r := q[n+2:]
	n = spanDigits(r)
	if n < len(r) && r[n] == ',' {
		r = r[n+1:]
		s.after = atoi(r)
	} else {
		s.after = 1
	}
}

func spanDigits(b []byte) int {
	for i, c := range b {
		if c < '0' || c > '9' {
			return i
		}
	}
	return len(b)
}

// atoi is glibc's atoi, that is (int)strtol(b, NULL, 10): leading C-locale
// whitespace, an optional sign, digits; saturation at the 64-bit limits, then
// truncation to 32 bits.
func atoi(b []byte) int32 {
	i := 0
	for i < len(b) && (b[i] == ' ' || (b[i] >= '\t' && b[i] <= '\r')) {
		i++
	}
	neg := false
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		neg = b[i] == '-'
		i++
	}
	var v uint64
	overflow := false
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		d := uint64(b[i] - '0')
		if v > (math.MaxUint64-d)/10 {
			overflow = true
			continue
		}
		v = v*10 + d
	}
	var r int64
	switch {
	case !neg && (overflow || v > math.MaxInt64):
		r = math.MaxInt64
	case neg && (overflow || v > 1<<63):
		r = math.MinInt64
	case neg:
		r = -int64(v)
	default:
		r = int64(v)
	}
	return int32(r)
}

// hashStripped hashes l without whitespace and returns how many bytes it
// hashed, like git's remove_space followed by the hash update.
func (s *scanner) hashStripped(l []byte) int32 {
	var total int
	for len(l) > 0 {
		room := cap(s.pend) - len(s.pend)
		if room < len(l) && room < 4096 {
			s.drain()
			room = cap(s.pend)
		}
		chunk := l
		if len(chunk) > room {
			chunk = chunk[:room]
		}
		l = l[len(chunk):]
		n := len(s.pend)
		buf := s.pend[n : n+len(chunk)]
		j := 0
		for _, c := range chunk {
			buf[j] = c
			j += int(keep[c])
		}
		s.pend = s.pend[:n+j]
		total += j
	}
	return int32(total)
}

// hashRaw hashes b as it is.
func (s *scanner) hashRaw(b []byte) {
	if cap(s.pend)-len(s.pend) < len(b) {
		s.drain()
		if len(b) > cap(s.pend) {
			s.h.Write(b)
			return
		}
	}
	s.pend = append(s.pend, b...)
}

func (s *scanner) drain() {
	if len(s.pend) > 0 {
		s.h.Write(s.pend)
		s.pend = s.pend[:0]
	}
}

// flushHunk is git's flush_one_hunk: finish the running hash, restart it, and
// add the digest to the result as a 160-bit little-endian number, dropping
// the final carry.
func (s *scanner) flushHunk() {
	s.drain()
	s.h.Sum(s.sum[:0])
	s.h.Reset()
	var carry uint16
	for i := range s.result {
		carry += uint16(s.result[i]) + uint16(s.sum[i])
		s.result[i] = byte(carry)
		carry >>= 8
	}
}

func hasPrefix(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && string(b[:len(prefix)]) == prefix
}

func isAlpha(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// hexVal maps hex digits of either case to their value and everything else
// to 0xff, like git's hexval_table.
var hexVal = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c - 'a' + 10)
		t[c-'a'+'A'] = byte(c - 'a' + 10)
	}
	return t
}()

// parseOID is git's get_oid_hex: the first 40 bytes of p must be hex digits;
// what follows does not matter.
func parseOID(p []byte, out *[sha1.Size]byte) bool {
	if len(p) < 2*sha1.Size {
		return false
	}
	var id [sha1.Size]byte
	for i := range id {
		hi, lo := hexVal[p[2*i]], hexVal[p[2*i+1]]
		if hi > 15 || lo > 15 {
			return false
		}
		id[i] = hi<<4 | lo
	}
	*out = id
	return true
}
