package hub_test

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The layout every service copies (docs/architecture.md, "Inside a
// service"), checked on the code as it is. The hub's module is the one
// that wires all the others, so the check lives here.

const mod = "github.com/dpihub/dpihub/"

// services: for each service module, its domain package and its adapters
// (one per dependency: bus, store, HTTP, git).
var services = []struct {
	dir      string
	domain   string
	adapters []string
}{
	{"../node", "services/node", []string{"nodebus", "kv", "nodehttp", "nodegit", "provision"}},
	{"../feed", "services/feed", []string{"feedbus", "sqlite", "feedhttp"}},
}

type goPackage struct {
	Dir, ImportPath, Name string
	Imports, Deps         []string
}

// list returns the packages of the module in dir, as `go list` sees them.
func list(t *testing.T, dir string) []goPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = dir
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go list in %s: %v\n%s", dir, err, stderr.String())
	}
	var pkgs []goPackage
	dec := json.NewDecoder(&out)
	for {
		var p goPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func TestEveryPackageIsNamedAfterItsFolder(t *testing.T) {
	for _, dir := range []string{"../../events", "../feed", "../node", "."} {
		for _, p := range list(t, dir) {
			if p.Name != "main" && p.Name != path.Base(p.ImportPath) {
				t.Errorf("package %s is named %q: name the folder or the package so that they agree", p.ImportPath, p.Name)
			}
		}
	}
}

func TestDomainsKnowNothingOfTheirAdapters(t *testing.T) {
	for _, svc := range services {
		for _, p := range list(t, svc.dir) {
			rel := strings.TrimPrefix(p.ImportPath, mod)
			if rel == svc.domain {
				for _, d := range p.Deps {
					if strings.HasPrefix(d, "github.com/nats-io/") || d == "database/sql" || strings.HasPrefix(d, "modernc.org/") {
						t.Errorf("the domain %s depends on %s", rel, d)
					}
				}
				for _, imp := range p.Imports {
					if imp == "net/http" || strings.HasPrefix(imp, mod+svc.domain+"/") {
						t.Errorf("the domain %s imports %s", rel, imp)
					}
				}
			}
			if !slices.Contains(svc.adapters, path.Base(rel)) {
				continue
			}
			for _, imp := range p.Imports {
				if other := strings.TrimPrefix(imp, mod+svc.domain+"/"); other != imp && slices.Contains(svc.adapters, other) {
					t.Errorf("the adapter %s imports the adapter %s: adapters meet only in the domain's interfaces, wired by service", rel, other)
				}
			}
		}
	}
}

// A package that talks to NATS never talks SQL, and the other way round.
func TestNoPackageSpeaksBothNATSAndSQL(t *testing.T) {
	for _, svc := range services {
		for _, p := range list(t, svc.dir) {
			nats := slices.ContainsFunc(p.Imports, func(s string) bool { return strings.HasPrefix(s, "github.com/nats-io/") })
			sql := slices.ContainsFunc(p.Imports, func(s string) bool { return s == "database/sql" || strings.HasPrefix(s, "modernc.org/") })
			if nats && sql {
				t.Errorf("%s imports both NATS and SQL", p.ImportPath)
			}
		}
	}
}

// errorText matches code that decides from an error's text: a strings
// function applied to err.Error(), or err.Error() compared with a literal.
// (Keeping an error's text, and noticing that it changed, is not deciding
// from it.)
var errorText = regexp.MustCompile(`strings\.(Contains|HasPrefix|HasSuffix|TrimPrefix|TrimSuffix|Index|EqualFold)\([^\n]*\.Error\(\)|\.Error\(\)\s*[!=]=\s*"|"\s*[!=]=\s*[A-Za-z_.]*\.Error\(\)`)

func TestNoCodeDecidesFromAnErrorsText(t *testing.T) {
	for _, root := range []string{"../../events", "../feed", "../node", "."} {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			for i, line := range strings.Split(string(b), "\n") {
				if errorText.MatchString(line) {
					t.Errorf("%s:%d decides from an error's text; use errors.Is/As on a typed error:\n\t%s", p, i+1, strings.TrimSpace(line))
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// The node's bus adapter turns events into calls and calls into events;
// when it grows past this, rules are creeping into it (they belong in
// package node, with tests that need no NATS).
func TestTheNodesBusAdapterStaysThin(t *testing.T) {
	const most = 200
	files, err := filepath.Glob("../node/nodebus/*.go")
	if err != nil {
		t.Fatal(err)
	}
	lines := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines += bytes.Count(b, []byte("\n"))
	}
	if lines > most {
		t.Errorf("services/node/nodebus has %d lines of non-test code, more than %d: move rules into package node", lines, most)
	}
}
