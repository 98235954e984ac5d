package bus

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
)

// ContentTypeStructured is the Content-Type of a structured-mode message.
const ContentTypeStructured = "application/cloudevents+json"

// ErrNotCloudEvent is wrapped by Decode errors for messages that are not
// CloudEvents in either mode.
var ErrNotCloudEvent = errors.New("not a CloudEvent")

// MsgID is the Nats-Msg-Id of an event: its source and id, which together
// are unique per event (CloudEvents spec), so a retried publish is stored
// once.
func MsgID(e event.Event) string { return e.Source() + "#" + e.ID() }

// Encode returns the structured-mode NATS message of e on subject.
func Encode(subject string, e event.Event) (*nats.Msg, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", e.ID(), err)
	}
	m := nats.NewMsg(subject)
	m.Data = b
	m.Header.Set("Content-Type", ContentTypeStructured)
	return m, nil
}

// Decode reads a CloudEvent from a NATS message in structured mode
// (Content-Type application/cloudevents…, JSON) or binary mode (ce-*
// headers, percent-encoded, data in the body), as the CloudEvents NATS
// binding describes. It checks that the result is a valid CloudEvent, not
// that it honours the dpihub contract.
func Decode(h nats.Header, data []byte) (event.Event, error) {
	ct := h.Get("Content-Type")
	if strings.HasPrefix(strings.ToLower(ct), "application/cloudevents") {
		if strings.HasPrefix(strings.ToLower(ct), "application/cloudevents-batch") {
			return event.Event{}, fmt.Errorf("%w: batch mode is not supported", ErrNotCloudEvent)
		}
		var e event.Event
		if err := json.Unmarshal(data, &e); err != nil {
			return event.Event{}, fmt.Errorf("%w: structured mode: %v", ErrNotCloudEvent, err)
		}
		if err := e.Validate(); err != nil {
			return event.Event{}, fmt.Errorf("%w: %v", ErrNotCloudEvent, err)
		}
		return e, nil
	}
	return decodeBinary(h, data, ct)
}

func decodeBinary(h nats.Header, data []byte, ct string) (event.Event, error) {
	attrs := map[string]string{}
	for k, vs := range h {
		name, ok := cutPrefixFold(k, "ce-")
		if !ok || len(vs) == 0 {
			continue
		}
		v, err := url.PathUnescape(vs[0])
		if err != nil || !utf8.ValidString(v) {
			return event.Event{}, fmt.Errorf("%w: header %s is not percent-encoded UTF-8", ErrNotCloudEvent, k)
		}
		attrs[strings.ToLower(name)] = v
	}
	if attrs["specversion"] == "" {
		return event.Event{}, fmt.Errorf("%w: no Content-Type application/cloudevents and no ce-specversion header", ErrNotCloudEvent)
	}
	if attrs["specversion"] != event.CloudEventsVersionV1 {
		return event.Event{}, fmt.Errorf("%w: specversion %q is not 1.0", ErrNotCloudEvent, attrs["specversion"])
	}
	e := event.New()
	if attrs["datacontenttype"] == "" {
		attrs["datacontenttype"] = ct
	}
	for name, v := range attrs {
		switch name {
		case "specversion":
		case "id":
			e.SetID(v)
		case "source":
			e.SetSource(v)
		case "type":
			e.SetType(v)
		case "subject":
			e.SetSubject(v)
		case "dataschema":
			e.SetDataSchema(v)
		case "datacontenttype":
			if v != "" {
				e.SetDataContentType(v)
			}
		case "time":
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return event.Event{}, fmt.Errorf("%w: ce-time %q is not RFC 3339", ErrNotCloudEvent, v)
			}
			e.SetTime(t)
		default:
			e.SetExtension(name, v)
		}
	}
	if len(data) > 0 {
		e.DataEncoded = data
	}
	if err := e.Validate(); err != nil {
		return event.Event{}, fmt.Errorf("%w: %v", ErrNotCloudEvent, err)
	}
	return e, nil
}

// EncodeBinary returns the binary-mode NATS message of e, percent-encoding
// header values as the CloudEvents NATS binding requires. dpihub publishes
// in structured mode; EncodeBinary exists for producers and tests that
// speak binary mode.
func EncodeBinary(subject string, e event.Event) *nats.Msg {
	m := nats.NewMsg(subject)
	set := func(name, v string) {
		if v != "" {
			m.Header.Set("ce-"+name, percentEncode(v))
		}
	}
	set("specversion", e.SpecVersion())
	set("id", e.ID())
	set("source", e.Source())
	set("type", e.Type())
	set("subject", e.Subject())
	set("dataschema", e.DataSchema())
	set("datacontenttype", e.DataContentType())
	if !e.Time().IsZero() {
		set("time", e.Time().UTC().Format(time.RFC3339Nano))
	}
	for name, v := range e.Extensions() {
		set(name, fmt.Sprint(v))
	}
	m.Data = e.Data()
	return m
}

func percentEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c > 0x20 && c < 0x7f && c != '"' && c != '%' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return "", false
}
