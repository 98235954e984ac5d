package events

// The shared vocabulary: every service, page and command that names a
// verdict, a type's short form or a limit takes it from here, so that the
// words cannot drift apart.

// Verdicts of a fix assessment, as fix.assessed carries them.
const (
	// VerdictPresent: the fork already has the change (see How*).
	VerdictPresent = "present"
	// VerdictApplies: the fix applies cleanly to the fork's head.
	VerdictApplies = "applies"
	// VerdictConflicts: some hunks fail (fix.assessed names them).
	VerdictConflicts = "conflicts"
	// VerdictNotApplicable: the fork lacks the files the fix touches.
	VerdictNotApplicable = "not-applicable"
)

// States of a country in a fix's propagation matrix that are not verdicts:
// no event carries them, views derive them.
const (
	// VerdictOrigin: the fix was made in this country.
	VerdictOrigin = "origin"
	// VerdictPending: the country has not assessed the fix (yet).
	VerdictPending = "pending"
)

// Verdicts lists the verdicts a fix.assessed event may carry, in the order
// views list them.
func Verdicts() []string {
	return []string{VerdictPresent, VerdictApplies, VerdictConflicts, VerdictNotApplicable}
}

// How a present verdict was found, as fix.assessed carries it.
const (
	// HowPatchID: a fork commit has the fix's stable patch-id.
	HowPatchID = "patch-id"
	// HowTrailer: a fork commit's message says "(cherry picked from commit
	// <the fix's commit>)".
	HowTrailer = "trailer"
	// HowContent: no commit matches, but the fork's files already hold the
	// change (the fix applies in reverse).
	HowContent = "content"
)

// Limits of the contract. The payload schemas state the same numbers
// (a test checks), so producers trim to them before validation refuses.
const (
	// MaxConflicts is the most conflicts one fix.assessed lists.
	MaxConflicts = 10000
	// MaxConflictReason is the longest reason of one conflict, in
	// characters.
	MaxConflictReason = 1024
)

// MaxInlineDiff is the largest diff, in bytes, a node sends inside a
// fix.published event; a larger one goes to the object store and the
// event carries its reference. The schema allows more (1 MiB); this is
// what producers send, and the stream's largest message
// (bus.DefaultMaxMsgSize) is chosen so that such an event fits.
const MaxInlineDiff = 256 << 10

// Limits of the list APIs: a page holds DefaultPageLimit events unless the
// caller asks for up to MaxPageLimit.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 500
)

// ShortType is the short form of a catalog type, kind and verb:
// org.dpihub.fix.published.v1 -> fix.published. A type not in the catalog
// is returned as it is.
func ShortType(typ string) string {
	if s, ok := Lookup(typ); ok {
		return s.Kind + "." + s.Verb
	}
	return typ
}

// FullType is the inverse of ShortType: fix.published ->
// org.dpihub.fix.published.v1. A full catalog type is returned as it is;
// ok is false for a name the catalog does not know.
func FullType(name string) (typ string, ok bool) {
	if _, ok := Lookup(name); ok {
		return name, true
	}
	t, ok := byShort[name]
	return t, ok
}

var byShort = func() map[string]string {
	m := make(map[string]string, len(catalog))
	for _, s := range catalog {
		m[s.Kind+"."+s.Verb] = s.Type
	}
	return m
}()

// Truncate cuts s to at most n characters (runes), never inside one, as
// the schemas' maxLength counts them.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}
