package sign

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
)

// The verification material of the extension as published: the JSON object
// that the DSSE envelope signs (VERIFICATION_MATERIAL).
type material struct {
	Core           []byte   `json:"core"`
	Ext            []byte   `json:"ext,omitempty"`
	SignedExtAttrs []string `json:"signedextattrs,omitempty"`
}

// wireMaterial is material as JSON carries it; Base64 is decoded by
// decodeB64, which takes both alphabets as DSSE does.
type wireMaterial struct {
	Core           *string   `json:"core"`
	Ext            *string   `json:"ext"`
	SignedExtAttrs *[]string `json:"signedextattrs"`
}

// coreParts names the parts of CORE_DIGEST, in the order they are hashed.
var coreParts = []string{"id", "source", "specversion", "type", "datacontenttype", "dataschema", "subject", "time", "data"}

// extensionTypes are the CloudEvents types of the extension attributes
// dpihub signs or accepts as signed. The extension hashes a value by its
// type, and String, URI, Timestamp and Binary values all look alike in
// JSON, so a verifier must know the type from elsewhere: from this table.
// A signature covering an extension missing here is refused.
var extensionTypes = map[string]string{"country": "String"}

// timeLayout is RFC 3339 in UTC with second precision, the form in which
// the extension hashes time (and Timestamp extensions).
const timeLayout = "2006-01-02T15:04:05Z"

// secondsUTC formats t as the extension hashes a Timestamp: UTC, the
// fraction cut (not rounded), or "" for the zero time (an absent time).
func secondsUTC(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Truncate(time.Second).Format(timeLayout)
}

// coreDigests returns the concatenated SHA-256 digests of the nine core
// parts (step 3 of the extension's signing protocol); CORE_DIGEST is its
// SHA-256. An absent attribute is hashed as the empty byte sequence.
func coreDigests(e event.Event, out []byte) []byte {
	return partDigests(e, secondsUTC(e.Time()), out)
}

// partDigests appends the digests of the nine core parts, with time
// written as t: the published format and the legacy one differ only there.
func partDigests(e event.Event, t string, out []byte) []byte {
	add := func(s string) { d := sha256.Sum256([]byte(s)); out = append(out, d[:]...) }
	add(e.ID())
	add(e.Source())
	add(e.SpecVersion())
	add(e.Type())
	add(e.DataContentType())
	add(e.DataSchema())
	add(e.Subject())
	add(t)
	d := sha256.Sum256(e.Data())
	return append(out, d[:]...)
}

// extDigests returns the concatenated SHA-256 digests of the canonical
// values of the extensions named in exts, in that order (step 5), each read
// as the type typs gives it; EXT_DIGEST is its SHA-256. An extension
// absent from e is hashed as the empty byte sequence.
func extDigests(e event.Event, exts []string, typs map[string]string, out []byte) ([]byte, error) {
	for _, name := range exts {
		typ, ok := typs[name]
		if !ok {
			return nil, fmt.Errorf("extension %q has no known CloudEvents type", name)
		}
		b, err := canonical(extension(e, name), typ)
		if err != nil {
			return nil, fmt.Errorf("extension %q: %w", name, err)
		}
		d := sha256.Sum256(b)
		out = append(out, d[:]...)
	}
	return out, nil
}

// canonical returns the byte sequence the extension hashes for value v of
// CloudEvents type typ (its Canonical Value Serialization); nil for an
// absent value. A value that arrived as a string (JSON, a header) is read
// as typ says.
func canonical(v any, typ string) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	switch typ {
	case "String":
		s, err := types.ToString(v)
		return []byte(s), err
	case "URI", "URI-reference":
		s, err := types.Format(v)
		return []byte(s), err
	case "Boolean":
		b, err := types.ToBool(v)
		return []byte(strconv.FormatBool(b)), err
	case "Integer":
		i, err := types.ToInteger(v)
		return []byte(strconv.FormatInt(int64(i), 10)), err
	case "Binary":
		return types.ToBinary(v)
	case "Timestamp":
		t, err := types.ToTime(v)
		return []byte(secondsUTC(t)), err
	}
	return nil, fmt.Errorf("unknown CloudEvents type %q", typ)
}

