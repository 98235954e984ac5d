package events_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/schema"
	"github.com/dpihub/dpihub/events/subject"
)

const project = "mosip-id-repository"

var ma = events.Source{Country: "ma", Service: "node"}

// projectOf is the project New needs for spec: none for types that are not
// about a project.
func projectOf(spec events.Spec) string {
	if spec.Project {
		return project
	}
	return ""
}

func sample(t *testing.T, typ string) events.Payload {
	t.Helper()
	p, ok := events.Sample(typ)
	if !ok {
		t.Fatalf("Sample(%q): no sample", typ)
	}
	return p
}

func TestCatalogTypesHaveSamplesAndSchemas(t *testing.T) {
	var types []string
	for _, spec := range events.Catalog() {
		types = append(types, spec.Type)
		p := sample(t, spec.Type)
		if p.EventType() != spec.Type {
			t.Errorf("Sample(%q) is a %T of type %q", spec.Type, p, p.EventType())
		}
		if got := reflect.TypeOf(p); got != spec.PayloadType() {
			t.Errorf("Sample(%q) is a %v, the catalog says %v", spec.Type, got, spec.PayloadType())
		}
	}
	if _, ok := events.Sample("org.dpihub.fix.exploded.v1"); ok {
		t.Error("Sample of a type outside the catalog reported ok")
	}
	// Every catalog type has a schema and no schema lacks a type.
	slices.Sort(types)
	if have := schema.Types(); !slices.Equal(have, types) {
		t.Errorf("schema types\n%s\nwant the catalog's\n%s", strings.Join(have, "\n"), strings.Join(types, "\n"))
	}
}

func TestNewBuildsValidEventsThatRoundTripAsJSON(t *testing.T) {
	for _, spec := range events.Catalog() {
		t.Run(spec.Type, func(t *testing.T) {
			p := sample(t, spec.Type)
			e, err := events.New(ma, projectOf(spec), p)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if err := events.Validate(e); err != nil {
				t.Fatalf("Validate(New(...)): %v", err)
			}
			if e.Source() != "urn:dpihub:ma:node" || e.Type() != spec.Type || e.Subject() != projectOf(spec) ||
				e.DataSchema() != events.SchemaURI(spec.Type) || e.Extensions()[events.ExtCountry] != "ma" {
				t.Errorf("New set source %q type %q subject %q dataschema %q country %v",
					e.Source(), e.Type(), e.Subject(), e.DataSchema(), e.Extensions()[events.ExtCountry])
			}

			wire, err := json.Marshal(e)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			var back event.Event
			if err := json.Unmarshal(wire, &back); err != nil {
				t.Fatalf("unmarshal %s: %v", wire, err)
			}
			if err := events.Validate(back); err != nil {
				t.Fatalf("Validate after a JSON round trip: %v\n%s", err, wire)
			}
			if back.ID() != e.ID() || !back.Time().Equal(e.Time()) {
				t.Errorf("round trip changed id/time: %s %v, want %s %v", back.ID(), back.Time(), e.ID(), e.Time())
			}
			got, err := events.Decode(back)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if v := reflect.ValueOf(got); v.Kind() != reflect.Pointer || !reflect.DeepEqual(v.Elem().Interface(), p) {
				t.Errorf("Decode gave %#v, want a pointer to %#v", got, p)
			}
		})
	}
}

func TestNewRefusesWhatBreaksTheContract(t *testing.T) {
	tests := []struct {
		name    string
		src     events.Source
		project string
		p       events.Payload
	}{
		{"a nil payload", ma, project, nil},
		{"a source with an upper-case country", events.Source{Country: "MA", Service: "node"}, project, sample(t, events.TypeFixAdopted)},
		{"a source with an empty service", events.Source{Country: "ma"}, project, sample(t, events.TypeFixAdopted)},
		{"a project event without a project", ma, "", sample(t, events.TypeFixAdopted)},
		{"a heartbeat about a project", ma, project, sample(t, events.TypeNodeHeartbeat)},
		{"a payload the schema refuses", ma, project, events.FixAdopted{FixID: "ma-fix-1", PatchID: "nothex", Commit: "x", Branch: "main"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := events.New(tt.src, tt.project, tt.p)
			if !errors.Is(err, events.ErrInvalid) {
				t.Fatalf("New: %v, want an error wrapping ErrInvalid", err)
			}
			var ve *events.ValidationError
			if !errors.As(err, &ve) {
				t.Errorf("New: %T is not a *ValidationError", err)
			}
		})
	}
}

