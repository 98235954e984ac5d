// Package asyncapi generates the AsyncAPI 3.0 document of the dpihub event
// catalog from the Go catalog, the embedded JSON Schemas and the samples, so
// that the published description cannot drift from the code. The document
// is checked in as docs/asyncapi.yaml and kept current by this package's
// test (go test ./asyncapi -update rewrites it).
package asyncapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/schema"
	"github.com/dpihub/dpihub/events/subject"
)

// Version is the version of the generated document. Bump it with the
// catalog: minor for a new type or optional field, major never (a breaking
// payload change is a new type, ….v2).
const Version = "1.0.0"

// StructuredContentType is the content type of a CloudEvent in structured
// mode, the way dpihub publishes on NATS.
const StructuredContentType = "application/cloudevents+json"

// SchemaFormat names JSON Schema draft 2020-12 in an AsyncAPI multi-format
// schema object.
const SchemaFormat = "application/schema+json;version=draft-2020-12"

type document struct {
	AsyncAPI           string               `yaml:"asyncapi"`
	ID                 string               `yaml:"id"`
	Info               info                 `yaml:"info"`
	DefaultContentType string               `yaml:"defaultContentType"`
	Servers            map[string]server    `yaml:"servers"`
	Channels           map[string]channel   `yaml:"channels"`
	Operations         map[string]operation `yaml:"operations"`
	Components         components           `yaml:"components"`
}

type info struct {
	Title       string `yaml:"title"`
	Version     string `yaml:"version"`
	Description string `yaml:"description"`
}

type server struct {
	Host        string `yaml:"host"`
	Protocol    string `yaml:"protocol"`
	Description string `yaml:"description"`
}

type ref struct {
	Ref string `yaml:"$ref"`
}

type channel struct {
	Address     string               `yaml:"address"`
	Title       string               `yaml:"title"`
	Description string               `yaml:"description"`
	Servers     []ref                `yaml:"servers"`
	Parameters  map[string]parameter `yaml:"parameters"`
	Messages    map[string]ref       `yaml:"messages"`
}

type parameter struct {
	Description string   `yaml:"description"`
	Examples    []string `yaml:"examples,omitempty"`
}

type operation struct {
	Action   string `yaml:"action"`
	Channel  ref    `yaml:"channel"`
	Title    string `yaml:"title"`
	Summary  string `yaml:"summary"`
	Messages []ref  `yaml:"messages"`
}

type components struct {
	Messages map[string]message `yaml:"messages"`
}

type message struct {
	Name        string            `yaml:"name"`
	Title       string            `yaml:"title"`
	Summary     string            `yaml:"summary"`
	ContentType string            `yaml:"contentType"`
	Payload     multiFormatSchema `yaml:"payload"`
	Examples    []example         `yaml:"examples"`
}

type multiFormatSchema struct {
	SchemaFormat string `yaml:"schemaFormat"`
	Schema       any    `yaml:"schema"`
}

type example struct {
	Name    string `yaml:"name"`
	Summary string `yaml:"summary"`
	Payload any    `yaml:"payload"`
}

// exampleTime and exampleID make the examples, and so the document,
// reproducible.
var exampleTime = time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)

