package node_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/services/node"
)

const (
	project = "mosip-id-repository"
	other   = "mojaloop-central-ledger"
)

func TestNewRefusesANodeItCannotRun(t *testing.T) {
	s := newSite(t, "ph")
	ok := node.Config{Country: "ph", Store: s.store, Publisher: s.pub, Diffs: s.diffs, Git: s.git, Assessor: s.judge}
	for name, mutate := range map[string]func(*node.Config){
		"the hub as its country":  func(c *node.Config) { c.Country = events.HubCountry },
		"a country in upper case": func(c *node.Config) { c.Country = "PH" },
		"no store":                func(c *node.Config) { c.Store = nil },
		"no publisher":            func(c *node.Config) { c.Publisher = nil },
		"no diff store":           func(c *node.Config) { c.Diffs = nil },
		"no git":                  func(c *node.Config) { c.Git = nil },
		"no assessor":             func(c *node.Config) { c.Assessor = nil },
	} {
		t.Run("refuses "+name, func(t *testing.T) {
			c := ok
			mutate(&c)
			if n, err := node.New(c); err == nil {
				t.Fatalf("New = %v, want an error", n)
			}
		})
	}
}

func TestReceiveFixPassesOverWhatIsNotForThisNode(t *testing.T) {
	for _, tt := range []struct {
		name, from, project string
	}{
		{"a fix of the node's own country", "ph", project},
		{"a fix of a project the node does not fork", "ma", other},
	} {
		t.Run("passes over "+tt.name, func(t *testing.T) {
			s := newSite(t, "ph")
			s.fork(t, project, "ph-main")
			fp := aFix(tt.from, "1", aDiff("1"))
			if err := s.receive(t, tt.from, tt.project, fp); err != nil {
				t.Fatal(err)
			}
			if got := s.pub.take(); len(got) != 0 {
				t.Errorf("published %v", types(got))
			}
			if got := s.judge.assessed(); len(got) != 0 {
				t.Errorf("assessed against %v", got)
			}
			if fixes, _ := s.store.Fixes(context.Background()); len(fixes) != 0 || s.tally.received != 0 {
				t.Errorf("kept %d fixes, counted %d received", len(fixes), s.tally.received)
			}
		})
	}
}

