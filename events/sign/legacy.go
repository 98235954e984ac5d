package sign

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
)

// dpihub signed events until 2026-11-29 after an intermediate draft of the
// extension (cloudevents/spec PR #1371): the DSSE payload was the bare
// 32-byte SHA-256 of a digest list, the signed extension names travelled
// in the event's own signedextattrs attribute (comma-separated), time was
// hashed with the event's own precision (RFC3339Nano) and each signed
// extension contributed the digests of its name and of its value. Those
// events stay in the streams for a year, so Verifier still accepts them:
// their payload, exactly 32 bytes, cannot be mistaken for the JSON object
// of the published format. Nothing signs in this format any more.

// extLegacySignedAttrs is the event attribute of the legacy format that
// named the signed extensions.
const extLegacySignedAttrs = "signedextattrs"

// legacyExtensions returns the signed extension names a legacy event
// carries in its signedextattrs attribute.
func legacyExtensions(e event.Event) []string {
	if s, _ := extension(e, extLegacySignedAttrs).(string); s != "" {
		return strings.Split(s, ",")
	}
	return nil
}

// legacyDigests returns the legacy digest list of e, whose SHA-256 is the
// legacy signed payload: the nine core parts, time formatted with
// RFC3339Nano in UTC, then name and value of each signed extension.
func legacyDigests(e event.Event, exts []string) ([]byte, error) {
	var t string
	if !e.Time().IsZero() {
		t = e.Time().UTC().Format(time.RFC3339Nano)
	}
	out := partDigests(e, t, make([]byte, 0, sha256.Size*(len(coreParts)+2*len(exts))))
	add := func(s string) { d := sha256.Sum256([]byte(s)); out = append(out, d[:]...) }
	for _, name := range exts {
		v := extension(e, name)
		if v == nil {
			return nil, fmt.Errorf("signed extension %q is not set", name)
		}
		s, err := types.Format(v)
		if err != nil {
			return nil, fmt.Errorf("signed extension %q: %w", name, err)
		}
		add(name)
		add(s)
	}
	return out, nil
}

// legacyPartName names the part at index i of a legacy digest list.
func legacyPartName(i int, exts []string) string {
	switch {
	case i < 0:
		return "an unknown part"
	case i < len(coreParts):
		return coreParts[i]
	}
	if j := (i - len(coreParts)) / 2; j < len(exts) {
		return exts[j]
	}
	return fmt.Sprintf("part %d", i)
}
