package events_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/schema"
	"github.com/dpihub/dpihub/events/subject"
)

var update = flag.Bool("update", false, "rewrite the generated parts of docs/events.md")

var eventsDoc = filepath.Join("..", "docs", "events.md")

// docs/events.md is prose written by hand around regions generated from
// the catalog, the schemas and the samples; this test keeps the regions
// current (go test . -run TestDocsEvents -update rewrites them) and checks
// that the whole page names only catalog types.
func TestDocsEventsIsCurrent(t *testing.T) {
	have, err := os.ReadFile(eventsDoc)
	if err != nil {
		t.Fatal(err)
	}
	want := have
	for _, r := range []struct {
		name string
		gen  func(*testing.T) string
	}{
		{"example-event", docExampleEvent},
		{"catalog", docCatalog},
	} {
		want, err = replaceRegion(want, r.name, r.gen(t))
		if err != nil {
			t.Fatalf("%s: %v", eventsDoc, err)
		}
	}
	if *update {
		if !bytes.Equal(have, want) {
			if err := os.WriteFile(eventsDoc, want, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("rewrote the generated regions of %s", eventsDoc)
		}
		return
	}
	if !bytes.Equal(have, want) {
		t.Fatalf("the generated regions of %s are stale: they differ from the catalog (%s).\n"+
			"Regenerate them and review the diff: cd events && go test . -run TestDocsEvents -update",
			eventsDoc, firstDiff(have, want))
	}
}

// Independently of the generator: the page lists every type with its
// subject pattern and every payload field, and no type outside the catalog.
func TestDocsEventsListsTheWholeCatalog(t *testing.T) {
	b, err := os.ReadFile(eventsDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, spec := range events.Catalog() {
		sec := section(doc, "### `"+spec.Type+"`")
		if sec == "" {
			t.Errorf("no section ### `%s`", spec.Type)
			continue
		}
		if p := subjectPattern(spec); !strings.Contains(sec, "`"+p+"`") {
			t.Errorf("%s: section does not give the subject `%s`", spec.Type, p)
		}
		for _, f := range fieldPaths(spec.PayloadType(), "") {
			if !strings.Contains(sec, "| `"+f+"` |") {
				t.Errorf("%s: the field table lacks `%s`", spec.Type, f)
			}
		}
	}
	typeRE := regexp.MustCompile(`org\.dpihub\.[a-z0-9.]+\.v[0-9]+`)
	for _, m := range slices.Compact(slices.Sorted(slices.Values(typeRE.FindAllString(doc, -1)))) {
		if _, ok := events.Lookup(m); !ok {
			t.Errorf("%s mentions %s, which is not in the catalog", eventsDoc, m)
		}
	}
}

// section is the text from heading to the next heading of the same level.
func section(doc, heading string) string {
	i := strings.Index(doc, "\n"+heading+"\n")
	if i < 0 {
		return ""
	}
	rest := doc[i+1+len(heading):]
	level := heading[:strings.Index(heading, " ")+1]
	if j := strings.Index(rest, "\n"+level); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// subjectPattern is the NATS subject of spec's events with <cc> and
// <project> placeholders.
func subjectPattern(spec events.Spec) string {
	project := "<project>"
	if !spec.Project {
		project = subject.NoProject
	}
	return "dpi.<cc>." + spec.Kind + "." + strings.ReplaceAll(spec.Verb, ".", "-") + "." + project
}

// fieldPaths lists the JSON names of a payload's fields, nested ones as
// author.name and conflicts[].hunk.
func fieldPaths(typ reflect.Type, prefix string) []string {
	var out []string
	for f := range typ.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		out = append(out, prefix+name)
		ft, suffix := f.Type, "."
		if ft.Kind() == reflect.Slice {
			ft, suffix = ft.Elem(), "[]."
		}
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && ft.PkgPath() == typ.PkgPath() {
			out = append(out, fieldPaths(ft, prefix+name+suffix)...)
		}
	}
	return out
}

func replaceRegion(doc []byte, name, content string) ([]byte, error) {
	begin := []byte("<!-- generated:" + name + " -->\n")
	end := []byte("<!-- /generated:" + name + " -->")
	i := bytes.Index(doc, begin)
	j := bytes.Index(doc, end)
	if i < 0 || j < i {
		return nil, fmt.Errorf("no region %s...%s", begin, end)
	}
	var out []byte
	out = append(out, doc[:i+len(begin)]...)
	out = append(out, content...)
	out = append(out, doc[j:]...)
	return out, nil
}

func firstDiff(a, b []byte) string {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d: have %q, generated %q", i+1, x, y)
		}
	}
	return "no line differs"
}

