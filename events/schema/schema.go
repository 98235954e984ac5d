// Package schema holds the JSON Schemas (draft 2020-12) of every dpihub event
// payload, embedded in the binary, and validates payloads against them.
//
// The schema of event type T is json/T.json; its $id is urn:dpihub:schema:T,
// which is also the event's dataschema attribute.
package schema

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

var printer = message.NewPrinter(language.English)

//go:embed json/*.json
var files embed.FS

// ErrUnknownType is returned for an event type that has no schema.
var ErrUnknownType = errors.New("no schema for event type")

var (
	once     sync.Once
	compiled map[string]*jsonschema.Schema
	initErr  error
)

func load() {
	entries, err := fs.ReadDir(files, "json")
	if err != nil {
		initErr = err
		return
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	compiled = make(map[string]*jsonschema.Schema, len(entries))
	for _, e := range entries {
		typ := strings.TrimSuffix(e.Name(), ".json")
		raw, err := files.ReadFile("json/" + e.Name())
		if err != nil {
			initErr = err
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			initErr = fmt.Errorf("schema %s: %w", e.Name(), err)
			return
		}
		if err := c.AddResource(URI(typ), doc); err != nil {
			initErr = fmt.Errorf("schema %s: %w", e.Name(), err)
			return
		}
	}
	for _, e := range entries {
		typ := strings.TrimSuffix(e.Name(), ".json")
		s, err := c.Compile(URI(typ))
		if err != nil {
			initErr = fmt.Errorf("compile schema %s: %w", e.Name(), err)
			return
		}
		compiled[typ] = s
	}
}

// URI is the $id of the schema of event type typ.
func URI(typ string) string { return "urn:dpihub:schema:" + typ }

// Types lists the event types that have a schema, sorted.
func Types() []string {
	once.Do(load)
	out := make([]string, 0, len(compiled))
	for t := range compiled {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Raw returns the schema document of event type typ as embedded.
func Raw(typ string) ([]byte, error) {
	b, err := files.ReadFile("json/" + typ + ".json")
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownType, typ)
	}
	return b, nil
}

// Validate checks that data, a JSON document, is a valid payload of event
// type typ. The error says which part of the payload breaks which rule.
func Validate(typ string, data []byte) error {
	once.Do(load)
	if initErr != nil {
		return initErr
	}
	s, ok := compiled[typ]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownType, typ)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("payload is not JSON: %w", err)
	}
	if err := s.Validate(doc); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return errors.New(oneLine(ve))
		}
		return err
	}
	return nil
}

// oneLine flattens the library's multi-line error tree into the most
// specific causes, which is what a reader of a dead-letter entry needs.
func oneLine(ve *jsonschema.ValidationError) string {
	var leaves []string
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			loc := "/" + strings.Join(e.InstanceLocation, "/")
			leaves = append(leaves, fmt.Sprintf("at %s: %s", loc, e.ErrorKind.LocalizedString(printer)))
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	return strings.Join(leaves, "; ")
}
