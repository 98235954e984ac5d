package schema_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/schema"
)

// del, as a value in an edit, removes the property instead of setting it.
type deletion struct{}

var del = deletion{}

// edit sets (or with del removes) the value at a JSON pointer such as
// /author/email or /conflicts/0/hunk.
type edit struct {
	ptr string
	val any
}

// sampleDoc is the JSON document of type typ's sample payload, as the Go
// structs marshal it.
func sampleDoc(t *testing.T, typ string) map[string]any {
	t.Helper()
	p, ok := events.Sample(typ)
	if !ok {
		t.Fatalf("no sample for %s", typ)
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func apply(t *testing.T, doc map[string]any, edits ...edit) []byte {
	t.Helper()
	for _, e := range edits {
		toks := strings.Split(strings.TrimPrefix(e.ptr, "/"), "/")
		var parent any = doc
		for _, tok := range toks[:len(toks)-1] {
			switch p := parent.(type) {
			case map[string]any:
				if _, ok := p[tok]; !ok {
					p[tok] = map[string]any{}
				}
				parent = p[tok]
			case []any:
				i, _ := strconv.Atoi(tok)
				parent = p[i]
			}
		}
		last := toks[len(toks)-1]
		switch p := parent.(type) {
		case map[string]any:
			if e.val == del {
				delete(p, last)
			} else {
				p[last] = e.val
			}
		case []any:
			i, _ := strconv.Atoi(last)
			p[i] = e.val
		default:
			t.Fatalf("edit %s: parent is %T", e.ptr, parent)
		}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEverySchemaCompilesAndDescribesItsType(t *testing.T) {
	for _, spec := range events.Catalog() {
		t.Run(spec.Type, func(t *testing.T) {
			raw, err := schema.Raw(spec.Type)
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Schema               string         `json:"$schema"`
				ID                   string         `json:"$id"`
				Title                string         `json:"title"`
				Description          string         `json:"description"`
				Type                 string         `json:"type"`
				AdditionalProperties *bool          `json:"additionalProperties"`
				Required             []string       `json:"required"`
				Properties           map[string]any `json:"properties"`
			}
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatalf("schema is not JSON: %v", err)
			}
			if doc.Schema != "https://json-schema.org/draft/2020-12/schema" {
				t.Errorf("$schema %q, want draft 2020-12", doc.Schema)
			}
			if doc.ID != schema.URI(spec.Type) || doc.ID != events.SchemaURI(spec.Type) {
				t.Errorf("$id %q, want %q", doc.ID, schema.URI(spec.Type))
			}
			if doc.Title == "" || doc.Description == "" || doc.Type != "object" {
				t.Errorf("title %q, description %q, type %q: want a title, a description and type object", doc.Title, doc.Description, doc.Type)
			}
			if doc.AdditionalProperties == nil || *doc.AdditionalProperties {
				t.Error("additionalProperties must be false")
			}
			// Compile it on its own, as any draft 2020-12 validator would,
			// so a broken schema fails here by name.
			c := jsonschema.NewCompiler()
			c.AssertFormat()
			parsed, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			if err := c.AddResource(doc.ID, parsed); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Compile(doc.ID); err != nil {
				t.Fatalf("does not compile: %v", err)
			}
			if !slices.Contains(schema.Types(), spec.Type) {
				t.Errorf("schema.Types() lacks %s", spec.Type)
			}
			// An empty object is never a valid payload, so a schema that
			// compiled to "anything goes" would fail here.
			if err := schema.Validate(spec.Type, []byte(`{}`)); err == nil {
				t.Error("schema accepts {}")
			}
		})
	}
}

// The schemas must describe exactly what the Go payload structs marshal:
// the same property names at every level, and required exactly for the
// fields without omitempty.
func TestSchemasMatchThePayloadStructs(t *testing.T) {
	for _, spec := range events.Catalog() {
		t.Run(spec.Type, func(t *testing.T) {
			raw, _ := schema.Raw(spec.Type)
			var doc map[string]any
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatal(err)
			}
			compareStruct(t, "", spec.PayloadType(), doc)
		})
	}
}

func compareStruct(t *testing.T, at string, typ reflect.Type, sch map[string]any) {
	t.Helper()
	for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
		typ = typ.Elem()
		if items, ok := sch["items"].(map[string]any); ok {
			sch = items
		}
	}
	if typ.Kind() != reflect.Struct || typ.PkgPath() != reflect.TypeFor[events.Person]().PkgPath() {
		return // time.Time, strings, numbers: leaf values
	}
	if sch["additionalProperties"] != false {
		t.Errorf("%s/: object schema lacks additionalProperties: false", at)
	}
	props, _ := sch["properties"].(map[string]any)
	var names, required []string
	for f := range typ.Fields() {
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			t.Fatalf("%s.%s has no json name", typ, f.Name)
		}
		names = append(names, name)
		if !strings.Contains(opts, "omitempty") {
			required = append(required, name)
		}
		sub, ok := props[name].(map[string]any)
		if !ok {
			t.Errorf("%s/%s: field %s.%s has no schema property", at, name, typ, f.Name)
			continue
		}
		compareStruct(t, at+"/"+name, f.Type, sub)
	}
	var have []string
	for name := range props {
		have = append(have, name)
	}
	slices.Sort(names)
	slices.Sort(have)
	if !slices.Equal(names, have) {
		t.Errorf("%s/: schema properties %v, struct %s fields %v", at, have, typ, names)
	}
	var req []string
	if r, ok := sch["required"].([]any); ok {
		for _, x := range r {
			req = append(req, x.(string))
		}
	}
	slices.Sort(req)
	slices.Sort(required)
	if !slices.Equal(req, required) {
		t.Errorf("%s/: schema requires %v, struct %s has %v without omitempty", at, req, typ, required)
	}
}

