package dedup_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/minhash"
	"github.com/dpihub/dpihub/services/dedup"
)

const project = "mosip-id-repository"

func node(cc string) events.Source { return events.Source{Country: cc, Service: "node"} }

var dedupSvc = events.Source{Country: events.HubCountry, Service: events.ServiceDedup}

// lines makes n changed lines numbered from start.
func lines(start, n int) []string {
	out := make([]string, 0, n)
	for i := start; i < start+n; i++ {
		out = append(out, fmt.Sprintf("+\tvalidate(request.field%d); // check %d", i, i))
	}
	return out
}

func snapshot(branch string, changed []string, patchIDs ...string) events.ForkSnapshot {
	return events.ForkSnapshot{Branch: branch, Head: strings.Repeat("a", 40), MergeBase: strings.Repeat("b", 40),
		PatchIDs: patchIDs, MinHash: minhash.Sign(minhash.LineShingles(changed)).Values(), MinHashVersion: minhash.Version,
		Files: []string{"src/Validator.java"}, TakenAt: time.Unix(0, 0)}
}

func in(src events.Source, p events.Payload, id string) dedup.Input {
	return dedup.Input{Source: src, Project: project, EventID: id, Stored: time.Unix(0, 0), Payload: p}
}

func TestForksAcrossCountriesThatCarryTheSameChangesAreFoundOnce(t *testing.T) {
	d := dedup.New(0)
	shared := lines(0, 200)
	pid := strings.Repeat("1", 40)
	if f, err := d.Apply(in(node("ma"), snapshot("ma/release-1.2", append(shared, lines(1000, 10)...), pid), "s1")); err != nil || len(f) != 0 {
		t.Fatalf("the first fork: %v %v", f, err)
	}
	// Another branch of Morocco's: the same country, not a duplicate across nations.
	if f, _ := d.Apply(in(node("ma"), snapshot("ma/hotfix", shared, pid), "s2")); len(f) != 0 {
		t.Fatalf("two forks of one country reported: %+v", f)
	}
	if f, _ := d.Apply(in(node("lk"), snapshot("lk-prod", lines(5000, 150)), "s3")); len(f) != 0 {
		t.Fatalf("an unrelated fork reported: %+v", f)
	}
	found, err := d.Apply(in(node("ph"), snapshot("ph-main", append(shared, lines(2000, 10)...), pid), "s4"))
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 2 {
		t.Fatalf("found %d, want Philippines ~ both of Morocco's forks: %+v", len(found), found)
	}
	dup := found[0].Payload.(events.ForkDuplicateDetected)
	if dup.Similarity < 0.8 || dup.SharedPatchIDs != 1 || dup.Jaccard != 1 || len(dup.Files) != 1 || !strings.Contains(dup.Suggestion, "upstream") {
		t.Fatalf("finding %+v", dup)
	}
	for _, f := range found {
		d.MarkReported(f.ID)
	}
	// The same snapshot again finds nothing new.
	if again, _ := d.Apply(in(node("ph"), snapshot("ph-main", append(shared, lines(2000, 10)...), pid), "s5")); len(again) != 0 {
		t.Fatalf("reported twice: %+v", again)
	}
	r := d.Report(project)
	if len(r.Clusters) != 1 || len(r.Clusters[0]) != 3 || len(r.Candidates) != 1 || r.Candidates[0].Countries != 2 || r.Candidates[0].PatchID != pid {
		t.Fatalf("report %+v", r)
	}
}

