package patchid

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// Result is one line of `git patch-id` output.
type Result struct {
	// PatchID is the 40-character lowercase hex patch-id.
	PatchID string
	// CommitID is the 40-character lowercase hex id of the commit the patch
	// belongs to, taken from the "commit <id>" or "From <id>" line (or a line
	// starting with 40 hex digits) that preceded it, or forty zeros when the
	// patch had no such line.
	CommitID string
}

// Options selects the patch-id algorithm. The zero value is git's default
// (unstable) algorithm.
type Options struct {
	// Stable selects `git patch-id --stable`: each file is hashed on its own
	// and the digests are summed, so file order does not matter.
	Stable bool
	// Verbatim selects `git patch-id --verbatim`: like Stable, but whitespace
	// is kept and "\ No newline at end of file" lines are hashed. Verbatim
	// implies Stable.
	Verbatim bool
}

// readBufferSize is the bufio buffer size. Lines longer than this are
// streamed (hashed chunk by chunk) rather than gathered, except the rare
// "index" and "@@ -" lines that must be parsed whole.
const readBufferSize = 256 << 10

// Scan reads a patch, `git log -p` output or `git format-patch` output from r
// and calls fn for every patch-id, in the order `git patch-id` prints them.
//
// Scan holds at most one read buffer and one hash buffer in memory whatever
// the size of the input. It stops at the first error from fn and returns that
// error unchanged; read errors are returned wrapped.
func Scan(r io.Reader, opts Options, fn func(Result) error) error {
	return scan(r, opts, func(id, commit *[20]byte) error {
		return fn(Result{PatchID: hexString(id), CommitID: hexString(commit)})
	})
}

// scan is Scan without building strings, for Write.
func scan(r io.Reader, opts Options, fn func(id, commit *[20]byte) error) error {
	s := newScanner(opts)
	br := bufio.NewReaderSize(r, readBufferSize)
	// end closes the current patch, reports it if git would print it, and
	// starts the next one.
	end := func(act action) error {
		if s.finish() {
			if err := fn(&s.result, &s.commit); err != nil {
				return err
			}
		}
		s.advance(act)
		return nil
	}
	// clean counts the bytes after the read position known to hold no NUL,
	// so that cutting lines at a NUL costs one scan per buffer fill rather
	// than one per line.
	clean := 0
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			clean = 0
			act, eof, lerr := s.longLine(br, line)
			if lerr != nil {
				return fmt.Errorf("patchid: read input: %w", lerr)
			}
			if act != actContinue {
				if err := end(act); err != nil {
					return err
				}
			}
			if eof {
				return end(actContinue)
			}
			continue
		}
		read := len(line)
		if read <= clean {
			clean -= read
		} else {
			line = cString(line)
			rest, _ := br.Peek(br.Buffered()) // no read: only what is buffered
			if i := bytes.IndexByte(rest, 0); i >= 0 {
				clean = i
			} else {
				clean = len(rest)
			}
		}
		if read > 0 { // a line may be empty once cut at a NUL, yet git still sees it
			if act := s.line(line, false); act != actContinue {
				if err := end(act); err != nil {
					return err
				}
			}
		}
		if err == io.EOF {
			return end(actContinue)
		}
		if err != nil {
			return fmt.Errorf("patchid: read input: %w", err)
		}
	}
}

// Write runs Scan on r and writes one "<patch-id> <commit-id>\n" line per
// result to w, exactly as `git patch-id` does.
func Write(w io.Writer, r io.Reader, opts Options) error {
	bw := bufio.NewWriter(w)
	var line [82]byte
	line[40], line[81] = ' ', '\n'
	err := scan(r, opts, func(id, commit *[20]byte) error {
		hex.Encode(line[:40], id[:])
		hex.Encode(line[41:81], commit[:])
		if _, err := bw.Write(line[:]); err != nil {
			return fmt.Errorf("patchid: write output: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("patchid: write output: %w", err)
	}
	return nil
}

// Of returns the stable patch-id of one diff: a single commit's unified diff
// with or without its commit or mail headers. It is the first id that
// `git patch-id --stable` prints for that input; ok is false when git would
// print nothing (the input holds no diff).
func Of(diff []byte) (id string, ok bool, err error) {
	err = Scan(bytes.NewReader(diff), Options{Stable: true}, func(res Result) error {
		id = res.PatchID
		return errStop
	})
	if err != nil && err != errStop {
		return "", false, fmt.Errorf("patchid: of diff: %w", err)
	}
	return id, id != "", nil
}

// errStop ends Of's scan after the first result.
var errStop = errors.New("stop")

// cString returns b up to its first NUL byte: git handles every line as a C
// string, so whatever follows a NUL is invisible to it.
func cString(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

const hexDigits = "0123456789abcdef"

func hexString(b *[20]byte) string {
	var out [40]byte
	for i, c := range b {
		out[2*i] = hexDigits[c>>4]
		out[2*i+1] = hexDigits[c&0x0f]
	}
	return string(out[:])
}
