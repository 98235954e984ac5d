package sqlite

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/services/feed"
)

// Limits of a search query, so that one request cannot make the index do
// unbounded work.
const (
	maxQueryLen   = 1000
	maxQueryTerms = 32
	minPatchIDLen = 4
)

// term is one searchable part of a query.
type term struct {
	neg    bool   // excluded (-word, NOT word)
	column string // "" for every column, or files, patchids, cves
	text   string // the words of a phrase, tokenized by FTS5 as the index was
	prefix bool   // the last word is a prefix (word*)
}

func (t term) fts() string {
	s := `"` + strings.ReplaceAll(t.text, `"`, `""`) + `"`
	if t.prefix {
		s += " *"
	}
	if t.column != "" {
		return t.column + " : " + s
	}
	// Words are searched in the text columns, never in meta.
	return "{summary body files patchids cves} : " + s
}

var (
	hexRE = regexp.MustCompile(`^[0-9a-f]+$`)
	cveID = regexp.MustCompile(`^CVE-[0-9]{4}-[0-9]{4,}$`)
)

// badQuery is an error in a query or cursor: of kind feed.ErrBadQuery,
// with a detail for the user.
func badQuery(format string, args ...any) error {
	return events.Errorf(feed.ErrBadQuery, format, args...)
}

// word is one whitespace-separated piece of a query as typed.
type word struct {
	raw    string // as typed, for operators and messages
	neg    bool   // a leading -
	field  string // file, patchid or cve before a colon, lower case
	text   string // the rest, without quotes or a trailing *
	quoted bool
	prefix bool // a trailing *
}

// scan splits q into words: runs of non-space characters, where a
// double-quoted part ("a phrase", file:"a path") may contain spaces.
func scan(q string) ([]word, error) {
	var out []word
	i := 0
	for {
		for i < len(q) {
			r, n := utf8.DecodeRuneInString(q[i:])
			if !unicode.IsSpace(r) {
				break
			}
			i += n
		}
		if i == len(q) {
			return out, nil
		}
		start := i
		var w word
		if q[i] == '-' {
			w.neg = true
			i++
			if i < len(q) && q[i] == '-' {
				return nil, badQuery("%q: one - is enough", q[start:min(len(q), i+10)])
			}
		}
		// An optional field name: letters then a colon.
		j := i
		for j < len(q) && (q[j] >= 'a' && q[j] <= 'z' || q[j] >= 'A' && q[j] <= 'Z') {
			j++
		}
		if j < len(q) && q[j] == ':' {
			switch f := strings.ToLower(q[i:j]); f {
			case "file", "patchid", "cve":
				w.field, i = f, j+1
			}
		}
		if i < len(q) && q[i] == '"' {
			end := strings.IndexByte(q[i+1:], '"')
			if end < 0 {
				return nil, badQuery("unbalanced quote")
			}
			w.text, w.quoted = q[i+1:i+1+end], true
			i += end + 2
			if i < len(q) && q[i] == '*' {
				w.prefix = true
				i++
			}
			if r, _ := utf8.DecodeRuneInString(q[i:]); i < len(q) && !unicode.IsSpace(r) {
				return nil, badQuery("a quoted phrase must end its word: %q", q[start:min(len(q), i+10)])
			}
		} else {
			end := strings.IndexFunc(q[i:], unicode.IsSpace)
			if end < 0 {
				end = len(q) - i
			}
			w.text = q[i : i+end]
			i += end
			if strings.Contains(w.text, `"`) {
				return nil, badQuery("%q: a quote inside a word", q[start:i])
			}
			if t, ok := strings.CutSuffix(w.text, "*"); ok {
				w.text, w.prefix = t, true
			}
			if strings.Contains(w.text, "*") {
				return nil, badQuery("%q: * may only end a word", q[start:i])
			}
		}
		w.raw = q[start:i]
		out = append(out, w)
	}
}

