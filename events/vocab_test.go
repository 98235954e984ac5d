package events_test

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/schema"
)

func TestShortAndFullTypesNameEachOther(t *testing.T) {
	for _, s := range events.Catalog() {
		short := events.ShortType(s.Type)
		if strings.HasPrefix(short, "org.") || strings.HasSuffix(short, ".v1") {
			t.Fatalf("ShortType(%s) = %s", s.Type, short)
		}
		if full, ok := events.FullType(short); !ok || full != s.Type {
			t.Fatalf("FullType(%s) = %s, %v; want %s", short, full, ok, s.Type)
		}
		if full, ok := events.FullType(s.Type); !ok || full != s.Type {
			t.Fatalf("FullType of a full type %s = %s, %v", s.Type, full, ok)
		}
	}
	if got := events.ShortType("com.example.other"); got != "com.example.other" {
		t.Fatalf("ShortType of an unknown type = %q", got)
	}
	if _, ok := events.FullType("fix.nonsense"); ok {
		t.Fatal("FullType knows fix.nonsense")
	}
}

// TestTheLimitsAreTheSchemas: a producer trims to the constants, so they
// must be what the schema of fix.assessed refuses beyond.
func TestTheLimitsAreTheSchemas(t *testing.T) {
	raw, err := schema.Raw(events.TypeFixAssessed)
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Properties struct {
			Verdict   struct{ Enum []string }
			How       struct{ Enum []string }
			Conflicts struct {
				MaxItems int
				Items    struct {
					Properties struct{ Reason struct{ MaxLength int } }
				}
			}
		}
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	p := s.Properties
	if p.Conflicts.MaxItems != events.MaxConflicts {
		t.Errorf("schema maxItems %d, MaxConflicts %d", p.Conflicts.MaxItems, events.MaxConflicts)
	}
	if p.Conflicts.Items.Properties.Reason.MaxLength != events.MaxConflictReason {
		t.Errorf("schema reason maxLength %d, MaxConflictReason %d", p.Conflicts.Items.Properties.Reason.MaxLength, events.MaxConflictReason)
	}
	if got, want := strings.Join(p.Verdict.Enum, ","), strings.Join(events.Verdicts(), ","); got != want {
		t.Errorf("schema verdicts %s, Verdicts() %s", got, want)
	}
	if got, want := strings.Join(p.How.Enum, ","), strings.Join([]string{events.HowPatchID, events.HowTrailer, events.HowContent}, ","); got != want {
		t.Errorf("schema how %s, constants %s", got, want)
	}
}

func TestTruncateCountsCharactersAndNeverSplitsOne(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly", 7, "exactly"},
		{"abcdef", 3, "abc"},
		{"éééé", 2, "éé"},
		{"日本語テキスト", 3, "日本語"},
		{"", 0, ""},
		{"x", 0, ""},
	}
	for _, tt := range tests {
		got := events.Truncate(tt.in, tt.n)
		if got != tt.want || !utf8.ValidString(got) {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