func TestReceiveFixRefusesAFixThatCanNeverBeAssessed(t *testing.T) {
	for _, tt := range []struct {
		name string
		// make returns the fix as received; it may put objects in diffs.
		make  func(s *site) events.FixPublished
		judge error
		say   string // in the error
	}{
		{name: "a diff that is not a patch", say: "not a patch", make: func(*site) events.FixPublished {
			fp := aFix("ma", "1", aDiff("1"))
			fp.Diff = "this is not a diff\n"
			return fp
		}},
		{name: "a diff that holds no change git would hash", say: "no change git would hash", make: func(*site) events.FixPublished {
			fp := aFix("ma", "1", aDiff("1"))
			fp.Diff = "diff --git a/x b/x\nnew file mode 100644\n"
			return fp
		}},
		{name: "a diff that does not hash to the event's patch-id", say: "hashes to patch-id " + patchIDOf(aDiff("1")), make: func(*site) events.FixPublished {
			fp := aFix("ma", "1", aDiff("1"))
			fp.PatchID = hex40("another patch")
			return fp
		}},
		{name: "a stored copy whose SHA-256 is not the reference's", say: "the reference says", make: func(s *site) events.FixPublished {
			fp := aFix("ma", "1", aDiff("1"))
			ref, _ := s.diffs.Put(context.Background(), []byte(fp.Diff))
			s.diffs.objects[ref.Object] = []byte(strings.ToUpper(fp.Diff)) // same size, other bytes
			fp.Diff, fp.DiffRef = "", ref
			return fp
		}},
		{name: "a stored copy whose size is not the reference's", say: "the reference says", make: func(s *site) events.FixPublished {
			fp := aFix("ma", "1", aDiff("1"))
			ref, _ := s.diffs.Put(context.Background(), []byte(fp.Diff))
			ref.Size++
			fp.Diff, fp.DiffRef = "", ref
			return fp
		}},
		{name: "a reference to a diff above the size limit", say: "exceeds", make: func(s *site) events.FixPublished {
			fp := aFix("ma", "1", aDiff("1"))
			ref, _ := s.diffs.Put(context.Background(), []byte(fp.Diff))
			ref.Size = node.MaxDiffSize + 1
			fp.Diff, fp.DiffRef = "", ref
			return fp
		}},
		{name: "a diff the assessor finds is not a patch", say: "hunk header lies", judge: fmt.Errorf("%w: hunk header lies", node.ErrMalformedFix),
			make: func(*site) events.FixPublished { return aFix("ma", "1", aDiff("1")) }},
	} {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			s := newSite(t, "ph")
			s.fork(t, project, "ph-main")
			if tt.judge != nil {
				s.judge.errs["ph-main"] = tt.judge
			}
			fp := tt.make(s)
			err := s.receive(t, "ma", project, fp)
			if !errors.Is(err, node.ErrMalformedFix) || !strings.Contains(err.Error(), tt.say) || !strings.Contains(err.Error(), fp.FixID) {
				t.Fatalf("err = %v, want ErrMalformedFix naming %s and saying %q", err, fp.FixID, tt.say)
			}
			if got := s.pub.take(); len(got) != 0 {
				t.Errorf("published %v", types(got))
			}
			if _, err := s.store.Fix(context.Background(), node.FixKey("ma", fp.FixID)); !errors.Is(err, node.ErrNotFound) {
				t.Errorf("kept the fix (%v)", err)
			}
		})
	}
	t.Run("does not fetch a diff above the size limit", func(t *testing.T) {
		s := newSite(t, "ph")
		s.fork(t, project, "ph-main")
		fp := aFix("ma", "1", "")
		fp.Diff, fp.DiffRef = "", &events.DiffRef{Bucket: testBucket, Object: hex40("x"), SHA256: strings.Repeat("0", 64), Size: node.MaxDiffSize + 1}
		if err := s.receive(t, "ma", project, fp); !errors.Is(err, node.ErrMalformedFix) || s.diffs.gets != 0 {
			t.Fatalf("err = %v after %d fetches, want ErrMalformedFix before any", err, s.diffs.gets)
		}
	})
	t.Run("retries a fix whose stored copy cannot be fetched", func(t *testing.T) {
		s := newSite(t, "ph")
		s.fork(t, project, "ph-main")
		fp := aFix("ma", "1", aDiff("1"))
		fp.Diff, fp.DiffRef = "", &events.DiffRef{Bucket: testBucket, Object: "missing", SHA256: strings.Repeat("0", 64), Size: 10}
		if err := s.receive(t, "ma", project, fp); err == nil || errors.Is(err, node.ErrMalformedFix) {
			t.Fatalf("err = %v, want an error worth a retry", err)
		}
	})
}

func TestReceiveFixPublishesAVerdictPerForkUnderItsDerivedID(t *testing.T) {
	s := newSite(t, "ph")
	s.fork(t, project, "ph-main")
	s.fork(t, project, "ph-lts")
	s.fork(t, other, "ph-main-ledger")
	clean := false
	s.judge.say("ph-lts", "", node.AssessResult{Verdict: events.VerdictConflicts, ThreeWayClean: &clean,
		Conflicts: []events.Conflict{{File: "src/app.go", Hunk: 1, Reason: "context differs"}}})
	fp := aFix("ma", "1", aDiff("1"))
	key := node.FixKey("ma", fp.FixID)

	if err := s.receive(t, "ma", project, fp); err != nil {
		t.Fatal(err)
	}
	sentNow := s.pub.take()
	got, ids := ofType[events.FixAssessed](sentNow)
	if len(sentNow) != 2 || len(got) != 2 {
		t.Fatalf("published %v, want one fix.assessed per fork of %s", types(sentNow), project)
	}
	want := map[string]string{"ph-main": events.VerdictApplies, "ph-lts": events.VerdictConflicts}
	for i, fa := range got {
		head := hex40("/srv/forks/" + project + "/" + fa.Branch)
		if fa.Verdict != want[fa.Branch] || fa.Head != head || fa.FixID != fp.FixID || fa.PatchID != fp.PatchID {
			t.Errorf("fix.assessed %+v, want %s at %s", fa, want[fa.Branch], head)
		}
		if wantID := derived("ph", "assessed", key, fa.Branch, head, fa.Verdict, fp.PatchID); ids[i] != wantID {
			t.Errorf("fix.assessed of %s has id %s, want %s", fa.Branch, ids[i], wantID)
		}
		if sentNow[i].project != project {
			t.Errorf("fix.assessed about %s, want %s", sentNow[i].project, project)
		}
	}
	rf := s.kept(t, key)
	if rf.Country != "ma" || rf.Project != project || rf.EventID != "event-"+fp.FixID || len(rf.Assessments) != 2 || rf.Fix.Diff != fp.Diff {
		t.Errorf("kept %+v", rf)
	}
	if a, _ := rf.Assessment("ph-lts"); len(a.Conflicts) != 1 || a.ThreeWayClean == nil || *a.ThreeWayClean {
		t.Errorf("ph-lts assessment %+v, want its conflict and three_way_clean false", a)
	}
	if s.tally.received != 1 || s.tally.assessed[events.VerdictApplies] != 1 || s.tally.assessed[events.VerdictConflicts] != 1 {
		t.Errorf("counted %d received, assessed %v", s.tally.received, s.tally.assessed)
	}

	t.Run("a redelivery publishes the same facts under the same ids and counts no new fix", func(t *testing.T) {
		if err := s.receive(t, "ma", project, fp); err != nil {
			t.Fatal(err)
		}
		_, again := ofType[events.FixAssessed](s.pub.take())
		if !slices.Equal(again, ids) {
			t.Errorf("ids %v, first time %v", again, ids)
		}
		if s.tally.received != 1 {
			t.Errorf("counted %d received", s.tally.received)
		}
	})
}

