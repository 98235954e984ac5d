package node_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dpihub/dpihub/services/node"
)

func TestForkValidate(t *testing.T) {
	ok := node.Fork{Project: "mosip-id-repository", Upstream: "https://github.com/mosip/id-repository", Dir: "/srv/f", Branch: "ph/release-1.2"}
	if err := ok.Validate(); err != nil {
		t.Fatalf("a good fork: %v", err)
	}
	for name, mutate := range map[string]func(*node.Fork){
		"a project that is not a slug": func(f *node.Fork) { f.Project = "MOSIP ID" },
		"no upstream":                  func(f *node.Fork) { f.Upstream = "" },
		"no directory":                 func(f *node.Fork) { f.Dir = "" },
		"no branch":                    func(f *node.Fork) { f.Branch = "" },
		"a branch that is an option":   func(f *node.Fork) { f.Branch = "--all" },
		"a branch with a space":        func(f *node.Fork) { f.Branch = "a b" },
	} {
		t.Run("refuses "+name, func(t *testing.T) {
			f := ok
			mutate(&f)
			if err := f.Validate(); !errors.Is(err, node.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
	if ok.Ref() != node.DefaultUpstreamRef {
		t.Errorf("default upstream ref = %q", ok.Ref())
	}
}

func FuzzParseFixKey(f *testing.F) {
	for _, s := range []string{"ma:ma-fix-0042", "hub:x", ":x", "ma:", "MA:x", "ma:a:b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		cc, id, err := node.ParseFixKey(key)
		if err != nil {
			if !errors.Is(err, node.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if node.FixKey(cc, id) != key {
			t.Fatalf("ParseFixKey(%q) = %q, %q, which do not make the key again", key, cc, id)
		}
	})
}

func TestReadForksReadsTheListAndNamesABadFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "forks.json")
	if err := os.WriteFile(good, []byte(`[{"project":"mosip-id-repository","upstream":"https://github.com/mosip/id-repository","dir":"/srv/f","branch":"ph-1.2"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	forks, err := node.ReadForks(good)
	if err != nil || len(forks) != 1 || forks[0].Branch != "ph-1.2" {
		t.Fatalf("ReadForks: %+v, %v", forks, err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"project":`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := node.ReadForks(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("a bad forks file: %v, want an error naming it", err)
	}
	if _, err := node.ReadForks(filepath.Join(dir, "missing.json")); err == nil {
		t.Fatal("a missing forks file read")
	}
}
