package service_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/services/dedup/service"
	"github.com/dpihub/dpihub/services/node"
	"github.com/dpihub/dpihub/services/node/gitfork"
)

const project = "mosip-id-repository"

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.org", "GIT_COMMITTER_NAME=t",
		"GIT_COMMITTER_EMAIL=t@example.org", "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func write(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// validator is a Java file of n checks numbered from start.
func validator(start, n int) string {
	var b strings.Builder
	b.WriteString("class Validator {\n  void check(Request r) {\n")
	for i := start; i < start+n; i++ {
		b.WriteString("    require(r.field" + itoa(i) + " != null, \"field " + itoa(i) + " is required\");\n")
	}
	b.WriteString("  }\n}\n")
	return b.String()
}

func itoa(i int) string { return strconv.Itoa(i) }

// forks makes an upstream and three countries' forks: Morocco and the
// Philippines carry the same two changes (Morocco's commits, cherry-picked
// by the Philippines), Sri Lanka changes something else.
func forks(t *testing.T) map[string]node.Fork {
	t.Helper()
	up := t.TempDir()
	git(t, up, "init", "-q", "-b", "main")
	write(t, up, "src/Validator.java", validator(0, 5))
	write(t, up, "README", "upstream\n")
	git(t, up, "add", ".")
	git(t, up, "commit", "-qm", "upstream")
	out := map[string]node.Fork{}
	for _, cc := range []string{"ma", "ph", "lk"} {
		dir := filepath.Join(t.TempDir(), cc)
		git(t, up, "clone", "-q", up, dir)
		git(t, dir, "checkout", "-qb", "release-"+cc)
		out[cc] = node.Fork{Project: project, Upstream: "file://" + up, UpstreamRef: "origin/main", Dir: dir, Branch: "release-" + cc}
	}
	ma, ph, lk := out["ma"].Dir, out["ph"].Dir, out["lk"].Dir
	write(t, ma, "src/Validator.java", validator(0, 60))
	git(t, ma, "commit", "-qam", "Validate sixty fields")
	write(t, ma, "src/Limits.java", "class Limits {\n  static final int MAX_DOCS = 50;\n  static final int MAX_BYTES = 1 << 20;\n}\n")
	git(t, ma, "add", ".")
	git(t, ma, "commit", "-qm", "Limit documents")
	git(t, ph, "remote", "add", "ma", ma)
	git(t, ph, "fetch", "-q", "ma")
	git(t, ph, "cherry-pick", "ma/release-ma~1", "ma/release-ma")
	write(t, lk, "docs/guide.md", strings.Repeat("Sri Lanka's own operator guide, one line.\n", 40))
	git(t, lk, "add", ".")
	git(t, lk, "commit", "-qm", "Operator guide")
	return out
}

type world struct {
	b  *bus.Bus
	cs map[string]bustest.Country
	v  *sign.Verifier
}

func newWorld(t *testing.T) *world {
	s := bustest.Server(t, "")
	_, js := bustest.Connect(t, s)
	cs, tl := bustest.Countries(t, "ma", "ph", "lk", "hub")
	v, err := sign.NewVerifier(tl)
	if err != nil {
		t.Fatal(err)
	}
	return &world{b: bustest.Open(t, js), cs: cs, v: v}
}

