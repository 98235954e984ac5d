package gitfork

import (
	"regexp"
	"strings"

	"github.com/dpihub/dpihub/events"
)

// Limits of the references schema (org.dpihub.fix.published.v1).
const (
	maxReferences   = 100
	maxReferenceLen = 512
)

var (
	// cveRE finds CVE ids anywhere in a message: CVE-YYYY-NNNN, four or
	// more digits after the year, case-insensitive as people write them.
	cveRE = regexp.MustCompile(`(?i)\bCVE-([0-9]{4})-([0-9]{4,19})\b`)
	// fixesRE is a "Fixes:" trailer line (Linux and GitHub both use the
	// key, with any case).
	fixesRE = regexp.MustCompile(`(?i)^[ \t]*fixes[ \t]*:[ \t]*(.*)$`)
)

// ParseReferences returns the identifiers a commit message names: the
// values of its "Fixes:" trailers, in order, and every CVE id it mentions
// (normalised to upper case), each once. It returns nil when there are
// none. Every value fits the schema of events.References: at most 100 of
// each, a Fixes value at most 512 bytes of one line.
//
// A trailer is read on any line, not only in git's final trailer block:
// people put "Fixes:" lines above a "Signed-off-by" paragraph, and missing a
// reference costs more than finding one in prose that begins with "Fixes:".
func ParseReferences(msg string) *events.References {
	var refs events.References
	seenFix := map[string]bool{}
	seenCVE := map[string]bool{}
	for _, line := range strings.Split(msg, "\n") {
		line = strings.TrimRight(line, "\r")
		if m := fixesRE.FindStringSubmatch(line); m != nil && len(refs.Fixes) < maxReferences {
			v := sanitizeLine(m[1], maxReferenceLen)
			if v != "" && !seenFix[v] {
				seenFix[v] = true
				refs.Fixes = append(refs.Fixes, v)
			}
		}
	}
	for _, m := range cveRE.FindAllStringSubmatch(msg, -1) {
		if len(refs.CVEs) >= maxReferences {
			break
		}
		id := "CVE-" + m[1] + "-" + m[2]
		if !seenCVE[id] {
			seenCVE[id] = true
			refs.CVEs = append(refs.CVEs, id)
		}
	}
	if len(refs.Fixes) == 0 && len(refs.CVEs) == 0 {
		return nil
	}
	return &refs
}