func TestFixAdoptedIsPublishedOnceWhenACommitOfTheForkCarriesTheFix(t *testing.T) {
	carrier := hex40("the fork's commit")
	for _, tt := range []struct {
		how     string
		adopted bool
	}{
		{events.HowPatchID, true},
		{events.HowTrailer, true},
		{events.HowContent, false},
	} {
		t.Run(fmt.Sprintf("present by %s: adopted %v", tt.how, tt.adopted), func(t *testing.T) {
			s := newSite(t, "ph")
			f := s.fork(t, project, "ph-main")
			res := node.AssessResult{Verdict: events.VerdictPresent, How: tt.how}
			if tt.how != events.HowContent {
				res.PresentAs = carrier
			}
			s.judge.say("ph-main", "", res)
			fp := aFix("ma", "1", aDiff("1"))
			key := node.FixKey("ma", fp.FixID)
			if err := s.receive(t, "ma", project, fp); err != nil {
				t.Fatal(err)
			}
			adopted, ids := ofType[events.FixAdopted](s.pub.take())
			if !tt.adopted {
				if len(adopted) != 0 {
					t.Fatalf("fix.adopted %+v for a change found by content", adopted)
				}
				return
			}
			if len(adopted) != 1 || adopted[0] != (events.FixAdopted{FixID: fp.FixID, PatchID: fp.PatchID, Commit: carrier, Branch: "ph-main"}) {
				t.Fatalf("fix.adopted %+v", adopted)
			}
			if want := derived("ph", "adopted", key, "ph-main", carrier); ids[0] != want {
				t.Errorf("fix.adopted id %s, want %s", ids[0], want)
			}
			if a, _ := s.assessment(t, key, "ph-main"); !a.Adopted {
				t.Errorf("assessment %+v not marked adopted", a)
			}

			if err := s.receive(t, "ma", project, fp); err != nil {
				t.Fatal(err)
			}
			if again, _ := ofType[events.FixAdopted](s.pub.take()); len(again) != 0 {
				t.Errorf("a redelivery published fix.adopted again: %+v", again)
			}
			s.move(f, "later")
			if err := s.n.Refresh(context.Background(), ""); err != nil {
				t.Fatal(err)
			}
			if again, _ := ofType[events.FixAdopted](s.pub.take()); len(again) != 0 {
				t.Errorf("a refresh published fix.adopted again: %+v", again)
			}
		})
	}
	t.Run("a fix that applied is adopted once the moved fork carries it", func(t *testing.T) {
		s := newSite(t, "ph")
		f := s.fork(t, project, "ph-main")
		fp := aFix("ma", "1", aDiff("1"))
		if err := s.receive(t, "ma", project, fp); err != nil {
			t.Fatal(err)
		}
		if adopted, _ := ofType[events.FixAdopted](s.pub.take()); len(adopted) != 0 {
			t.Fatalf("adopted before the fork took it: %+v", adopted)
		}
		s.move(f, "took the fix")
		s.judge.say("ph-main", "", node.AssessResult{Verdict: events.VerdictPresent, How: events.HowTrailer, PresentAs: carrier})
		for range 2 {
			if err := s.n.Refresh(context.Background(), project); err != nil {
				t.Fatal(err)
			}
		}
		if adopted, _ := ofType[events.FixAdopted](s.pub.take()); len(adopted) != 1 || adopted[0].Commit != carrier {
			t.Errorf("fix.adopted %+v, want one naming %s", adopted, carrier)
		}
	})
}

