package access_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/dpihub/dpihub/events/access"
	"github.com/dpihub/dpihub/events/bus/bustest"
)

var update = flag.Bool("update", false, "rewrite testdata/permissions.golden from the table")

func TestIdentitiesParseWhatStringWritesAndRefuseTheRest(t *testing.T) {
	for _, id := range []access.Identity{access.Country("ma"), access.Service("feed"), access.Service("dedup"), access.Admin, access.Observer, access.Site("ma")} {
		got, err := access.Parse(id.String())
		if err != nil || got != id {
			t.Errorf("Parse(%q) = %v, %v", id, got, err)
		}
	}
	for _, s := range []string{"", "country:", "country:MA", "country:mar", "country:hub", "service:", "service:Feed",
		"service:node-ma", "admin:root", "observer:x", "root", "country:ma:x", "site:", "site:hub", "site:MA"} {
		if id, err := access.Parse(s); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", s, id)
		}
	}
	if p := (access.Identity{Role: "country", Name: "Morocco"}).Permissions(); len(p.Publish)+len(p.Subscribe) != 0 {
		t.Errorf("an invalid identity has permissions %v", p)
	}
}

// The table is part of the contract: a change to it shows in review as a
// change of this file. go test -run Golden -update rewrites it.
func TestThePermissionTableIsTheReviewedOne(t *testing.T) {
	var b bytes.Buffer
	for _, id := range []access.Identity{access.Country("ma"), access.Service("feed"), access.Observer, access.Admin, access.Site("ma")} {
		fmt.Fprintf(&b, "%s (inbox %q, consumer %q)\n%s\n", id, id.InboxPrefix(), id.Consumer(), id.Permissions())
	}
	golden := filepath.Join("testdata", "permissions.golden")
	if *update {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Fatalf("the permission table changed; review it, then go test -run Reviewed -update:\n%s", b.String())
	}
}

func TestAnAuthoritySavedAndLoadedStillVouchesForItsCredentials(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "auth")
	a, created, err := access.LoadOrCreate(dir)
	if err != nil || !created {
		t.Fatalf("LoadOrCreate in an empty dir: created %v, %v", created, err)
	}
	issued := filepath.Join(t.TempDir(), "observer.creds")
	if err := a.WriteCreds(issued, access.Observer); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, issued} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if want := os.FileMode(0o600); fi.IsDir() {
			if fi.Mode().Perm() != 0o700 {
				t.Errorf("%s: mode %v, want 0700", p, fi.Mode().Perm())
			}
		} else if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), want)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if fi, _ := e.Info(); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", e.Name(), fi.Mode().Perm())
		}
	}
	if err := a.Save(dir); err == nil {
		t.Error("Save overwrote an authority")
	}

	loaded, created, err := access.LoadOrCreate(dir)
	if err != nil || created {
		t.Fatalf("LoadOrCreate of a saved authority: created %v, %v", created, err)
	}
	srv := bustest.Server(t, "", bustest.WithAuthority(loaded))
	id, opts, err := access.Client(issued)
	if err != nil || id != access.Observer {
		t.Fatalf("Client: %v, %v", id, err)
	}
	nc, err := nats.Connect(srv.ClientURL(), append(opts, nats.MaxReconnects(0))...)
	if err != nil {
		t.Fatalf("credentials issued before the authority was saved and loaded: %v", err)
	}
	nc.Close()

	// No verb shows a seed: the authority prints as its operator's
	// public key.
	for _, s := range []string{fmt.Sprintf("%v", loaded), fmt.Sprintf("%#v", loaded), fmt.Sprintf("%+v", *loaded), fmt.Sprint(*loaded)} {
		if s != loaded.String() || !strings.HasPrefix(s, "access.Authority{operator O") {
			t.Errorf("an authority prints as %s", s)
		}
	}
}

func TestLoadRefusesWhatIsNotAnAuthority(t *testing.T) {
	dir := t.TempDir()
	if _, err := access.Load(dir); err == nil {
		t.Fatal("Load of an empty dir")
	}
	a, _ := access.New()
	if err := a.Save(dir); err != nil {
		t.Fatal(err)
	}
	// An account seed where the operator's belongs.
	acc, _ := os.ReadFile(filepath.Join(dir, "dpi.nk"))
	if err := os.WriteFile(filepath.Join(dir, "operator.nk"), acc, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := access.Load(dir); err == nil {
		t.Fatal("Load accepted an account key as the operator")
	}
}