func TestNewOptionsSetIDAndTime(t *testing.T) {
	at := time.Date(2025, 3, 14, 10, 0, 0, 0, time.FixedZone("WET", 3600))
	e, err := events.New(ma, project, sample(t, events.TypeFixAdopted), events.WithID("fixed-id"), events.WithTime(at))
	if err != nil {
		t.Fatal(err)
	}
	if e.ID() != "fixed-id" || !e.Time().Equal(at) || e.Time().Location() != time.UTC {
		t.Errorf("id %q time %v, want fixed-id and %v in UTC", e.ID(), e.Time(), at.UTC())
	}
	a, _ := events.New(ma, project, sample(t, events.TypeFixAdopted))
	b, _ := events.New(ma, project, sample(t, events.TypeFixAdopted))
	if a.ID() == b.ID() || a.ID() == "" {
		t.Errorf("two New calls gave ids %q and %q, want distinct", a.ID(), b.ID())
	}
}

func TestValidateRejectsEventsThatBreakTheContract(t *testing.T) {
	good := func(t *testing.T, typ string) event.Event {
		t.Helper()
		spec, _ := events.Lookup(typ)
		e, err := events.New(ma, projectOf(spec), sample(t, typ))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	tests := []struct {
		name   string
		typ    string
		mutate func(*event.Event)
		field  string
	}{
		{"an event without an id", events.TypeFixPublished, func(e *event.Event) { e.SetID("") }, "cloudevent"},
		{"a source that is not a dpihub URN", events.TypeFixPublished, func(e *event.Event) { e.SetSource("https://ospo.gov.ma/node") }, "source"},
		{"a source without a service", events.TypeFixPublished, func(e *event.Event) { e.SetSource("urn:dpihub:ma") }, "source"},
		{"a source with a three-letter country", events.TypeFixPublished, func(e *event.Event) { e.SetSource("urn:dpihub:mar:node") }, "source"},
		{"a source with an upper-case service", events.TypeFixPublished, func(e *event.Event) { e.SetSource("urn:dpihub:ma:Node") }, "source"},
		{"a country extension that differs from the source", events.TypeFixPublished, func(e *event.Event) { e.SetExtension(events.ExtCountry, "ph") }, "country"},
		{"no country extension", events.TypeFixPublished, func(e *event.Event) { e.SetExtension(events.ExtCountry, nil) }, "country"},
		{"a country extension that is not a string", events.TypeFixPublished, func(e *event.Event) { e.SetExtension(events.ExtCountry, 212) }, "country"},
		{"a type outside the catalog", events.TypeFixPublished, func(e *event.Event) { e.SetType("org.dpihub.fix.exploded.v1") }, "type"},
		{"a version that does not exist", events.TypeFixPublished, func(e *event.Event) { e.SetType("org.dpihub.fix.published.v2") }, "type"},
		{"a project slug with upper case", events.TypeFixPublished, func(e *event.Event) { e.SetSubject("MOSIP-ID-Repository") }, "subject"},
		{"a project slug with a dot", events.TypeFixPublished, func(e *event.Event) { e.SetSubject("mosip.id-repository") }, "subject"},
		{"a project event without a subject", events.TypeFixPublished, func(e *event.Event) { e.SetSubject("") }, "subject"},
		{"a heartbeat with a subject", events.TypeNodeHeartbeat, func(e *event.Event) { e.SetSubject(project) }, "subject"},
		{"a datacontenttype other than JSON", events.TypeFixPublished, func(e *event.Event) { e.SetDataContentType("text/plain") }, "datacontenttype"},
		{"the dataschema of another type", events.TypeFixPublished, func(e *event.Event) {
			e.SetDataSchema(events.SchemaURI(events.TypeFixAssessed))
		}, "dataschema"},
		{"data that breaks the schema", events.TypeFixPublished, func(e *event.Event) {
			p := sample(t, events.TypeFixPublished).(events.FixPublished)
			p.PatchID = strings.ToUpper(p.PatchID)
			if err := e.SetData(events.ContentType, p); err != nil {
				t.Fatal(err)
			}
		}, "data"},
		{"data of another type", events.TypeFixPublished, func(e *event.Event) {
			if err := e.SetData(events.ContentType, sample(t, events.TypeFixAdopted)); err != nil {
				t.Fatal(err)
			}
		}, "data"},
		{"data that is not JSON", events.TypeFixPublished, func(e *event.Event) { e.DataEncoded = []byte("{not json") }, "data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := good(t, tt.typ)
			tt.mutate(&e)
			err := events.Validate(e)
			if !errors.Is(err, events.ErrInvalid) {
				t.Fatalf("Validate: %v, want an error wrapping ErrInvalid", err)
			}
			var ve *events.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate: %T is not a *ValidationError", err)
			}
			if ve.Field != tt.field {
				t.Errorf("Validate blamed %q (%v), want %q", ve.Field, err, tt.field)
			}
		})
	}
}