func TestABadFingerprintIsRefusedWithItsReason(t *testing.T) {
	d := dedup.New(0)
	old := snapshot("ma/x", lines(0, 10))
	old.MinHashVersion = 2
	short := snapshot("ma/y", lines(0, 10))
	short.MinHash = short.MinHash[:64]
	noVersion := snapshot("ma/z", lines(0, 10))
	noVersion.MinHashVersion = 0
	for name, s := range map[string]events.ForkSnapshot{"version 2": old, "64 values": short, "values without a version": noVersion} {
		_, err := d.Apply(in(node("ma"), s, "x"))
		if !errors.Is(err, dedup.ErrBadFingerprint) || !errors.Is(err, events.ErrBadInput) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if r := d.Report(project); r.Forks != 0 {
		t.Fatalf("a refused fingerprint was kept: %+v", r)
	}
	// A fork with no changes of its own has no fingerprint: kept, like nothing.
	empty := snapshot("ma/fresh", nil)
	empty.MinHash, empty.MinHashVersion = nil, 0
	if f, err := d.Apply(in(node("ma"), empty, "e")); err != nil || len(f) != 0 {
		t.Fatalf("a fork without changes: %v %v", f, err)
	}
}

func TestFixesWithTheSamePatchIDOrNearlyTheSameDiffAreDuplicates(t *testing.T) {
	d := dedup.New(0)
	diff := func(n int) string {
		var b strings.Builder
		b.WriteString("diff --git a/x.java b/x.java\n--- a/x.java\n+++ b/x.java\n@@ -1,3 +1,40 @@\n")
		for _, l := range lines(0, n) {
			b.WriteString(l + "\n")
		}
		return b.String()
	}
	fix := func(id, pid, d string) events.FixPublished {
		return events.FixPublished{FixID: id, Title: "t", Author: events.Person{Name: "x"}, Commit: strings.Repeat("c", 40),
			UpstreamBase: strings.Repeat("b", 40), PatchID: pid, Files: []string{"x.java"}, Diff: d}
	}
	d.Apply(in(node("ma"), fix("ma-fix-1", strings.Repeat("1", 40), diff(40)), "f1"))
	exact, _ := d.Apply(in(node("ph"), fix("ph-fix-9", strings.Repeat("1", 40), ""), "f2"))
	if len(exact) != 1 || exact[0].Payload.(events.FixDuplicateDetected).Jaccard != 1 {
		t.Fatalf("the same patch-id: %+v", exact)
	}
	near, _ := d.Apply(in(node("lk"), fix("lk-fix-3", strings.Repeat("2", 40), diff(38)), "f3"))
	if len(near) != 1 {
		t.Fatalf("a near-duplicate diff: %+v", near)
	}
	if p := near[0].Payload.(events.FixDuplicateDetected); p.A.Country != "lk" || p.B.Country != "ma" || p.Jaccard < 0.8 || p.Similarity < 0.7 {
		t.Fatalf("near-duplicate %+v", p)
	}
}

func TestNearlyTheSameProposalsFromTwoCountriesAreDuplicates(t *testing.T) {
	d := dedup.New(0)
	body := "Enrolment centres with intermittent links need local one to one biometric matching, with templates encrypted at rest and wiped after each sync, so that rural residents can enrol without waiting for the network."
	d.Apply(in(node("lk"), events.ProposalSubmitted{ProposalID: "lk-p-1", Title: "Offline biometric authentication", Body: body}, "p1"))
	got, _ := d.Apply(in(node("ke"), events.ProposalSubmitted{ProposalID: "ke-p-7", Title: "Offline biometric authentication for rural centres", Body: body + " Kenya needs it too."}, "p2"))
	if len(got) != 1 || got[0].Payload.(events.ProposalDuplicateDetected).Similarity < 0.7 {
		t.Fatalf("%+v", got)
	}
	other, _ := d.Apply(in(node("ph"), events.ProposalSubmitted{ProposalID: "ph-p-2", Title: "Consent receipts", Body: "Every authentication transaction should produce a signed consent receipt for the resident."}, "p3"))
	if len(other) != 0 {
		t.Fatalf("an unrelated proposal: %+v", other)
	}
}

func TestItsOwnFindingsComingBackMarkThemReportedAndTheSameStreamGivesTheSameState(t *testing.T) {
	shared := lines(0, 100)
	feed := func() (*dedup.Detector, []dedup.Finding) {
		d := dedup.New(0)
		var all []dedup.Finding
		for i, s := range []dedup.Input{
			in(node("ma"), snapshot("ma-a", shared), "1"),
			in(node("ph"), snapshot("ph-a", shared), "2"),
		} {
			f, err := d.Apply(s)
			if err != nil {
				t.Fatal(i, err)
			}
			all = append(all, f...)
		}
		return d, all
	}
	live, found := feed()
	if len(found) != 1 {
		t.Fatalf("%+v", found)
	}
	back := dedup.Input{Source: dedupSvc, Project: project, EventID: found[0].ID, Payload: found[0].Payload}
	live.Apply(back)
	replayed, again := feed()
	replayed.Apply(back)
	if len(again) != 1 || again[0].ID != found[0].ID {
		t.Fatal("a finding's id is not stable")
	}
	if live.Digest() != replayed.Digest() {
		t.Fatal("the same stream gives two states")
	}
	if f, _ := replayed.Apply(in(node("ph"), snapshot("ph-a", shared), "3")); len(f) != 0 {
		t.Fatalf("reported again after it came back: %+v", f)
	}
}
