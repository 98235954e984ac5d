package sign

import (
	"encoding/json"
	"strings"
)

// WireJSON returns JSON data in the form a structured-mode CloudEvent
// carries it when encoded by encoding/json (as dpihub's bus and the SDK
// do): compact, with <, >, &, U+2028 and U+2029 escaped as \u003c,
// \u003e, \u0026, \u2028 and \u2029. Data already in that form is
// returned as it is. Sign hashes data in this form, so the bytes signed are
// the bytes between the brackets of "data" in the message.
func WireJSON(b []byte) ([]byte, error) {
	if CompactAndSafe(b) {
		return b, nil
	}
	return json.Marshal(json.RawMessage(b)) // compacts and escapes; refuses invalid JSON
}

// CompactAndSafe reports whether b, a JSON document, has no whitespace
// outside strings, no control characters inside them, and none of the
// characters json.Marshal escapes (<, >, &, U+2028, U+2029): whether
// json.Marshal would leave it as it is. It errs on the side of false.
func CompactAndSafe(b []byte) bool {
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '<' || c == '>' || c == '&':
			return false
		case c == 0xE2 && i+2 < len(b) && b[i+1] == 0x80 && (b[i+2] == 0xA8 || b[i+2] == 0xA9):
			return false
		case c < 0x20:
			return false // whitespace outside strings, a control character inside
		case c == ' ' && !inString:
			return false
		case c == '\\' && inString:
			i++ // the escaped character cannot end the string
			if i < len(b) && b[i] < 0x20 {
				return false
			}
		case c == '"':
			inString = !inString
		}
	}
	return !inString
}

// isJSON reports whether data of content type ct is JSON in the
// CloudEvents JSON format, by the rule of the Go SDK, which writes and
// reads the events: the media type (before any ";", spaces trimmed) is
// exactly application/json, text/json, application/cloudevents+json,
// application/cloudevents-batch+json, or empty. Other media types, other
// letter cases and +json types carry data as a string.
func isJSON(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	switch strings.TrimSpace(mt) {
	case "", "application/json", "text/json", "application/cloudevents+json", "application/cloudevents-batch+json":
		return true
	}
	return false
}
