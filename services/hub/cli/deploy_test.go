package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dpihub/dpihub/services/hub/deploy"
)

func TestDeployInitWritesADeploymentAndAddCountryAddsOneSite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "deployment")
	if r := dpihub(t, nil, "", "deploy", "init", "--countries", "ma,ph,lk", "--out", dir); r.code != 0 {
		t.Fatalf("deploy init: exit %d: %s", r.code, r.stderr)
	}
	for _, f := range []string{"plan.json", "accounts.conf", "hub-1.conf", "hub-2.conf", "hub-3.conf",
		"site-ma.conf", "site-ph.conf", "site-lk.conf", "auth/operator.nk", "creds/site-ma.creds",
		"creds/country-lk.creds", "creds/admin.creds", "creds/observer.creds", "creds/service-feed.creds"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("deploy init wrote no %s: %v", f, err)
		}
	}
	conf, _ := os.ReadFile(filepath.Join(dir, "site-ma.conf"))
	for _, want := range []string{"domain: ma", `"nats-leaf://hub-1:7422"`, `"/etc/dpihub/creds/site-ma.creds"`} {
		if !strings.Contains(string(conf), want) {
			t.Errorf("site-ma.conf lacks %s:\n%s", want, conf)
		}
	}
	before, _ := os.ReadFile(filepath.Join(dir, "creds", "country-ma.creds"))
	if r := dpihub(t, nil, "", "deploy", "add-country", "--dir", dir, "--country", "ke"); r.code != 0 {
		t.Fatalf("deploy add-country: exit %d: %s", r.code, r.stderr)
	}
	plan, err := deploy.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(plan.Countries(), ","); got != "ma,ph,lk,ke" {
		t.Errorf("countries after add-country: %s", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "site-ke.conf")); err != nil {
		t.Errorf("add-country wrote no site-ke.conf: %v", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "creds", "country-ma.creds"))
	if string(before) != string(after) {
		t.Error("add-country issued ma's credentials again: those in use would still work, but the files changed under their holders")
	}
	if err := os.Remove(filepath.Join(dir, "creds", "site-ma.creds")); err != nil {
		t.Fatal(err)
	}
	if r := dpihub(t, nil, "", "deploy", "write", "--dir", dir); r.code != 0 {
		t.Fatalf("deploy write: exit %d: %s", r.code, r.stderr)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "creds", "country-ma.creds")); string(again) != string(before) {
		t.Error("deploy write issued ma's credentials again")
	}
	if _, err := os.Stat(filepath.Join(dir, "creds", "site-ma.creds")); err != nil {
		t.Errorf("deploy write did not issue the removed site-ma.creds again: %v", err)
	}
	if r := dpihub(t, nil, "", "deploy", "add-country", "--dir", dir, "--country", "ke"); r.code == 0 {
		t.Error("adding ke twice succeeded")
	}
	if r := dpihub(t, nil, "", "deploy", "init", "--countries", "ma,hub", "--out", t.TempDir()); r.code == 0 {
		t.Error("a site named hub (the hub's domain) was accepted")
	}
}

// deploy init refuses codes that name no country and an existing
// deployment (whose keys the servers and nodes hold), writing nothing;
// add-country refuses them too.
func TestDeployRefusesWhatIsNoCountryAndAnExistingDeployment(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "deployment")
	for _, cc := range []string{"ma,xx", "zz", "ma,UK", "ma,eu"} {
		r := dpihub(t, nil, "", "deploy", "init", "--countries", cc, "--out", dir)
		if r.code == 0 || !strings.Contains(r.stderr, "ISO 3166-1") {
			t.Errorf("deploy init --countries %s: exit %d, %q", cc, r.code, r.stderr)
		}
		if _, err := os.Stat(dir); err == nil {
			t.Fatalf("deploy init --countries %s wrote %s", cc, dir)
		}
	}
	if r := dpihub(t, nil, "", "deploy", "init", "--countries", "ma,ph", "--out", dir); r.code != 0 {
		t.Fatalf("deploy init: exit %d: %s", r.code, r.stderr)
	}
	key, _ := os.ReadFile(filepath.Join(dir, "auth", "operator.nk"))
	r := dpihub(t, nil, "", "deploy", "init", "--countries", "ma,ph,lk", "--out", dir)
	if r.code == 0 || !strings.Contains(r.stderr, "holds a deployment already") {
		t.Errorf("deploy init over a deployment: exit %d, %q", r.code, r.stderr)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "auth", "operator.nk")); string(again) != string(key) {
		t.Error("deploy init over a deployment replaced its operator key")
	}
	if r := dpihub(t, nil, "", "deploy", "add-country", "--dir", dir, "--country", "xx"); r.code == 0 {
		t.Error("add-country xx succeeded")
	}
}
