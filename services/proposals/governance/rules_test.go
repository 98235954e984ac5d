package governance_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dpihub/dpihub/services/proposals/governance"
)

func TestRulesFileOverridesDefaultsPerProject(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.json")
	os.WriteFile(path, []byte(`{"defaults":{"min_endorsements":3},
		"projects":{"mojaloop-central-ledger":{"answer_within":"48h","maintainers":["`+strings.Repeat("ab", 32)+`"]}}}`), 0o644)
	b, err := governance.LoadRuleBook(path)
	if err != nil {
		t.Fatal(err)
	}
	ml := b.For("mojaloop-central-ledger")
	if ml.MinEndorsements != 3 || time.Duration(ml.AnswerWithin) != 48*time.Hour || time.Duration(ml.DecideAfter) != time.Duration(governance.Defaults.DecideAfter) || len(ml.Maintainers) != 1 {
		t.Errorf("mojaloop's rules %+v: its answer window, the file's default endorsements, the built-in deadline", ml)
	}
	if other := b.For("mosip-id-repository"); other.MinEndorsements != 3 || other.AnswerWithin != governance.Defaults.AnswerWithin {
		t.Errorf("a project the file does not name: %+v", other)
	}
	var none *governance.RuleBook
	if d := none.For("x"); d.MinEndorsements != governance.Defaults.MinEndorsements || d.AnswerWithin != governance.Defaults.AnswerWithin || d.DecideAfter != governance.Defaults.DecideAfter {
		t.Errorf("no rules file: %+v, want the defaults", none.For("x"))
	}
}

func TestABadRulesFileIsRefusedWithItsReason(t *testing.T) {
	for name, body := range map[string]string{
		"a misspelt rule":           `{"defaults":{"min_endorsement":3}}`,
		"no endorsements needed":    `{"defaults":{"min_endorsements":-1}}`,
		"a duration in seconds":     `{"defaults":{"answer_within":3600}}`,
		"a negative deadline":       `{"projects":{"x-y":{"decide_after":"-1h"}}}`,
		"a project that is no slug": `{"projects":{"Not A Slug":{}}}`,
		"a maintainer in clear":     `{"projects":{"x-y":{"maintainers":["hunter2"]}}}`,
		"not JSON":                  `min_endorsements: 2`,
	} {
		path := filepath.Join(t.TempDir(), "rules.json")
		os.WriteFile(path, []byte(body), 0o644)
		if _, err := governance.LoadRuleBook(path); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
