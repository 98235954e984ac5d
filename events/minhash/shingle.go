package minhash

import (
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Normalize returns a changed line's content (without its '+' or '-') as the
// scheme sees it: every run of white space collapsed to one ASCII space and
// the ends trimmed, so that re-indentation, tabs against spaces, trailing
// blanks and CRLF line ends do not hide a duplicate. White space is what
// unicode.IsSpace says (so also '\r', '\v', '\f', U+00A0 NO-BREAK SPACE and
// the other Unicode spaces). Nothing else changes: case counts (code is
// case-sensitive), and bytes that are not valid UTF-8 are kept as they are.
func Normalize(line string) string {
	if isNormal(line) {
		return line
	}
	var b strings.Builder
	b.Grow(len(line))
	space := false
	for i := 0; i < len(line); {
		r, size := rune(line[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(line[i:])
		}
		if isSpace(r, size) {
			space = b.Len() > 0
		} else {
			if space {
				b.WriteByte(' ')
				space = false
			}
			b.WriteString(line[i : i+size])
		}
		i += size
	}
	return b.String()
}

// isNormal reports whether Normalize(line) == line for lines of printable
// ASCII, the common case, so that Normalize does not copy them.
func isNormal(line string) bool {
	if line == "" {
		return true
	}
	if line[0] == ' ' || line[len(line)-1] == ' ' {
		return false
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c >= utf8.RuneSelf || asciiSpace[c] && (c != ' ' || line[i+1] == ' ') {
			return false
		}
	}
	return true
}

var asciiSpace = [utf8.RuneSelf]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}

// isSpace reports whether the rune r, decoded from size bytes, is white
// space; an invalid byte (RuneError of size 1) is not.
func isSpace(r rune, size int) bool {
	if r < utf8.RuneSelf {
		return asciiSpace[r]
	}
	return size > 1 && unicode.IsSpace(r)
}

// lineHash returns the hash of a changed line: FNV-1a over the domain byte,
// the sign and Normalize(content), then mix64; false when the normalised
// content is empty. It normalises as it hashes, without building the string
// (TestLineHashIsHashOfNormalize holds it to Normalize).
func lineHash(sign byte, content string) (uint64, bool) {
	h := (fnvStart(domainLine) ^ uint64(sign)) * fnvPrime64
	started, space := false, false
	for i := 0; i < len(content); {
		c := content[i]
		if c < utf8.RuneSelf {
			if asciiSpace[c] {
				space = started
			} else {
				if space {
					h = (h ^ ' ') * fnvPrime64
					space = false
				}
				h = (h ^ uint64(c)) * fnvPrime64
				started = true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(content[i:])
		if isSpace(r, size) {
			space = started
		} else {
			if space {
				h = (h ^ ' ') * fnvPrime64
				space = false
			}
			h = fnvString(h, content[i:i+size])
			started = true
		}
		i += size
	}
	return mix64(h), started
}

// LineShingles returns the shingle set of a diff's changed lines: sorted,
// unique 64-bit hashes, nil when there are none.
//
// Input contract: changed holds the lines of one or more hunks in diff
// order, each without its line terminator (a trailing "\r" or "\n" is
// harmless: it is white space).
//   - An element whose first byte is '+' or '-' is an added or removed line;
//     the rest of it is the line's content.
//   - The empty string "" marks a hunk boundary.
//   - Any other element (a context line " x", "\ No newline at end of
//     file") is skipped: it is neither a changed line nor a boundary, so a
//     hunk's body may be passed as it stands.
//
// The shingles are: each changed line, as its sign and Normalize(content);
// and each pair of consecutive changed lines of one hunk, in their order
// (context lines between them do not separate them; a boundary does). A
// changed line whose normalised content is empty (a blank line added or
// removed) is skipped as if it were not there. Since the result is a set,
// the order of hunks and of files does not count, and a line changed twice
// counts once.
func LineShingles(changed []string) []uint64 {
	out := make([]uint64, 0, 2*len(changed))
	var prev uint64
	havePrev := false
	for _, l := range changed {
		if l == "" {
			havePrev = false
			continue
		}
		if l[0] != '+' && l[0] != '-' {
			continue
		}
		h, ok := lineHash(l[0], l[1:])
		if !ok {
			continue
		}
		out = append(out, h)
		if havePrev {
			out = append(out, pairHash(prev, h))
		}
		prev, havePrev = h, true
	}
	return set(out)
}

// set sorts s and removes duplicates in place; nil when s is empty.
func set(s []uint64) []uint64 {
	if len(s) == 0 {
		return nil
	}
	slices.Sort(s)
	return slices.Clip(slices.Compact(s))
}

// DiffShingles returns LineShingles of the changed lines of a unified diff:
// the output of git diff, git log -p, git show or git format-patch, or of
// diff -u, with any number of files. Only the bodies of hunks count. A hunk
// starts at a header "@@ -a[,b] +c[,d] @@" and, as git apply reads it, holds
// exactly b old and d new lines, so that a removed line that looks like a
// header ("--- x", from a removed "-- x") is still a removed line. Outside
// hunks everything is ignored: commit messages, "diff --git", "index",
// "---"/"+++" file headers, mode and rename lines, binary notices and binary
// patches. Lines may end in LF or CRLF. Inside a hunk, "\ No newline at end
// of file" is skipped, and an empty line counts as an empty context line
// (some tools strip the space).
// A hunk header that git would not read (no counts, combined-diff "@@@")
// starts nothing, so its lines are ignored too; a line that cannot belong to
// the hunk (a count is exhausted, or it starts with another byte) ends it.
//
// DiffShingles accepts any input without failing: what is not a diff gives
// no shingles.
func DiffShingles(diff string) []uint64 {
	return LineShingles(changedLines(diff))
}

// changedLines returns the changed lines of diff in the form LineShingles
// takes: hunk boundaries as "", context lines left out.
func changedLines(diff string) []string {
	var out []string
	inHunk := false
	oldLeft, newLeft := 0, 0
	for len(diff) > 0 {
		line := diff
		if i := strings.IndexByte(diff, '\n'); i >= 0 {
			line, diff = diff[:i], diff[i+1:]
		} else {
			diff = ""
		}
		line = strings.TrimSuffix(line, "\r")
		if inHunk {
			c := byte(' ')
			if line != "" {
				c = line[0]
			}
			switch {
			case c == '\\':
				continue
			case c == ' ' && oldLeft > 0 && newLeft > 0:
				oldLeft--
				newLeft--
			case c == '-' && oldLeft > 0:
				oldLeft--
				out = append(out, line)
			case c == '+' && newLeft > 0:
				newLeft--
				out = append(out, line)
			default:
				inHunk = false // not a line of this hunk: read it as a header
			}
			if inHunk {
				if oldLeft == 0 && newLeft == 0 {
					inHunk = false
					out = append(out, "")
				}
				continue
			}
		}
		if o, n, ok := hunkHeader(line); ok {
			out = append(out, "")
			inHunk, oldLeft, newLeft = true, o, n
		}
	}
	return out
}

// hunkHeader parses "@@ -a[,b] +c[,d] @@..." and returns b and d (1 when
// omitted), as git apply does; false for anything else or a hunk of no
// lines.
func hunkHeader(line string) (oldLines, newLines int, ok bool) {
	rest, found := strings.CutPrefix(line, "@@ -")
	if !found {
		return 0, 0, false
	}
	oldLines, rest, ok = hunkRange(rest)
	if !ok {
		return 0, 0, false
	}
	if rest, found = strings.CutPrefix(rest, " +"); !found {
		return 0, 0, false
	}
	newLines, rest, ok = hunkRange(rest)
	if !ok || !strings.HasPrefix(rest, " @@") || oldLines+newLines == 0 {
		return 0, 0, false
	}
	return oldLines, newLines, true
}

// hunkRange parses "start[,count]" at the start of s.
func hunkRange(s string) (count int, rest string, ok bool) {
	i := digits(s)
	if i == 0 {
		return 0, s, false
	}
	if _, err := strconv.ParseUint(s[:i], 10, 31); err != nil {
		return 0, s, false
	}
	s = s[i:]
	if s == "" || s[0] != ',' {
		return 1, s, true
	}
	s = s[1:]
	i = digits(s)
	if i == 0 {
		return 0, s, false
	}
	n, err := strconv.ParseUint(s[:i], 10, 31)
	if err != nil {
		return 0, s, false
	}
	return int(n), s[i:], true
}

func digits(s string) int {
	i := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	return i
}

// TextShingles returns the shingle set of prose (a proposal's title and
// body): sorted, unique 64-bit hashes, nil when the text has no word.
//
// The text is first put in Unicode normalisation form NFKC (so composed and
// decomposed accents, full-width letters and ligatures compare equal). A
// word is a maximal run of letters, digits (unicode.IsLetter, IsDigit) and
// combining marks (unicode.IsMark, which keeps words of Sinhala, Tamil,
// Devanagari and other scripts whole); everything else separates words.
// Words are lower-cased rune by rune (unicode.ToLower). The shingles are
// the hashes of every 3 consecutive words; a text of one or two words gives
// the hashes of its words instead.
func TextShingles(text string) []uint64 {
	text = norm.NFKC.String(text)
	var words []uint64
	var buf [utf8.UTFMax]byte
	h, inWord := uint64(0), false
	for _, r := range text {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) {
			if !inWord {
				h, inWord = fnvStart(domainWord), true
			}
			n := utf8.EncodeRune(buf[:], unicode.ToLower(r))
			for _, c := range buf[:n] {
				h = (h ^ uint64(c)) * fnvPrime64
			}
			continue
		}
		if inWord {
			words = append(words, mix64(h))
			inWord = false
		}
	}
	if inWord {
		words = append(words, mix64(h))
	}
	if len(words) < 3 {
		return set(words)
	}
	out := make([]uint64, 0, len(words)-2)
	for i := 2; i < len(words); i++ {
		out = append(out, tripleHash(words[i-2], words[i-1], words[i]))
	}
	return set(out)
}
