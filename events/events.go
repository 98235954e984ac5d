package events

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"

	"github.com/dpihub/dpihub/events/schema"
)

// ExtCountry is the CloudEvents extension attribute that names the country
// (or "hub") that produced an event. It always equals the country of the
// event's source and is covered by the signature.
const ExtCountry = "country"

// ContentType is the datacontenttype of every dpihub event.
const ContentType = "application/json"

// HubCountry is the pseudo country code of services shared by all countries
// (dedup, feed, ...).
const HubCountry = "hub"

// ValidationError says which part of an event breaks the contract and why.
type ValidationError struct {
	Field  string // "source", "subject", "data", "type", ...
	Reason string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("invalid event: %s: %s", e.Field, e.Reason)
}

// Unwrap lets errors.Is(err, ErrInvalid) hold.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

var (
	countryRE = regexp.MustCompile(`^[a-z]{2}$`)
	serviceRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)
	projectRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,99}$`)
)

// ValidCountry reports whether cc is a lower-case ISO 3166-1 alpha-2 code or
// "hub".
func ValidCountry(cc string) bool { return cc == HubCountry || countryRE.MatchString(cc) }

// ValidProject reports whether p is a project slug: [a-z0-9][a-z0-9-]*, at
// most 100 characters.
func ValidProject(p string) bool { return projectRE.MatchString(p) }

// Source identifies the producer of an event: one service of one country.
type Source struct {
	Country string // "ma", "ph", "lk", ... or "hub"
	Service string // "node", "dedup", "cli", ...
}

// String returns the CloudEvents source URI, urn:dpihub:<cc>:<service>.
func (s Source) String() string { return "urn:dpihub:" + s.Country + ":" + s.Service }

// Validate checks both parts of the source.
func (s Source) Validate() error {
	if !ValidCountry(s.Country) {
		return invalid("source", "country %q is not a lower-case ISO 3166-1 alpha-2 code or %q", s.Country, HubCountry)
	}
	if !serviceRE.MatchString(s.Service) {
		return invalid("source", "service %q must match %s", s.Service, serviceRE)
	}
	return nil
}

// ParseSource parses urn:dpihub:<cc>:<service>.
func ParseSource(s string) (Source, error) {
	rest, ok := strings.CutPrefix(s, "urn:dpihub:")
	if !ok {
		return Source{}, invalid("source", "%q does not start with urn:dpihub:", s)
	}
	cc, svc, ok := strings.Cut(rest, ":")
	if !ok {
		return Source{}, invalid("source", "%q is not urn:dpihub:<cc>:<service>", s)
	}
	src := Source{Country: cc, Service: svc}
	return src, src.Validate()
}

// Payload is the data of one event type. Every payload type in this package
// implements it; EventType names the type the payload belongs to.
type Payload interface {
	EventType() string
}

// Option changes an event that New builds.
type Option func(*event.Event)

// WithID sets the event id instead of a fresh UUIDv7. Use it to re-emit an
// event idempotently (same source and id are stored once).
func WithID(id string) Option { return func(e *event.Event) { e.SetID(id) } }

// WithTime sets the event time instead of now.
func WithTime(t time.Time) Option { return func(e *event.Event) { e.SetTime(t.UTC()) } }

// New builds the CloudEvent for payload p, produced by src about project.
// project may be "" only for types that are not about a project
// (node.heartbeat). The id is a UUIDv7 (time ordered, globally unique), the
// time is now in UTC, dataschema names the payload's JSON Schema, and the
// country extension is set from src. The result passes Validate.
func New(src Source, project string, p Payload, opts ...Option) (event.Event, error) {
	if p == nil {
		return event.Event{}, invalid("data", "nil payload")
	}
	e := event.New()
	e.SetID(uuid.Must(uuid.NewV7()).String())
	e.SetSource(src.String())
	e.SetType(p.EventType())
	if project != "" {
		e.SetSubject(project)
	}
	e.SetTime(time.Now().UTC())
	e.SetDataSchema(SchemaURI(p.EventType()))
	e.SetExtension(ExtCountry, src.Country)
	if err := e.SetData(ContentType, p); err != nil {
		return event.Event{}, fmt.Errorf("encode %s payload: %w", p.EventType(), err)
	}
	for _, o := range opts {
		o(&e)
	}
	if err := Validate(e); err != nil {
		return event.Event{}, err
	}
	return e, nil
}

// SchemaURI is the dataschema of events of type typ.
func SchemaURI(typ string) string { return "urn:dpihub:schema:" + typ }

// Validate checks that e honours the contract: a valid CloudEvent 1.0 of a
// catalog type, a dpihub source, a country extension equal to the source's
// country, a project subject where the type needs one, JSON data valid
// against the type's schema. It does not check signatures (package sign
// does). Errors wrap ErrInvalid and are *ValidationError.
func Validate(e event.Event) error {
	if err := e.Validate(); err != nil {
		return invalid("cloudevent", "%v", err)
	}
	if e.SpecVersion() != event.CloudEventsVersionV1 {
		return invalid("specversion", "%q is not 1.0", e.SpecVersion())
	}
	spec, ok := Lookup(e.Type())
	if !ok {
		return invalid("type", "%q is not in the dpihub catalog", e.Type())
	}
	src, err := ParseSource(e.Source())
	if err != nil {
		return err
	}
	cc, _ := e.Extensions()[ExtCountry].(string)
	if cc != src.Country {
		return invalid("country", "extension %q differs from the source's country %q", cc, src.Country)
	}
	switch {
	case spec.Project && !ValidProject(e.Subject()):
		return invalid("subject", "%q is not a project slug ([a-z0-9][a-z0-9-]*)", e.Subject())
	case !spec.Project && e.Subject() != "":
		return invalid("subject", "%s events are not about a project, subject must be empty", spec.Type)
	}
	if e.Time().IsZero() {
		return invalid("time", "missing")
	}
	if ct := e.DataMediaType(); ct != ContentType {
		return invalid("datacontenttype", "%q, want %q", ct, ContentType)
	}
	if ds := e.DataSchema(); ds != "" && ds != SchemaURI(spec.Type) {
		return invalid("dataschema", "%q, want %q", ds, SchemaURI(spec.Type))
	}
	if err := schema.Validate(spec.Type, e.Data()); err != nil {
		return invalid("data", "%v", err)
	}
	return nil
}

// Decode unmarshals e's data into the payload type of its event type,
// returned as a pointer (e.g. *FixPublished). It does not validate: events
// that came through the bus are validated already; call Validate on others.
func Decode(e event.Event) (Payload, error) {
	spec, ok := Lookup(e.Type())
	if !ok {
		return nil, invalid("type", "%q is not in the dpihub catalog", e.Type())
	}
	p := spec.New()
	if err := e.DataAs(p); err != nil {
		return nil, invalid("data", "%v", err)
	}
	return p, nil
}

// DecodeValue is Decode giving the payload as a value (events.FixPublished
// rather than *events.FixPublished), the form New takes and the domains'
// type switches match.
func DecodeValue(e event.Event) (Payload, error) {
	p, err := Decode(e)
	if err != nil {
		return nil, err
	}
	return reflect.ValueOf(p).Elem().Interface().(Payload), nil
}