// Generate returns the AsyncAPI 3.0.0 document (YAML) of every event type
// in events.Catalog(): one channel per type on the NATS subject
// dpi.{country}.<kind>.<verb>.{project}, one message per type whose payload
// is the structured-mode CloudEvent with the type's JSON Schema as data,
// a sample event as example, and a send and a receive operation per
// channel. The output is deterministic: the same catalog gives the same
// bytes.
func Generate() ([]byte, error) {
	doc := document{
		AsyncAPI: "3.0.0",
		ID:       "urn:dpihub:asyncapi",
		Info: info{
			Title:   "dpihub",
			Version: Version,
			Description: "The dpihub event fabric: national OSPO nodes publish fixes, fork fingerprints and roadmap proposals " +
				"for shared Digital Public Infrastructure platforms (MOSIP, Mojaloop, ...), and hub services report duplicates. " +
				"Every message is a CloudEvent 1.0 in structured mode, signed by its country (CloudEvents Verifiability, DSSE). " +
				"Generated from the Go catalog (package events); see docs/events.md.",
		},
		DefaultContentType: StructuredContentType,
		Servers: map[string]server{
			"hub": {
				Host:     "localhost:4222",
				Protocol: "nats",
				Description: "The hub's NATS server with JetStream; stream DPI stores dpi.>. " +
					"Country sites reach it through their own leaf node.",
			},
		},
		Channels:   map[string]channel{},
		Operations: map[string]operation{},
		Components: components{Messages: map[string]message{}},
	}
	for _, spec := range events.Catalog() {
		id := channelID(spec)
		raw, err := schema.Raw(spec.Type)
		if err != nil {
			return nil, fmt.Errorf("asyncapi: %w", err)
		}
		data, err := decodeJSON(raw)
		if err != nil {
			return nil, fmt.Errorf("asyncapi: schema of %s: %w", spec.Type, err)
		}
		title, _ := data.(map[string]any)["title"].(string)
		ex, err := sampleEvent(spec)
		if err != nil {
			return nil, fmt.Errorf("asyncapi: example of %s: %w", spec.Type, err)
		}

		project := "{project}"
		params := map[string]parameter{
			"country": {
				Description: "Lower-case ISO 3166-1 alpha-2 code of the producing country, or hub for shared services; equals the event's country attribute.",
				Examples:    []string{"ma", "ph", "lk", "hub"},
			},
		}
		if spec.Project {
			params["project"] = parameter{
				Description: "Slug of the upstream project ([a-z0-9][a-z0-9-]*); equals the event's subject attribute.",
				Examples:    []string{"mosip-id-repository"},
			}
		} else {
			project = subject.NoProject
		}
		verb := strings.ReplaceAll(spec.Verb, ".", "-")
		doc.Channels[id] = channel{
			Address:     "dpi.{country}." + spec.Kind + "." + verb + "." + project,
			Title:       title,
			Description: spec.Summary,
			Servers:     []ref{{"#/servers/hub"}},
			Parameters:  params,
			Messages:    map[string]ref{id: {"#/components/messages/" + id}},
		}
		msgRef := []ref{{"#/channels/" + id + "/messages/" + id}}
		doc.Operations["send"+upperFirst(id)] = operation{
			Action: "send", Channel: ref{"#/channels/" + id},
			Title: "Publish " + title, Summary: spec.Summary, Messages: msgRef,
		}
		doc.Operations["receive"+upperFirst(id)] = operation{
			Action: "receive", Channel: ref{"#/channels/" + id},
			Title: "Receive " + title, Summary: spec.Summary, Messages: msgRef,
		}
		doc.Components.Messages[id] = message{
			Name:        spec.Type,
			Title:       title,
			Summary:     spec.Summary,
			ContentType: StructuredContentType,
			Payload:     multiFormatSchema{SchemaFormat: SchemaFormat, Schema: envelopeSchema(spec, title, data)},
			Examples:    []example{{Name: id, Summary: "A sample " + spec.Type + " event.", Payload: ex}},
		}
	}
	var buf bytes.Buffer
	buf.WriteString("# Code generated by github.com/dpihub/dpihub/events/asyncapi; DO NOT EDIT.\n")
	buf.WriteString("# Regenerate: cd events && go test ./asyncapi -update\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("asyncapi: encode: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("asyncapi: encode: %w", err)
	}
	return buf.Bytes(), nil
}