func TestAForkThatCannotBeReadIsSkippedWithoutAnError(t *testing.T) {
	s := newSite(t, "ph")
	s.fork(t, project, "ph-main")
	s.fork(t, project, "ph-gone")
	s.judge.errs["ph-gone"] = fmt.Errorf("%w: not a git repository", node.ErrForkUnreadable)
	fp := aFix("ma", "1", aDiff("1"))
	if err := s.receive(t, "ma", project, fp); err != nil {
		t.Fatalf("ReceiveFix: %v, want nil", err)
	}
	got, _ := ofType[events.FixAssessed](s.pub.take())
	if len(got) != 1 || got[0].Branch != "ph-main" {
		t.Errorf("fix.assessed %+v, want ph-main's only", got)
	}
	rf := s.kept(t, node.FixKey("ma", fp.FixID))
	if _, ok := rf.Assessment("ph-gone"); ok || len(rf.Assessments) != 1 {
		t.Errorf("assessments %+v, want ph-main's only", rf.Assessments)
	}
}

func TestAFailureToPublishIsAnErrorWorthARetry(t *testing.T) {
	s := newSite(t, "ph")
	s.fork(t, project, "ph-main")
	// A how outside the vocabulary breaks the contract: the publisher refuses.
	s.judge.say("ph-main", "", node.AssessResult{Verdict: events.VerdictPresent, How: "telepathy"})
	fp := aFix("ma", "1", aDiff("1"))
	err := s.receive(t, "ma", project, fp)
	if err == nil || errors.Is(err, node.ErrMalformedFix) {
		t.Fatalf("err = %v, want an error worth a retry", err)
	}
	if _, err := s.store.Fix(context.Background(), node.FixKey("ma", fp.FixID)); !errors.Is(err, node.ErrNotFound) {
		t.Errorf("kept a fix whose verdict was not published (%v)", err)
	}
}

