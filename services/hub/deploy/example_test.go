package deploy_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/dpihub/dpihub/services/hub/deploy"
)

// keys are what differs between two deployments written alike: public
// nkeys and JWTs.
var keys = regexp.MustCompile(`\b[A-Z][A-Z0-9]{55}\b|"eyJ[^"]*"`)

// deploy/example is what deploy init writes for ma, ph and lk, but for its
// keys: a change to the configurations shows in it, in review.
func TestTheCheckedInExampleIsWhatDeployInitWrites(t *testing.T) {
	plan, err := deploy.DefaultPlan([]string{"ma", "ph", "lk"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := deploy.Write(dir, plan); err != nil {
		t.Fatal(err)
	}
	example := filepath.Join("..", "..", "..", "deploy", "example")
	names, err := filepath.Glob(filepath.Join(dir, "*.*"))
	if err != nil || len(names) == 0 {
		t.Fatalf("nothing written: %v", err)
	}
	for _, path := range names {
		name := filepath.Base(path)
		want, err := os.ReadFile(filepath.Join(example, name))
		if err != nil {
			t.Errorf("deploy/example lacks %s: go run ./services/hub/cmd/dpihub deploy init --countries ma,ph,lk --out deploy/example", name)
			continue
		}
		got, _ := os.ReadFile(path)
		if keys.ReplaceAllString(string(got), "KEY") != keys.ReplaceAllString(string(want), "KEY") {
			t.Errorf("deploy/example/%s is not what deploy init writes now; write it again:\n%s", name, got)
		}
	}
}
