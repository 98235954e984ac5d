package asyncapi_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/asyncapi"
)

var update = flag.Bool("update", false, "rewrite docs/asyncapi.yaml from the catalog")

// golden is the checked-in document, relative to this package.
var golden = filepath.Join("..", "..", "docs", "asyncapi.yaml")

func TestDocsAsyncAPIIsCurrent(t *testing.T) {
	got, err := asyncapi.Generate()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", golden)
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v\nGenerate it: cd events && go test ./asyncapi -update", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: it differs from what the Go catalog generates (%s).\n"+
			"Regenerate it and review the diff: cd events && go test ./asyncapi -update", golden, firstDiff(want, got))
	}
}

// firstDiff names the first line where the checked-in and the generated
// documents differ.
func firstDiff(a, b []byte) string {
	al, bl := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y []byte
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if !bytes.Equal(x, y) {
			return fmt.Sprintf("line %d: have %q, generated %q", i+1, x, y)
		}
	}
	return "no line differs"
}

func TestGenerateIsDeterministic(t *testing.T) {
	a, err := asyncapi.Generate()
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		b, _ := asyncapi.Generate()
		if !bytes.Equal(a, b) {
			t.Fatal("two calls of Generate differ")
		}
	}
}

// The document is AsyncAPI 3.0.0 with one channel, one message and a send
// and a receive operation for each catalog type, and every $ref resolves.
func TestGenerateDescribesEveryCatalogType(t *testing.T) {
	out, err := asyncapi.Generate()
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(out, &doc); err != nil {
		t.Fatalf("not YAML: %v", err)
	}
	if doc["asyncapi"] != "3.0.0" {
		t.Errorf("asyncapi %v, want 3.0.0", doc["asyncapi"])
	}
	channels := doc["channels"].(map[string]any)
	operations := doc["operations"].(map[string]any)
	messages := doc["components"].(map[string]any)["messages"].(map[string]any)
	if n := len(events.Catalog()); len(channels) != n || len(messages) != n || len(operations) != 2*n {
		t.Errorf("%d channels, %d messages, %d operations for %d types", len(channels), len(messages), len(operations), n)
	}
	byName := map[string]map[string]any{}
	for _, m := range messages {
		m := m.(map[string]any)
		byName[m["name"].(string)] = m
	}
	for _, spec := range events.Catalog() {
		m, ok := byName[spec.Type]
		if !ok {
			t.Errorf("no message named %s", spec.Type)
			continue
		}
		if m["contentType"] != "application/cloudevents+json" {
			t.Errorf("%s: contentType %v", spec.Type, m["contentType"])
		}
		payload := m["payload"].(map[string]any)
		if payload["schemaFormat"] != "application/schema+json;version=draft-2020-12" {
			t.Errorf("%s: schemaFormat %v", spec.Type, payload["schemaFormat"])
		}
		data := payload["schema"].(map[string]any)["properties"].(map[string]any)["data"].(map[string]any)
		if data["$id"] != events.SchemaURI(spec.Type) {
			t.Errorf("%s: payload data schema has $id %v", spec.Type, data["$id"])
		}
		// The example is valid against the payload schema, as a JSON
		// Schema validator reading the document sees it.
		sch := compile(t, spec.Type, payload["schema"])
		for _, ex := range m["examples"].([]any) {
			ev := ex.(map[string]any)["payload"]
			if err := sch.Validate(viaJSON(t, ev)); err != nil {
				t.Errorf("%s: the example breaks the payload schema: %v", spec.Type, err)
			}
			// YAML keeps the sample intact (multi-line diffs, tabs, big
			// integers).
			sample, _ := events.Sample(spec.Type)
			want, _ := json.Marshal(sample)
			got, _ := json.Marshal(ev.(map[string]any)["data"])
			if !jsonEqual(t, got, want) {
				t.Errorf("%s: example data\n%s\nwant the sample\n%s", spec.Type, got, want)
			}
		}
	}
	// Every $ref points at something in the document.
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if r, ok := v["$ref"].(string); ok && resolve(doc, r) == nil {
				t.Errorf("$ref %s does not resolve", r)
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
}

func resolve(doc map[string]any, ref string) any {
	var cur any = doc
	for _, tok := range bytes.Split([]byte(ref[2:]), []byte("/")) {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[string(tok)]
	}
	return cur
}

// viaJSON turns a value decoded from YAML into what a JSON decoder gives, the
// input jsonschema expects.
func viaJSON(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func compile(t *testing.T, typ string, sch any) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	url := "urn:dpihub:asyncapi:" + typ
	if err := c.AddResource(url, viaJSON(t, sch)); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(url)
	if err != nil {
		t.Fatalf("%s: payload schema does not compile: %v", typ, err)
	}
	return s
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(x, y)
}