func TestRefreshRedoesOpenAssessmentsOfAForkThatMoved(t *testing.T) {
	s := newSite(t, "ph")
	f := s.fork(t, project, "ph-main")
	open, present := aFix("ma", "open", aDiff("open")), aFix("lk", "present", aDiff("present"))
	s.judge.say("ph-main", present.Diff, node.AssessResult{Verdict: events.VerdictPresent, How: events.HowPatchID, PresentAs: hex40("carrier")})
	for from, fp := range map[string]events.FixPublished{"ma": open, "lk": present} {
		if err := s.receive(t, from, project, fp); err != nil {
			t.Fatal(err)
		}
	}
	s.pub.take()
	s.judge.assessed()
	snapshots := s.git.snapshots

	t.Run("a fork that did not move publishes nothing and assesses nothing", func(t *testing.T) {
		if err := s.n.Refresh(context.Background(), ""); err != nil {
			t.Fatal(err)
		}
		if got := s.pub.take(); len(got) != 0 {
			t.Errorf("published %v", types(got))
		}
		if got := s.judge.assessed(); len(got) != 0 {
			t.Errorf("assessed against %v", got)
		}
		if s.git.snapshots != snapshots {
			t.Errorf("took %d snapshots of an unmoved fork, want only its head read", s.git.snapshots-snapshots)
		}
	})
	t.Run("a fork that moved publishes its snapshot and redoes the open assessment only", func(t *testing.T) {
		head := s.move(f, "moved")
		if err := s.n.Refresh(context.Background(), project); err != nil {
			t.Fatal(err)
		}
		sentNow := s.pub.take()
		snaps, snapIDs := ofType[events.ForkSnapshot](sentNow)
		if len(snaps) != 1 || snaps[0].Head != head {
			t.Fatalf("fork.snapshot %+v, want one at %s", snaps, head)
		}
		if want := derived("ph", "snapshot", f.Key(), head, snaps[0].MergeBase); snapIDs[0] != want {
			t.Errorf("fork.snapshot id %s, want %s", snapIDs[0], want)
		}
		redone, ids := ofType[events.FixAssessed](sentNow)
		if len(redone) != 1 || redone[0].FixID != open.FixID || redone[0].Head != head {
			t.Fatalf("fix.assessed %+v, want %s again at %s", redone, open.FixID, head)
		}
		if want := derived("ph", "assessed", node.FixKey("ma", open.FixID), "ph-main", head, events.VerdictApplies, open.PatchID); ids[0] != want {
			t.Errorf("fix.assessed id %s, want %s", ids[0], want)
		}
		if a, _ := s.assessment(t, node.FixKey("ma", open.FixID), "ph-main"); a.Head != head {
			t.Errorf("kept assessment at %s, want %s", a.Head, head)
		}
		if got := s.judge.assessed(); len(got) != 1 {
			t.Errorf("assessed %d times, want once (the present fix stays as it is)", len(got))
		}
	})
	t.Run("a fork that cannot be read keeps the error and is announced again once it can", func(t *testing.T) {
		s.git.broken[f.Dir] = node.Invalid("not a git repository")
		if err := s.n.Refresh(context.Background(), ""); err == nil {
			t.Fatal("Refresh of a broken fork: no error")
		}
		forks, _ := s.store.Forks(context.Background())
		if len(forks) != 1 || !strings.Contains(forks[0].Error, "not a git repository") {
			t.Errorf("forks %+v, want the error kept", forks)
		}
		if got := s.pub.take(); len(got) != 0 {
			t.Errorf("published %v", types(got))
		}
		delete(s.git.broken, f.Dir)
		if err := s.n.Refresh(context.Background(), ""); err != nil {
			t.Fatal(err)
		}
		if snaps, _ := ofType[events.ForkSnapshot](s.pub.take()); len(snaps) != 1 {
			t.Errorf("fork.snapshot %+v, want it announced again", snaps)
		}
	})
}

func TestRegisterForkAnnouncesAForkOnlyWhenItIsNewOrChanged(t *testing.T) {
	s := newSite(t, "ph")
	dir := "/srv/forks/" + project
	s.git.heads[dir] = hex40("first head")
	f := node.Fork{Project: project, Upstream: "https://github.com/mosip/id-repository", Dir: dir, Branch: "ph-main", Platform: "MOSIP"}
	register := func(t *testing.T, f node.Fork) []sent {
		t.Helper()
		if _, err := s.n.RegisterFork(context.Background(), f); err != nil {
			t.Fatal(err)
		}
		return s.pub.take()
	}
	registeredID := func(f node.Fork) string {
		return derived("ph", "registered", f.Project, f.Branch, "file://"+f.Dir, f.Upstream, f.Platform)
	}

	t.Run("a new fork: fork.registered and fork.snapshot", func(t *testing.T) {
		got := register(t, f)
		regs, ids := ofType[events.ForkRegistered](got)
		snaps, _ := ofType[events.ForkSnapshot](got)
		if len(got) != 2 || len(regs) != 1 || len(snaps) != 1 {
			t.Fatalf("published %v", types(got))
		}
		if regs[0] != (events.ForkRegistered{Upstream: f.Upstream, Fork: "file://" + dir, Branch: "ph-main", Platform: "MOSIP"}) {
			t.Errorf("fork.registered %+v", regs[0])
		}
		if ids[0] != registeredID(f) {
			t.Errorf("fork.registered id %s, want %s", ids[0], registeredID(f))
		}
	})
	t.Run("the same fork again: nothing", func(t *testing.T) {
		if got := register(t, f); len(got) != 0 {
			t.Errorf("published %v", types(got))
		}
	})
	t.Run("the same fork at a new head: fork.snapshot only", func(t *testing.T) {
		s.git.heads[dir] = hex40("second head")
		got := register(t, f)
		if snaps, _ := ofType[events.ForkSnapshot](got); len(got) != 1 || len(snaps) != 1 {
			t.Errorf("published %v", types(got))
		}
	})
	t.Run("a changed fork at the same head: fork.registered only", func(t *testing.T) {
		f.Platform = "MOSIP-1.2"
		got := register(t, f)
		regs, ids := ofType[events.ForkRegistered](got)
		if len(got) != 1 || len(regs) != 1 || ids[0] != registeredID(f) {
			t.Errorf("published %v (ids %v)", types(got), ids)
		}
		forks, err := s.n.Forks(context.Background())
		if err != nil || len(forks) != 1 || forks[0].Platform != "MOSIP-1.2" || forks[0].Snapshot == nil {
			t.Fatalf("the node keeps %+v (%v), want the changed fork with its snapshot", forks, err)
		}
	})
	t.Run("the changed fork again: nothing, it was kept", func(t *testing.T) {
		if got := register(t, f); len(got) != 0 {
			t.Errorf("published %v", types(got))
		}
	})
	t.Run("a fork it cannot read: an invalid-input error and nothing published", func(t *testing.T) {
		bad := f
		bad.Dir = "/srv/nowhere"
		if _, err := s.n.RegisterFork(context.Background(), bad); !errors.Is(err, node.ErrInvalid) {
			t.Fatalf("err = %v, want ErrInvalid", err)
		}
		if got := s.pub.take(); len(got) != 0 {
			t.Errorf("published %v", types(got))
		}
	})
	t.Run("a fork registered after a fix arrived assesses the fix", func(t *testing.T) {
		s.fork(t, other, "ph-ledger")
		fp := aFix("ma", "ledger", aDiff("ledger"))
		if err := s.receive(t, "ma", other, fp); err != nil {
			t.Fatal(err)
		}
		s.pub.take()
		s.fork(t, other, "ph-ledger-lts")
		if a, ok := s.assessment(t, node.FixKey("ma", fp.FixID), "ph-ledger-lts"); !ok || a.Verdict != events.VerdictApplies {
			t.Errorf("the new fork's assessment %+v, %v", a, ok)
		}
	})
}