// docExampleEvent is a complete (unsigned) event in structured mode.
func docExampleEvent(t *testing.T) string {
	p, _ := events.Sample(events.TypeFixAssessed)
	e, err := events.New(events.Source{Country: "ph", Service: "node"}, "mosip-id-repository", p,
		events.WithID("01959427-3c40-7004-8a1e-5b0d2f3c4a04"),
		events.WithTime(time.Date(2025, 3, 14, 9, 30, 1, 250_000_000, time.UTC)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		t.Fatal(err)
	}
	return "```json\n" + out.String() + "\n```\n"
}

// docCatalog is the summary table and one section per type.
func docCatalog(t *testing.T) string {
	var b strings.Builder
	b.WriteString("| type | NATS subject | what happened |\n|---|---|---|\n")
	for _, spec := range events.Catalog() {
		fmt.Fprintf(&b, "| [`%s`](#%s) | `%s` | %s |\n", spec.Type, anchor(spec.Type), subjectPattern(spec), spec.Summary)
	}
	for _, spec := range events.Catalog() {
		raw, err := schema.Raw(spec.Type)
		if err != nil {
			t.Fatal(err)
		}
		var sch map[string]any
		if err := json.Unmarshal(raw, &sch); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "\n### `%s`\n\n", spec.Type)
		fmt.Fprintf(&b, "**%s.** %s\n\n", sch["title"], sch["description"])
		fmt.Fprintf(&b, "- NATS subject: `%s`\n", subjectPattern(spec))
		fmt.Fprintf(&b, "- Go payload: `events.%s`\n", spec.PayloadType().Name())
		fmt.Fprintf(&b, "- JSON Schema: [`%s`](../events/schema/json/%s.json)\n\n", events.SchemaURI(spec.Type), spec.Type)
		b.WriteString("| field | type | required | meaning |\n|---|---|---|---|\n")
		writeFields(&b, sch, spec.PayloadType(), "")
		p, _ := events.Sample(spec.Type)
		var ex bytes.Buffer
		enc := json.NewEncoder(&ex)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(p); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "\nExample `data`:\n\n```json\n%s```\n", ex.String())
	}
	return b.String()
}

// anchor is the id GitHub gives the heading ### `typ`.
func anchor(typ string) string { return strings.ReplaceAll(typ, ".", "") }

// writeFields writes one table row per property of sch, in the order of
// the fields of the Go struct typ, nested objects after their parent.
func writeFields(b *strings.Builder, sch map[string]any, typ reflect.Type, prefix string) {
	props, _ := sch["properties"].(map[string]any)
	var req []string
	for _, r := range asSlice(sch["required"]) {
		req = append(req, r.(string))
	}
	for f := range typ.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		p, _ := props[name].(map[string]any)
		required := "no"
		if slices.Contains(req, name) {
			required = "yes"
		} else if c, ok := conditions(sch)[name]; ok {
			required = c
		}
		desc, _ := p["description"].(string)
		fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", prefix+name, cell(typeOf(p)), required, cell(desc))
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case p["type"] == "object":
			writeFields(b, p, ft, prefix+name+".")
		case p["type"] == "array":
			if items, ok := p["items"].(map[string]any); ok && items["type"] == "object" {
				writeFields(b, items, ft.Elem(), prefix+name+"[].")
			}
		}
	}
}

