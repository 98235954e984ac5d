package node

import (
	"strings"
	"testing"
)

// TestDerivedIDsStayAsTheyWere pins the ids of every fact a node publishes:
// a changed id makes a republished fact new, and the bus stores it twice.
// The expected ids come from Python's hashlib over the same parts.
func TestDerivedIDsStayAsTheyWere(t *testing.T) {
	a, b, c, d := strings.Repeat("a", 40), strings.Repeat("b", 40), strings.Repeat("c", 40), strings.Repeat("d", 40)
	for _, tt := range []struct {
		fact  string
		parts []string
		want  string
	}{
		{"fix.assessed", []string{"assessed", "ma:ma-0123456789ab", "ph-main", a, "applies", b}, "a3a47362645caabc7daa1d0414a622b7"},
		{"fix.adopted", []string{"adopted", "ma:ma-0123456789ab", "ph-main", c}, "1c60b4bef167d0afbd4aa20695565e55"},
		{"fork.registered", []string{"registered", "mosip-id-repository", "ph-main", "file:///srv/f", "https://github.com/mosip/id-repository", "MOSIP"}, "758fce8371e24bbfb74d586f64f116c7"},
		{"fork.snapshot", []string{"snapshot", "mosip-id-repository@ph-main", a, d}, "a116e8d96ed1639b59d2d6c46a1f649b"},
		{"fix.published", []string{"fix", "ph-0123456789ab", b}, "899e803bbc7ddd6ff2dd35822621dbfd"},
	} {
		t.Run("the id of "+tt.fact, func(t *testing.T) {
			if got := derivedID(tt.parts...); got != tt.want {
				t.Errorf("derivedID(%q) = %s, want %s", tt.parts, got, tt.want)
			}
		})
	}
}