func TestPublishFixNamesTheFixAfterItsCommitAndMovesALargeDiffToTheStore(t *testing.T) {
	for _, tt := range []struct {
		name   string
		size   int
		inline bool
	}{
		{"a diff at the inline limit travels inline", node.InlineLimit, true},
		{"a diff above the inline limit goes to the diff store", node.InlineLimit + 1, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newSite(t, "ph")
			f := node.Fork{Project: project, Upstream: "https://example.org/up", Dir: "/srv/forks/mine", Branch: "ph-main", UpstreamRef: "upstream/main"}
			s.git.heads[f.Dir] = hex40("mine")
			if _, err := s.n.RegisterFork(context.Background(), f); err != nil {
				t.Fatal(err)
			}
			s.pub.take()
			diff := aDiff("x")
			diff += strings.Repeat("+", tt.size-len(diff)-1) + "\n"
			fp := aFix("ph", "mine", diff)
			fp.FixID = ""
			s.git.commits["HEAD"] = fp

			got, err := s.n.PublishFix(context.Background(), node.PublishRequest{Project: project, Commit: "HEAD"})
			if err != nil {
				t.Fatal(err)
			}
			if want := "ph-" + fp.Commit[:12]; got.FixID != want {
				t.Errorf("fix id %q, want %q", got.FixID, want)
			}
			if want := []string{f.Dir + " upstream/main HEAD"}; !slices.Equal(s.git.fixReads, want) {
				t.Errorf("read %q, want the fork's repository against its upstream ref: %q", s.git.fixReads, want)
			}
			switch {
			case tt.inline && (got.DiffRef != nil || got.Diff != diff):
				t.Errorf("diff ref %+v, inline %d bytes; want all %d inline", got.DiffRef, len(got.Diff), len(diff))
			case !tt.inline && (got.Diff != "" || got.DiffRef == nil || got.DiffRef.Size != int64(len(diff)) || string(s.diffs.objects[got.DiffRef.Object]) != diff):
				t.Errorf("diff ref %+v, inline %d bytes; want the %d bytes in the store", got.DiffRef, len(got.Diff), len(diff))
			}
			sentNow := s.pub.take()
			pubs, ids := ofType[events.FixPublished](sentNow)
			if len(sentNow) != 1 || len(pubs) != 1 || pubs[0].FixID != got.FixID || (pubs[0].DiffRef == nil) != tt.inline {
				t.Fatalf("published %v", types(sentNow))
			}
			if want := derived("ph", "fix", got.FixID, fp.PatchID); ids[0] != want {
				t.Errorf("fix.published id %s, want %s", ids[0], want)
			}
			if s.tally.published != 1 {
				t.Errorf("counted %d published", s.tally.published)
			}
		})
	}
	t.Run("refuses what it cannot publish", func(t *testing.T) {
		s := newSite(t, "ph")
		for name, req := range map[string]node.PublishRequest{
			"a project that is not a slug":        {Project: "Not A Slug", Commit: "HEAD"},
			"no commit":                           {Project: project, Commit: " "},
			"a project without fork, and no repo": {Project: project, Commit: "HEAD"},
			"a repo that is no registered fork":   {Project: project, Repo: "/srv/elsewhere", Commit: "nope"},
		} {
			if _, err := s.n.PublishFix(context.Background(), req); !errors.Is(err, node.ErrInvalid) {
				t.Errorf("%s: err = %v, want ErrInvalid", name, err)
			}
		}
		if got := s.pub.take(); len(got) != 0 {
			t.Errorf("published %v", types(got))
		}
	})
}