// newMaterial computes the verification material of e covering exts, of
// the types typs gives, and the digest lists it was made from: core parts,
// then extension values.
func newMaterial(e event.Event, exts []string, typs map[string]string) (material, []byte, error) {
	parts := coreDigests(e, make([]byte, 0, sha256.Size*(len(coreParts)+len(exts))))
	core := sha256.Sum256(parts)
	m := material{Core: core[:]}
	if len(exts) == 0 {
		return m, parts, nil
	}
	parts, err := extDigests(e, exts, typs, parts)
	if err != nil {
		return material{}, nil, err
	}
	ext := sha256.Sum256(parts[len(coreParts)*sha256.Size:])
	m.Ext, m.SignedExtAttrs = ext[:], exts
	return m, parts, nil
}

// marshal writes the material as the payload dpihub signs: compact JSON,
// fields in the order core, ext, signedextattrs, digests in standard
// Base64 with padding.
func (m material) marshal() []byte {
	b := make([]byte, 0, 160)
	b = append(b, `{"core":"`...)
	b = base64.StdEncoding.AppendEncode(b, m.Core)
	b = append(b, '"')
	if m.Ext != nil {
		b = append(b, `,"ext":"`...)
		b = base64.StdEncoding.AppendEncode(b, m.Ext)
		b = append(b, `","signedextattrs":`...)
		b = appendNames(b, m.SignedExtAttrs)
	}
	return append(b, '}')
}

// appendNames appends names as a JSON array of strings. Extension names
// are lower-case letters and digits (CloudEvents), which JSON writes as
// they are; any other name takes encoding/json.
func appendNames(b []byte, names []string) []byte {
	for _, n := range names {
		for i := 0; i < len(n); i++ {
			if c := n[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') {
				out, _ := json.Marshal(names) // strings: cannot fail
				return append(b, out...)
			}
		}
	}
	b = append(b, '[')
	for i, n := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(append(append(b, '"'), n...), '"')
	}
	return append(b, ']')
}

var errLegacyPayload = errors.New("legacy payload")

// parseMaterial reads a signed payload (step 6 of the verification
// protocol). A payload of exactly 32 bytes is dpihub's legacy format (a
// bare digest, see legacy.go): errLegacyPayload.
func parseMaterial(payload []byte) (material, error) {
	if len(payload) == sha256.Size {
		return material{}, errLegacyPayload
	}
	var w wireMaterial
	if err := json.Unmarshal(payload, &w); err != nil {
		return material{}, fmt.Errorf("the signed payload is not a JSON object: %v", err)
	}
	if w.Core == nil {
		return material{}, errors.New("the signed payload has no core digest")
	}
	var m material
	var err error
	if m.Core, err = digest(*w.Core, "core"); err != nil {
		return material{}, err
	}
	switch {
	case (w.Ext == nil) != (w.SignedExtAttrs == nil):
		return material{}, errors.New("the signed payload has one of ext and signedextattrs without the other")
	case w.Ext == nil:
		return m, nil
	}
	if m.Ext, err = digest(*w.Ext, "ext"); err != nil {
		return material{}, err
	}
	m.SignedExtAttrs = *w.SignedExtAttrs
	return m, nil
}

// digest decodes a Base64 SHA-256 digest of the payload.
func digest(s, name string) ([]byte, error) {
	b, err := decodeB64(s)
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("%s is not a Base64 SHA-256 digest", name)
	}
	return b, nil
}

// decodeB64 decodes standard Base64, or else URL-safe Base64, both
// padded: what DSSE accepts (and go-securesystemslib/dsse decodes).
func decodeB64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		b, err = base64.URLEncoding.DecodeString(s)
	}
	return b, err
}

// validSignedAttrs checks a signedextattrs list against the extension's
// rules (and refuses an empty list, which the extension does not allow
// either: ext and signedextattrs are there only when extensions are
// signed).
func validSignedAttrs(list []string) error {
	if list != nil && len(list) == 0 {
		return errors.New("signedextattrs is empty")
	}
	seen := map[string]bool{}
	for _, n := range list {
		switch {
		case n == "":
			return errors.New("empty name in signedextattrs")
		case slices.Contains(coreParts, n):
			return fmt.Errorf("signedextattrs names core attribute %q", n)
		case n == ExtMaterial || n == extLegacySignedAttrs:
			return fmt.Errorf("signedextattrs names %q", n)
		case seen[n]:
			return fmt.Errorf("signedextattrs repeats %q", n)
		}
		seen[n] = true
	}
	return nil
}