// envelopeSchema is the JSON Schema of a structured-mode CloudEvent of
// spec's type, with the type's payload schema, unchanged, as data.
func envelopeSchema(spec events.Spec, title string, data any) map[string]any {
	str := func(desc string, kv ...any) map[string]any {
		m := map[string]any{"type": "string", "description": desc}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	props := map[string]any{
		"specversion":     map[string]any{"const": "1.0"},
		"id":              str("Unique per source; a UUIDv7 by default.", "minLength", 1),
		"source":          str("urn:dpihub:<country>:<service>.", "pattern", "^urn:dpihub:([a-z]{2}|hub):[a-z][a-z0-9-]{0,31}$"),
		"type":            map[string]any{"const": spec.Type},
		"time":            str("When the event happened.", "format", "date-time"),
		"datacontenttype": map[string]any{"const": events.ContentType},
		"dataschema":      map[string]any{"const": events.SchemaURI(spec.Type)},
		"country":         str("Extension: the country of source; covered by the signature.", "pattern", "^([a-z]{2}|hub)$"),
		"dssematerial":    str("Extension (CloudEvents Verifiability, cloudevents/spec 95514c4), Binary: the DSSE envelope signing the event, standard Base64. See docs/security.md.", "contentEncoding", "base64"),
		"dpihubdigests":   str("Extension (dpihub): the digest lists the signature's core and ext digests are made of, standard Base64; a hint that names the changed part of a tampered event.", "contentEncoding", "base64"),
		"signedextattrs":  str("Extension of events signed before 2026-11-29 (legacy format): comma-separated extension attributes the signature covers. Events signed since carry the list inside dssematerial."),
		"data":            data,
	}
	required := []string{"specversion", "id", "source", "type", "time", "datacontenttype", "country", "data"}
	if spec.Project {
		props["subject"] = str("The upstream project slug.", "pattern", "^[a-z0-9][a-z0-9-]{0,99}$")
		required = append(required, "subject")
	} else {
		props["subject"] = false // events not about a project carry no subject
	}
	return map[string]any{
		"$schema":     "https://json-schema.org/draft/2020-12/schema",
		"title":       title + " (CloudEvent)",
		"description": "A " + spec.Type + " CloudEvent in structured mode. Other extension attributes are allowed.",
		"type":        "object",
		"required":    required,
		"properties":  props,
	}
}

// sampleEvent is the structured-mode JSON of the sample event of spec, as
// a generic value.
func sampleEvent(spec events.Spec) (any, error) {
	p, ok := events.Sample(spec.Type)
	if !ok {
		return nil, errors.New("no sample")
	}
	project := ""
	if spec.Project {
		project = "mosip-id-repository"
	}
	// The sender the authority table lets send the sample (a vote on
	// Morocco's proposal comes from another country).
	src, _ := events.SampleSource(spec.Type)
	e, err := events.New(src, project, p,
		events.WithID(exampleID(spec)), events.WithTime(exampleTime))
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	return decodeJSON(b)
}

// exampleID is a fixed, valid-looking UUIDv7 per type, so that examples do
// not change between runs.
func exampleID(spec events.Spec) string {
	for i, s := range events.Catalog() {
		if s.Type == spec.Type {
			return fmt.Sprintf("01959427-3c40-7%03x-8a1e-5b0d2f3c4a%02x", i, i)
		}
	}
	return "01959427-3c40-7000-8a1e-5b0d2f3c4a00"
}

// decodeJSON decodes JSON into maps, slices and scalars, keeping integers
// integers so that YAML prints 4294967295, not 4.294967295e+09.
func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return numbers(v), nil
}

func numbers(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = numbers(x)
		}
	case []any:
		for i, x := range v {
			v[i] = numbers(x)
		}
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, _ := v.Float64()
		return f
	}
	return v
}

// channelID is a camel-case id of the type: fixPublished,
// proposalStatusChanged.
func channelID(spec events.Spec) string {
	id := spec.Kind
	for _, w := range strings.Split(spec.Verb, ".") {
		id += upperFirst(w)
	}
	return id
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