func TestALargeReceivedDiffIsKeptByReferenceAndReadBackByteForByte(t *testing.T) {
	s := newSite(t, "ph")
	s.fork(t, project, "ph-main")
	diff := aDiff("big") + strings.Repeat("+ a line of the data set\n", (70<<10)/24)
	if len(diff) <= 64<<10 {
		t.Fatalf("the diff has %d bytes, want above 64 KiB", len(diff))
	}
	fp := aFix("ma", "big", diff)
	key := node.FixKey("ma", fp.FixID)
	if err := s.receive(t, "ma", project, fp); err != nil {
		t.Fatal(err)
	}
	rf := s.kept(t, key)
	if rf.Fix.Diff != "" || rf.Fix.DiffRef == nil || string(s.diffs.objects[rf.Fix.DiffRef.Object]) != diff {
		t.Fatalf("kept diff %d bytes inline, ref %+v; want it by reference", len(rf.Fix.Diff), rf.Fix.DiffRef)
	}
	got, err := s.n.Diff(context.Background(), key)
	if err != nil || string(got) != diff {
		t.Fatalf("Diff: %d bytes (%v), want the %d received", len(got), err, len(diff))
	}
	mbox, err := s.n.Export(context.Background(), key)
	if err != nil || !strings.HasSuffix(string(mbox), diff) {
		t.Fatalf("Export: %d bytes (%v)", len(mbox), err)
	}

	t.Run("a small one stays inline", func(t *testing.T) {
		small := aFix("ma", "small", aDiff("small"))
		if err := s.receive(t, "ma", project, small); err != nil {
			t.Fatal(err)
		}
		if rf := s.kept(t, node.FixKey("ma", small.FixID)); rf.Fix.Diff != small.Diff || rf.Fix.DiffRef != nil {
			t.Errorf("kept %+v", rf.Fix)
		}
	})
}

func TestConflictsAreTrimmedToTheContractsLimits(t *testing.T) {
	s := newSite(t, "ph")
	s.fork(t, project, "ph-main")
	long := strings.Repeat("é", 2*events.MaxConflictReason) // two bytes each
	cs := []events.Conflict{{File: "src/blank.go", Hunk: 1, Reason: " \t "}}
	for i := range events.MaxConflicts + 5 {
		cs = append(cs, events.Conflict{File: "src/app.go", Hunk: i + 1, Reason: long})
	}
	s.judge.say("ph-main", "", node.AssessResult{Verdict: events.VerdictConflicts, Conflicts: cs})
	fp := aFix("ma", "1", aDiff("1"))
	if err := s.receive(t, "ma", project, fp); err != nil {
		t.Fatal(err) // the recorder refuses what the schema refuses
	}
	got, _ := ofType[events.FixAssessed](s.pub.take())
	if len(got) != 1 || len(got[0].Conflicts) != events.MaxConflicts {
		t.Fatalf("published %d fix.assessed with %d conflicts, want %d", len(got), len(got[0].Conflicts), events.MaxConflicts)
	}
	if r := got[0].Conflicts[0].Reason; r != "" {
		t.Errorf("a blank reason became %q, want none", r)
	}
	r := got[0].Conflicts[1].Reason
	if n := utf8.RuneCountInString(r); n != events.MaxConflictReason || !utf8.ValidString(r) {
		t.Errorf("a long reason kept %d characters (valid UTF-8: %v), want %d", n, utf8.ValidString(r), events.MaxConflictReason)
	}
}
