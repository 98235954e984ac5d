package node

import (
	"strings"
	"testing"
)

// TestDerivedIDsStayAsTheyWere pins the ids of every fact a node publishes:
// a changed id makes a republished fact new, and the bus stores it twice.
// The emitting country is the first part, so two countries stating the
// same fact (identical forks assessing one fix) publish two ids. The
// expected ids come from Python's hashlib over the same parts:
//
//	hashlib.sha256("\x00".join([country, *parts]).encode()).hexdigest()[:32]
func TestDerivedIDsStayAsTheyWere(t *testing.T) {
	a, b, c, d := strings.Repeat("a", 40), strings.Repeat("b", 40), strings.Repeat("c", 40), strings.Repeat("d", 40)
	for _, tt := range []struct {
		fact, country string
		parts         []string
		want          string
	}{
		{"fix.assessed", "ph", []string{"assessed", "ma:ma-0123456789ab", "ph-main", a, "applies", b}, "0b40600416b3bad5dc9ee2200075f9a2"},
		{"fix.assessed of another country with an identical fork", "lk", []string{"assessed", "ma:ma-0123456789ab", "ph-main", a, "applies", b}, "e6a4e58bffe1557e1f29da57bc5a9754"},
		{"fix.adopted", "ph", []string{"adopted", "ma:ma-0123456789ab", "ph-main", c}, "a9c0aa7fba7df822fff5a541ca0e8ecd"},
		{"fork.registered", "ph", []string{"registered", "mosip-id-repository", "ph-main", "file:///srv/f", "https://github.com/mosip/id-repository", "MOSIP"}, "7147836570bcfc5ef0c08cdae4880753"},
		{"fork.snapshot", "ph", []string{"snapshot", "mosip-id-repository@ph-main", a, d}, "e1a17dd9d97ca52e021dbf3b357e5cc3"},
		{"fix.published", "ph", []string{"fix", "ph-0123456789ab", b}, "8586ed68137bfadaaddbf90304757aed"},
	} {
		t.Run("the id of "+tt.fact, func(t *testing.T) {
			n := &Node{country: tt.country}
			if got := n.factID(tt.parts...); got != tt.want {
				t.Errorf("%s's factID(%q) = %s, want %s", tt.country, tt.parts, got, tt.want)
			}
		})
	}
}