func (w *world) start(t *testing.T) *service.Service {
	t.Helper()
	s, err := service.Start(context.Background(), service.Config{Bus: w.b, Verifier: w.v, Signer: w.cs["hub"].Signer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

func (w *world) publish(t *testing.T, cc string, p events.Payload) {
	t.Helper()
	e, err := events.New(events.Source{Country: cc, Service: "node"}, project, p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.b.Publisher(w.cs[cc].Signer).Publish(context.Background(), e); err != nil {
		t.Fatal(err)
	}
}

// findings are the fork duplicates the dedup service published.
func (w *world) findings(t *testing.T) []events.ForkDuplicateDetected {
	t.Helper()
	var out []events.ForkDuplicateDetected
	for _, m := range bustest.Messages(t, w.b.JetStream(), bus.Stream) {
		e, err := bus.Decode(m.Header, m.Data)
		if err != nil || e.Source() != "urn:dpihub:hub:dedup" {
			continue
		}
		if p, err := events.Decode(e); err == nil {
			if d, ok := p.(*events.ForkDuplicateDetected); ok {
				out = append(out, *d)
			}
		}
	}
	return out
}

func TestForksAcrossThreeCountriesAreFoundFromRealGitAndTheReplayedIndexEqualsTheLiveOne(t *testing.T) {
	w := newWorld(t)
	s := w.start(t)
	fs0 := forks(t)
	forkDirs := map[string]string{}
	for cc, f := range fs0 {
		forkDirs[cc] = f.Dir
	}
	for cc, f := range fs0 {
		snap, err := gitfork.Snapshot(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		w.publish(t, cc, snap)
	}
	bustest.Eventually(t, 10*time.Second, "a fork duplicate found", func() bool { return len(w.findings(t)) >= 1 })
	fs := w.findings(t)
	if len(fs) != 1 {
		t.Fatalf("findings %+v, want Morocco ~ the Philippines only", fs)
	}
	d := fs[0]
	if d.A.Country != "ma" || d.B.Country != "ph" || d.Similarity < 0.9 || d.SharedPatchIDs != 2 || d.Jaccard != 1 ||
		len(d.Files) != 2 || !strings.Contains(d.Suggestion, "upstream") {
		t.Fatalf("finding %+v", d)
	}
	r := s.Report(project)
	if len(r.Clusters) != 1 || len(r.Candidates) != 2 || r.Candidates[0].Countries != 2 {
		t.Fatalf("report %+v", r)
	}
	// Each candidate names the commit of each country that carries it.
	for _, c := range r.Candidates {
		for _, f := range []string{"ma/release-ma", "ph/release-ph"} {
			if commit := c.Commits[f]; len(commit) != 40 || git(t, forkDirs[f[:2]], "cat-file", "-t", commit) != "commit" {
				t.Fatalf("candidate %s: commits %v, want one of %s's", c.PatchID, c.Commits, f)
			}
		}
	}
	// Once the consumer has handled everything, its finding included, the
	// live state is final; a new service rebuilds it from the stream.
	bustest.Eventually(t, 10*time.Second, "the consumer caught up", func() bool {
		c, err := w.b.JetStream().Consumer(context.Background(), bus.Stream, "dedup")
		if err != nil {
			return false
		}
		info, err := c.Info(context.Background())
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && s.Report(project).Forks == 3
	})
	live := s.Digest()
	s.Close(context.Background())
	s2 := w.start(t)
	if got := s2.Digest(); got != live {
		t.Fatalf("the replayed index %s differs from the live one %s", got, live)
	}
	if r2 := s2.Report(project); len(r2.Clusters) != 1 || len(r2.Candidates) != 2 {
		t.Fatalf("the replayed report %+v", r2)
	}
}

func TestABadFingerprintIsDeadLetteredWithItsReason(t *testing.T) {
	w := newWorld(t)
	w.start(t)
	snap, _ := events.Sample(events.TypeForkSnapshot)
	bad := snap.(events.ForkSnapshot)
	bad.MinHashVersion = 99
	w.publish(t, "ma", bad)
	short := snap.(events.ForkSnapshot)
	short.MinHashVersion = 1
	short.MinHash = short.MinHash[:8]
	w.publish(t, "ph", short)
	var details []string
	for _, dl := range bustest.DeadLettersOf(t, w.b.JetStream(), "dedup", 2, 10*time.Second) {
		if dl.Reason != bus.ReasonHandlerRejected {
			t.Errorf("reason %s", dl.Reason)
		}
		details = append(details, dl.Detail)
	}
	if !strings.Contains(details[0], "minhash version 99") || !strings.Contains(details[1], "8") {
		t.Fatalf("details %q", details)
	}
}