// conditions says when a property that is not always required is: from
// allOf entries "if k is v then required [...]" and from oneOf entries
// that each require one property.
func conditions(sch map[string]any) map[string]string {
	out := map[string]string{}
	for _, c := range asSlice(sch["allOf"]) {
		c, _ := c.(map[string]any)
		ifs, _ := c["if"].(map[string]any)
		then, _ := c["then"].(map[string]any)
		props, _ := ifs["properties"].(map[string]any)
		for k, v := range props {
			val, ok := v.(map[string]any)["const"]
			if !ok {
				continue
			}
			for _, r := range asSlice(then["required"]) {
				out[r.(string)] = fmt.Sprintf("when `%s` is `%v`", k, val)
			}
		}
	}
	var alts []string
	for _, o := range asSlice(sch["oneOf"]) {
		r := asSlice(o.(map[string]any)["required"])
		if len(r) == 1 {
			alts = append(alts, r[0].(string))
		}
	}
	for _, a := range alts {
		var quoted []string
		for _, x := range alts {
			quoted = append(quoted, "`"+x+"`")
		}
		out[a] = "exactly one of " + strings.Join(quoted, ", ")
	}
	return out
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

// cell escapes what would end a Markdown table cell.
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// typeOf describes a property schema in a few words: its type and the
// constraints a producer must meet.
func typeOf(p map[string]any) string {
	if e := asSlice(p["enum"]); e != nil {
		var vs []string
		for _, v := range e {
			vs = append(vs, fmt.Sprintf("`%v`", v))
		}
		return "one of " + strings.Join(vs, ", ")
	}
	var parts []string
	typ := fmt.Sprint(p["type"])
	if ts := asSlice(p["type"]); ts != nil {
		var names []string
		for _, x := range ts {
			names = append(names, fmt.Sprint(x))
		}
		typ = strings.Join(names, " or ")
	}
	switch {
	case strings.HasPrefix(typ, "array"):
		items, _ := p["items"].(map[string]any)
		it := "object"
		if items["type"] != "object" {
			it = typeOf(items)
			if strings.Contains(it, ",") {
				it = "(" + it + ")"
			}
		}
		parts = append(parts, typ+" of "+it)
		if min, ok := p["minItems"]; ok {
			parts = append(parts, "at least "+plural(min, "item"))
		}
		if max, ok := p["maxItems"]; ok {
			parts = append(parts, "at most "+plural(max, "item"))
		}
		if p["uniqueItems"] == true {
			parts = append(parts, "no duplicates")
		}
	default:
		parts = append(parts, typ)
		if f, ok := p["format"]; ok {
			parts[0] += fmt.Sprintf(" (%v)", f)
		}
		if pat, ok := p["pattern"].(string); ok {
			parts = append(parts, "`"+pat+"`")
		}
		minL, hasMin := p["minLength"]
		maxL, hasMax := p["maxLength"]
		switch {
		case hasMin && hasMax:
			parts = append(parts, fmt.Sprintf("%v–%v characters", num(minL), num(maxL)))
		case hasMax:
			parts = append(parts, fmt.Sprintf("at most %v characters", num(maxL)))
		}
		mn, hasMn := p["minimum"]
		mx, hasMx := p["maximum"]
		switch {
		case hasMn && hasMx:
			parts = append(parts, fmt.Sprintf("%v–%v", num(mn), num(mx)))
		case hasMn:
			parts = append(parts, fmt.Sprintf("≥ %v", num(mn)))
		}
	}
	return strings.Join(parts, ", ")
}

func plural(n any, word string) string {
	if num(n) == "1" {
		return "1 " + word
	}
	return num(n) + " " + word + "s"
}

// num prints a JSON number without exponent (4294967295, not 4.294967295e+09).
func num(v any) string {
	if f, ok := v.(float64); ok && f == float64(int64(f)) {
		return fmt.Sprint(int64(f))
	}
	return fmt.Sprint(v)
}