func TestParseSource(t *testing.T) {
	for _, s := range []string{"urn:dpihub:ma:node", "urn:dpihub:hub:dedup", "urn:dpihub:lk:cli-2"} {
		src, err := events.ParseSource(s)
		if err != nil || src.String() != s {
			t.Errorf("ParseSource(%q) = %+v, %v; want it back", s, src, err)
		}
	}
	for _, s := range []string{"", "urn:dpihub:", "urn:dpihub:ma", "urn:dpihub:ma:", "urn:dpihub:ma:node:x",
		"urn:dpihub:Ma:node", "urn:dpihub:hubs:feed", "urn:other:ma:node", "urn:dpihub:ma:1node"} {
		if src, err := events.ParseSource(s); !errors.Is(err, events.ErrInvalid) {
			t.Errorf("ParseSource(%q) = %+v, %v; want ErrInvalid", s, src, err)
		}
	}
}

// The sample fix carries a real patch-id: git patch-id --stable agrees.
func TestSampleFixPatchIDIsWhatGitPrints(t *testing.T) {
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git not installed")
	}
	fix := sample(t, events.TypeFixPublished).(events.FixPublished)
	cmd := exec.Command(git, "patch-id", "--stable")
	cmd.Stdin = strings.NewReader("commit " + fix.Commit + "\n\n" + fix.Diff)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git patch-id: %v", err)
	}
	if want := fix.PatchID + " " + fix.Commit + "\n"; string(out) != want {
		t.Errorf("git patch-id --stable printed %q, the sample says %q", out, want)
	}
}

// New builds a signed-ready CloudEvent from a payload; subject.Of names the
// NATS subject it travels on.
func ExampleNew() {
	fix, _ := events.Sample(events.TypeFixAssessed)
	e, err := events.New(events.Source{Country: "ph", Service: "node"}, "mosip-id-repository", fix,
		events.WithID("0195950c-3a80-7c4e-9b1a-6a3f0d2c9e11"),
		events.WithTime(time.Date(2025, 3, 14, 9, 31, 0, 0, time.UTC)))
	if err != nil {
		fmt.Println(err)
		return
	}
	sub, _ := subject.Of(e)
	fmt.Println(e.Type())
	fmt.Println(e.Source())
	fmt.Println(e.Subject())
	fmt.Println(e.DataSchema())
	fmt.Println(sub)
	// Output:
	// org.dpihub.fix.assessed.v1
	// urn:dpihub:ph:node
	// mosip-id-repository
	// urn:dpihub:schema:org.dpihub.fix.assessed.v1
	// dpi.ph.fix.assessed.mosip-id-repository
}

func TestDecodeValueGivesThePayloadAsAValue(t *testing.T) {
	for _, spec := range events.Catalog() {
		p, _ := events.Sample(spec.Type)
		src, _ := events.SampleSource(spec.Type)
		proj := "mosip-id-repository"
		if !spec.Project {
			proj = ""
		}
		e, err := events.New(src, proj, p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := events.DecodeValue(e)
		if err != nil {
			t.Fatalf("%s: %v", spec.Type, err)
		}
		if reflect.TypeOf(got) != reflect.TypeOf(p) || !reflect.DeepEqual(got, p) {
			t.Errorf("%s: DecodeValue gave %T %+v, want %T %+v", spec.Type, got, got, p, p)
		}
	}
}