// ftsQuery translates a user's search into an FTS5 MATCH expression; ""
// means no search. The language:
//
//	word          events with the word (in any column)
//	word*         a word that starts so
//	"a phrase"    the words in this order ("a phrase"* for a prefix)
//	-word, NOT w  events without it (a query needs one term that is not)
//	a OR b        either; terms side by side must all match (AND is allowed)
//	file:path     a file a fix, snapshot or conflict names (its parts in order; path* too)
//	patchid:hex   a patch-id starting with these (at least 4) hex digits
//	cve:CVE-id    a CVE the event names (cve:2024-1234 works too)
//
// What the user types ends up only inside FTS5 string literals, so no
// input reaches FTS5's own syntax. Anything else (unbalanced quotes, a
// lone operator, a field with no value, a term with no letters or digits)
// is an error wrapping feed.ErrBadQuery.
func ftsQuery(q string) (string, error) {
	if len(q) > maxQueryLen {
		return "", badQuery("query longer than %d bytes", maxQueryLen)
	}
	if !utf8.ValidString(q) {
		return "", badQuery("query is not UTF-8")
	}
	for _, r := range q {
		if unicode.IsControl(r) && !unicode.IsSpace(r) {
			return "", badQuery("query has a control character %U", r)
		}
	}
	words, err := scan(q)
	if err != nil {
		return "", err
	}
	if len(words) > maxQueryTerms {
		return "", badQuery("more than %d terms", maxQueryTerms)
	}
	type group struct{ pos, neg []term }
	var (
		groups  = []group{{}}
		pending string // AND, OR or NOT waiting for the next term
	)
	for _, w := range words {
		if !w.quoted && !w.neg && w.field == "" && !w.prefix {
			switch w.text {
			case "OR", "AND", "NOT":
				if pending != "" {
					return "", badQuery("%s after %s", w.text, pending)
				}
				g := groups[len(groups)-1]
				if w.text != "NOT" && len(g.pos)+len(g.neg) == 0 {
					return "", badQuery("%s needs a term before it", w.text)
				}
				if w.text == "OR" {
					groups = append(groups, group{})
				}
				pending = w.text
				continue
			}
		}
		t, err := toTerm(w)
		if err != nil {
			return "", err
		}
		if pending == "NOT" {
			if t.neg {
				return "", badQuery("NOT before an excluded term %q", w.raw)
			}
			t.neg = true
		}
		pending = ""
		g := &groups[len(groups)-1]
		if t.neg {
			g.neg = append(g.neg, t)
		} else {
			g.pos = append(g.pos, t)
		}
	}
	if pending != "" {
		return "", badQuery("%s needs a term after it", pending)
	}
	if len(words) == 0 {
		return "", nil
	}
	parts := make([]string, 0, len(groups))
	for _, g := range groups {
		if len(g.pos) == 0 {
			return "", badQuery("a query needs at least one term that is not excluded")
		}
		pos := make([]string, len(g.pos))
		for i, t := range g.pos {
			pos[i] = t.fts()
		}
		s := "(" + strings.Join(pos, " AND ") + ")"
		for _, t := range g.neg {
			s = "(" + s + " NOT " + t.fts() + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " OR "), nil
}

// toTerm checks one word and makes it a term.
func toTerm(w word) (term, error) {
	t := term{neg: w.neg, text: w.text, prefix: w.prefix}
	switch w.field {
	case "":
		if !hasToken(w.text) {
			if w.text == "" && !w.quoted {
				return t, badQuery("%q: an operator without a word", w.raw)
			}
			return t, badQuery("%q has no letters or digits", w.raw)
		}
	case "file":
		if w.text == "" {
			return t, badQuery("file: needs a path")
		}
		if !hasToken(w.text) {
			return t, badQuery("%q has no letters or digits", w.raw)
		}
		t.column = "files"
	case "patchid":
		v := strings.ToLower(w.text)
		if !hexRE.MatchString(v) || len(v) < minPatchIDLen || len(v) > 64 {
			return t, badQuery("%q: a patch-id prefix is %d to 64 hex digits", w.raw, minPatchIDLen)
		}
		t.column, t.text, t.prefix = "patchids", v, true
	case "cve":
		v := strings.ToUpper(w.text)
		if !strings.HasPrefix(v, "CVE-") {
			v = "CVE-" + v
		}
		if !cveID.MatchString(v) || w.prefix {
			return t, badQuery("%q: not a CVE id like CVE-2024-12345", w.raw)
		}
		t.column, t.text = "cves", v
	}
	return t, nil
}

// hasToken reports whether FTS5's unicode61 tokenizer finds a token in s:
// a letter or a digit.
func hasToken(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool {
		return unicode.IsLetter(r) || unicode.IsNumber(r)
	}) >= 0
}