func TestSamplesAndVariantsAreAccepted(t *testing.T) {
	tests := []struct {
		name  string
		typ   string
		edits []edit
	}{
		{"a fix with its diff by reference", events.TypeFixPublished, []edit{
			{"/diff", del},
			{"/diff_ref", map[string]any{"bucket": "DPI_DIFFS", "object": "ma/ma-fix-0042.diff",
				"sha256": strings.Repeat("ab", 32), "size": 2_300_000}},
		}},
		{"a fix with a CVE and no message", events.TypeFixPublished, []edit{
			{"/message", del}, {"/references", map[string]any{"cves": []any{"CVE-2024-12345"}}},
		}},
		{"a fix with a diff of exactly 1 MiB", events.TypeFixPublished, []edit{{"/diff", strings.Repeat("x", 1<<20)}}},
		{"an assessment that applies", events.TypeFixAssessed, []edit{{"/verdict", "applies"}, {"/present_as", del}, {"/how", del}}},
		{"an assessment that is not applicable", events.TypeFixAssessed, []edit{{"/verdict", "not-applicable"}, {"/present_as", del}, {"/how", del}}},
		{"an assessment that conflicts", events.TypeFixAssessed, []edit{
			{"/verdict", "conflicts"}, {"/present_as", del}, {"/how", del},
			{"/conflicts", []any{map[string]any{"file": "pom.xml", "hunk": 2, "reason": "context differs"}}},
			{"/three_way_clean", false},
		}},
		{"an assessment found by content", events.TypeFixAssessed, []edit{{"/how", "content"}}},
		{"an assessment found by content names no commit", events.TypeFixAssessed, []edit{{"/how", "content"}, {"/present_as", del}}},
		{"a whole-file conflict is hunk 0", events.TypeFixAssessed, []edit{{"/verdict", "conflicts"}, {"/present_as", del}, {"/how", del},
			{"/conflicts", []any{map[string]any{"file": "pom.xml", "hunk": 0, "reason": "file is missing"}}}}},
		{"a snapshot of a fork with no commits of its own", events.TypeForkSnapshot, []edit{
			{"/ahead", 0}, {"/patch_ids", nil}, {"/minhash", del}, {"/files", del},
		}},
		{"a snapshot with the largest minhash values", events.TypeForkSnapshot, []edit{{"/minhash", []any{0, 4294967295}}}},
		{"a snapshot taken at a local time with a fraction", events.TypeForkSnapshot, []edit{{"/taken_at", "2025-03-14T10:30:00.123456789+01:00"}}},
		{"identical forks", events.TypeForkDuplicateDetected, []edit{{"/similarity", 1}, {"/jaccard", 1}, {"/b/branch", del}}},
		{"unrelated fixes", events.TypeFixDuplicateDetected, []edit{{"/similarity", 0}, {"/jaccard", 0.0}}},
		{"a bare registration", events.TypeForkRegistered, []edit{{"/platform", del}, {"/fork", "file:///srv/forks/ma/id-repository.git"}}},
		{"a proposal without labels", events.TypeProposalSubmitted, []edit{{"/labels", del}}},
		{"an endorsement without a comment", events.TypeProposalEndorsed, []edit{{"/comment", del}}},
		{"a status change without a reason", events.TypeProposalStatusChanged, []edit{{"/reason", del}, {"/from", "accepted"}, {"/to", "merged"}}},
		{"a hub heartbeat with no services listed", events.TypeNodeHeartbeat, []edit{{"/services", del}, {"/forks", 0}, {"/version", "(devel)"}}},
	}
	for _, spec := range events.Catalog() {
		t.Run("the sample of "+spec.Type, func(t *testing.T) {
			if err := schema.Validate(spec.Type, apply(t, sampleDoc(t, spec.Type))); err != nil {
				t.Fatal(err)
			}
		})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := schema.Validate(tt.typ, apply(t, sampleDoc(t, tt.typ), tt.edits...)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestBadPayloadsAreRejectedWithTheirLocation(t *testing.T) {
	hex40 := "d251063b58516672bf7a420593c3ae1ded6b15a7"
	tests := []struct {
		typ   string
		name  string
		edits []edit
		want  string // a part of the error, naming the location
	}{
		{events.TypeForkRegistered, "no upstream", []edit{{"/upstream", del}}, "at /: missing property 'upstream'"},
		{events.TypeForkRegistered, "an upstream that is not a URI", []edit{{"/upstream", "github.com/mosip/id-repository"}}, "at /upstream:"},
		{events.TypeForkRegistered, "a branch with a space", []edit{{"/branch", "release 1.2"}}, "at /branch:"},
		{events.TypeForkRegistered, "an unknown property", []edit{{"/owner", "ma"}}, "at /: additional properties 'owner'"},
		{events.TypeForkRegistered, "an empty platform", []edit{{"/platform", ""}}, "at /platform:"},

		{events.TypeForkSnapshot, "an upper-case head", []edit{{"/head", strings.ToUpper(hex40)}}, "at /head:"},
		{events.TypeForkSnapshot, "a short merge-base", []edit{{"/merge_base", hex40[:12]}}, "at /merge_base:"},
		{events.TypeForkSnapshot, "a negative ahead count", []edit{{"/ahead", -1}}, "at /ahead:"},
		{events.TypeForkSnapshot, "a fractional behind count", []edit{{"/behind", 1.5}}, "at /behind:"},
		{events.TypeForkSnapshot, "a minhash value above 32 bits", []edit{{"/minhash/0", 4294967296}}, "at /minhash/0:"},
		{events.TypeForkSnapshot, "a negative minhash value", []edit{{"/minhash/1", -1}}, "at /minhash/1:"},
		{events.TypeForkSnapshot, "an empty minhash", []edit{{"/minhash", []any{}}}, "at /minhash:"},
		{events.TypeForkSnapshot, "a patch-id listed twice", []edit{{"/patch_ids", []any{hex40, hex40}}}, "at /patch_ids:"},
		{events.TypeForkSnapshot, "an absolute file path", []edit{{"/files/0", "/etc/passwd"}}, "at /files/0:"},
		{events.TypeForkSnapshot, "a time that is not RFC 3339", []edit{{"/taken_at", "14/03/2025 09:30"}}, "at /taken_at:"},
		{events.TypeForkSnapshot, "no taken_at", []edit{{"/taken_at", del}}, "missing property 'taken_at'"},

		{events.TypeForkDuplicateDetected, "a similarity above 1", []edit{{"/similarity", 1.2}}, "at /similarity:"},
		{events.TypeForkDuplicateDetected, "a negative jaccard", []edit{{"/jaccard", -0.1}}, "at /jaccard:"},
		{events.TypeForkDuplicateDetected, "a three-letter country", []edit{{"/a/country", "mar"}}, "at /a/country:"},
		{events.TypeForkDuplicateDetected, "a fork without a country", []edit{{"/b/country", del}}, "at /b: missing property 'country'"},
		{events.TypeForkDuplicateDetected, "a negative shared count", []edit{{"/shared_patch_ids", -2}}, "at /shared_patch_ids:"},
		{events.TypeForkDuplicateDetected, "an unknown property in a fork", []edit{{"/a/url", "x"}}, "at /a: additional properties 'url'"},

		{events.TypeFixPublished, "neither diff nor diff_ref", []edit{{"/diff", del}}, "at /: missing property 'diff'"},
		{events.TypeFixPublished, "both diff and diff_ref", []edit{{"/diff_ref", map[string]any{
			"bucket": "DPI_DIFFS", "object": "x", "sha256": strings.Repeat("0", 64), "size": 1}}}, "at /:"},
		{events.TypeFixPublished, "a diff over 1 MiB", []edit{{"/diff", strings.Repeat("x", 1<<20+1)}}, "at /diff:"},
		{events.TypeFixPublished, "an empty diff", []edit{{"/diff", ""}}, "at /diff:"},
		{events.TypeFixPublished, "an empty title", []edit{{"/title", ""}}, "at /title:"},
		{events.TypeFixPublished, "a blank title", []edit{{"/title", "   "}}, "at /title:"},
		{events.TypeFixPublished, "a title of two lines", []edit{{"/title", "Fix it\nreally"}}, "at /title:"},
		{events.TypeFixPublished, "a title too long", []edit{{"/title", strings.Repeat("a", 257)}}, "at /title:"},
		{events.TypeFixPublished, "an invalid author e-mail", []edit{{"/author/email", "salma at ospo"}}, "at /author/email:"},
		{events.TypeFixPublished, "an author without a name", []edit{{"/author/name", del}}, "at /author: missing property 'name'"},
		{events.TypeFixPublished, "a malformed CVE id", []edit{{"/references/cves", []any{"CVE-24-1"}}}, "at /references/cves/0:"},
		{events.TypeFixPublished, "an abbreviated commit", []edit{{"/commit", "4e1b7c9"}}, "at /commit:"},
		{events.TypeFixPublished, "a patch-id with a non-hex letter", []edit{{"/patch_id", "g" + hex40[1:]}}, "at /patch_id:"},
		{events.TypeFixPublished, "no files", []edit{{"/files", []any{}}}, "at /files:"},
		{events.TypeFixPublished, "files that are null", []edit{{"/files", nil}}, "at /files:"},
		{events.TypeFixPublished, "a diff_ref with a bad sha256", []edit{{"/diff", del}, {"/diff_ref", map[string]any{
			"bucket": "DPI_DIFFS", "object": "x", "sha256": "abc", "size": 10}}}, "at /diff_ref/sha256:"},
		{events.TypeFixPublished, "a diff_ref of size 0", []edit{{"/diff", del}, {"/diff_ref", map[string]any{
			"bucket": "DPI_DIFFS", "object": "x", "sha256": strings.Repeat("0", 64), "size": 0}}}, "at /diff_ref/size:"},
		{events.TypeFixPublished, "a fix id with a slash", []edit{{"/fix_id", "ma/fix/1"}}, "at /fix_id:"},

		{events.TypeFixAssessed, "an unknown verdict", []edit{{"/verdict", "maybe"}}, "at /verdict:"},
		{events.TypeFixAssessed, "an unknown how", []edit{{"/how", "guess"}}, "at /how:"},
		{events.TypeFixAssessed, "present without present_as", []edit{{"/present_as", del}}, "at /: missing property 'present_as'"},
		{events.TypeFixAssessed, "applies with present_as", []edit{{"/verdict", "applies"}, {"/how", del}}, "at /present_as:"},
		{events.TypeFixAssessed, "conflicts without conflicts", []edit{{"/verdict", "conflicts"}, {"/present_as", del}, {"/how", del}}, "at /: missing property 'conflicts'"},
		{events.TypeFixAssessed, "conflicts on a present verdict", []edit{{"/conflicts", []any{map[string]any{"file": "pom.xml", "hunk": 1}}}}, "at /conflicts:"},
		{events.TypeFixAssessed, "a negative hunk", []edit{{"/verdict", "conflicts"}, {"/present_as", del}, {"/how", del},
			{"/conflicts", []any{map[string]any{"file": "pom.xml", "hunk": -1}}}}, "at /conflicts/0/hunk:"},
		{events.TypeFixAssessed, "a conflict without a file", []edit{{"/verdict", "conflicts"}, {"/present_as", del}, {"/how", del},
			{"/conflicts", []any{map[string]any{"hunk": 1}}}}, "at /conflicts/0: missing property 'file'"},
		{events.TypeFixAssessed, "three_way_clean as a string", []edit{{"/three_way_clean", "yes"}}, "at /three_way_clean:"},

		{events.TypeFixAdopted, "a 39-character commit", []edit{{"/commit", hex40[:39]}}, "at /commit:"},
		{events.TypeFixAdopted, "no branch", []edit{{"/branch", del}}, "at /: missing property 'branch'"},
		{events.TypeFixAdopted, "an unknown property", []edit{{"/country", "lk"}}, "at /: additional properties 'country'"},

		{events.TypeFixDuplicateDetected, "a similarity that is a word", []edit{{"/similarity", "high"}}, "at /similarity:"},
		{events.TypeFixDuplicateDetected, "a fix without an id", []edit{{"/b/fix_id", del}}, "at /b: missing property 'fix_id'"},
		{events.TypeFixDuplicateDetected, "a country that is not hub", []edit{{"/a/country", "hubs"}}, "at /a/country:"},
		{events.TypeFixDuplicateDetected, "no jaccard", []edit{{"/jaccard", del}}, "missing property 'jaccard'"},

		{events.TypeProposalSubmitted, "an empty title", []edit{{"/title", ""}}, "at /title:"},
		{events.TypeProposalSubmitted, "a blank body", []edit{{"/body", " \n\t"}}, "at /body:"},
		{events.TypeProposalSubmitted, "a label with spaces and capitals", []edit{{"/labels", []any{"Good First Issue"}}}, "at /labels/0:"},
		{events.TypeProposalSubmitted, "a label listed twice", []edit{{"/labels", []any{"i18n", "i18n"}}}, "at /labels:"},
		{events.TypeProposalSubmitted, "no body", []edit{{"/body", del}}, "missing property 'body'"},

		{events.TypeProposalEndorsed, "an empty proposal id", []edit{{"/proposal_id", ""}}, "at /proposal_id:"},
		{events.TypeProposalEndorsed, "an empty comment", []edit{{"/comment", ""}}, "at /comment:"},
		{events.TypeProposalEndorsed, "a weight", []edit{{"/weight", 3}}, "at /: additional properties 'weight'"},

		{events.TypeProposalObjected, "no reason", []edit{{"/reason", del}}, "missing property 'reason'"},
		{events.TypeProposalObjected, "a blank reason", []edit{{"/reason", "  "}}, "at /reason:"},
		{events.TypeProposalObjected, "a proposal id that is a number", []edit{{"/proposal_id", 7}}, "at /proposal_id:"},

		{events.TypeProposalCommented, "no comment", []edit{{"/comment", del}}, "missing property 'comment'"},
		{events.TypeProposalCommented, "a proposal id with a space", []edit{{"/proposal_id", "ma prop 7"}}, "at /proposal_id:"},
		{events.TypeProposalCommented, "a comment over 16 KiB", []edit{{"/comment", strings.Repeat("a", 16385)}}, "at /comment:"},

		{events.TypeProposalStatusChanged, "an unknown status", []edit{{"/to", "closed"}}, "at /to:"},
		{events.TypeProposalStatusChanged, "a change to the same status", []edit{{"/to", "open"}}, "at /to:"},
		{events.TypeProposalStatusChanged, "no from", []edit{{"/from", del}}, "missing property 'from'"},
		{events.TypeProposalStatusChanged, "a capitalised status", []edit{{"/from", "Open"}}, "at /from:"},

		{events.TypeProposalDuplicateDetected, "a similarity of 2", []edit{{"/similarity", 2}}, "at /similarity:"},
		{events.TypeProposalDuplicateDetected, "an empty country", []edit{{"/a/country", ""}}, "at /a/country:"},
		{events.TypeProposalDuplicateDetected, "a third proposal", []edit{{"/c", map[string]any{}}}, "at /: additional properties 'c'"},

		{events.TypeNodeHeartbeat, "a negative fork count", []edit{{"/forks", -1}}, "at /forks:"},
		{events.TypeNodeHeartbeat, "month 13", []edit{{"/started_at", "2025-13-01T00:00:00Z"}}, "at /started_at:"},
		{events.TypeNodeHeartbeat, "a service with capitals", []edit{{"/services", []any{"Node"}}}, "at /services/0:"},
		{events.TypeNodeHeartbeat, "a version with a space", []edit{{"/version", "v 1"}}, "at /version:"},
		{events.TypeNodeHeartbeat, "no version", []edit{{"/version", del}}, "missing property 'version'"},
	}
	perType := map[string]int{}
	for _, tt := range tests {
		perType[tt.typ]++
		t.Run(tt.typ+"/"+tt.name, func(t *testing.T) {
			err := schema.Validate(tt.typ, apply(t, sampleDoc(t, tt.typ), tt.edits...))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
	for _, spec := range events.Catalog() {
		if perType[spec.Type] < 3 {
			t.Errorf("%s has %d bad payloads in this table, want at least 3", spec.Type, perType[spec.Type])
		}
	}
}

func TestValidateRefusesWhatIsNotAPayload(t *testing.T) {
	if err := schema.Validate("org.dpihub.fix.exploded.v1", []byte(`{}`)); !errors.Is(err, schema.ErrUnknownType) {
		t.Errorf("unknown type: %v, want ErrUnknownType", err)
	}
	if _, err := schema.Raw("org.dpihub.fix.exploded.v1"); !errors.Is(err, schema.ErrUnknownType) {
		t.Errorf("Raw of an unknown type: %v, want ErrUnknownType", err)
	}
	for _, data := range []string{``, `{`, `[]`, `null`, `"fix"`} {
		if err := schema.Validate(events.TypeFixAdopted, []byte(data)); err == nil {
			t.Errorf("Validate(%q) accepted", data)
		}
	}
}
