package events_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dpihub/dpihub/events"
)

var securityDoc = filepath.Join("..", "docs", "security.md")

// docs/security.md prints the authority table between generated markers;
// this test keeps it the table of the code (go test . -run TestDocsSecurity
// -update rewrites it).
func TestDocsSecurityAuthorityTableIsCurrent(t *testing.T) {
	have, err := os.ReadFile(securityDoc)
	if err != nil {
		t.Fatal(err)
	}
	want, err := replaceRegion(have, "authority", docAuthority())
	if err != nil {
		t.Fatalf("%s: %v", securityDoc, err)
	}
	if *update {
		if !bytes.Equal(have, want) {
			if err := os.WriteFile(securityDoc, want, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("rewrote the generated region of %s", securityDoc)
		}
		return
	}
	if !bytes.Equal(have, want) {
		t.Fatalf("the authority table in %s is stale: it differs from events.Authorities (%s).\n"+
			"Regenerate it and review the diff: cd events && go test . -run TestDocsSecurity -update",
			securityDoc, firstDiff(have, want))
	}
}

// Independently of the generator: the page names every rule and every
// type of the catalog.
func TestDocsSecurityNamesEveryRuleAndType(t *testing.T) {
	b, err := os.ReadFile(securityDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, r := range events.Rules() {
		if !strings.Contains(doc, "| `"+r.Name+"` |") {
			t.Errorf("%s does not list rule %s", securityDoc, r.Name)
		}
	}
	for _, s := range events.Catalog() {
		if !strings.Contains(doc, "| `"+events.ShortType(s.Type)+"` |") {
			t.Errorf("%s has no authority row for %s", securityDoc, s.Type)
		}
	}
}

// docAuthority is the table of who may emit what, then the rules.
func docAuthority() string {
	var b strings.Builder
	b.WriteString("| type | who may emit it | rules, in the order they are checked |\n|---|---|---|\n")
	for _, a := range events.Authorities() {
		rules := make([]string, len(a.Rules))
		for i, r := range a.Rules {
			rules[i] = "`" + r + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", events.ShortType(a.Type), cell(a.Who), strings.Join(rules, ", "))
	}
	b.WriteString("\n| rule | says |\n|---|---|\n")
	for _, r := range events.Rules() {
		fmt.Fprintf(&b, "| `%s` | %s |\n", r.Name, cell(r.Says))
	}
	return b.String()
}
