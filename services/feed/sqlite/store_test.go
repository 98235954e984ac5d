package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/services/feed"
	"github.com/dpihub/dpihub/services/feed/sqlite"
)

const project = "mosip-id-repository"

var t0 = time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)

func openStore(t testing.TB) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "feed.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// newEvent builds a valid event of country cc (service node, or dedup for
// hub) about project.
func newEvent(t testing.TB, cc string, p events.Payload, at time.Time, id string) event.Event {
	t.Helper()
	svc := "node"
	if cc == events.HubCountry {
		svc = events.ServiceDedup
	}
	return newEventFrom(t, events.Source{Country: cc, Service: svc}, p, at, id)
}

// newEventFrom builds a valid event of src about project.
func newEventFrom(t testing.TB, src events.Source, p events.Payload, at time.Time, id string) event.Event {
	t.Helper()
	proj := project
	if spec, _ := events.Lookup(p.EventType()); !spec.Project {
		proj = ""
	}
	e, err := events.New(src, proj, p, events.WithTime(at), events.WithID(id))
	if err != nil {
		t.Fatalf("new %s: %v", p.EventType(), err)
	}
	return e
}

// sampleSource is the source that may send each sample in the samples'
// story (events.SampleSource).
func sampleSource(t testing.TB, typ string) events.Source {
	t.Helper()
	src, ok := events.SampleSource(typ)
	if !ok {
		t.Fatalf("no sample source of %s", typ)
	}
	return src
}

// catalogRecords is one event of every catalog type, events.Sample's
// story, a minute apart, received a second after each.
func catalogRecords(t testing.TB) []feed.Record {
	t.Helper()
	var rs []feed.Record
	for i, spec := range events.Catalog() {
		p, ok := events.Sample(spec.Type)
		if !ok {
			t.Fatalf("no sample of %s", spec.Type)
		}
		at := t0.Add(time.Duration(i) * time.Minute)
		e := newEventFrom(t, sampleSource(t, spec.Type), p, at, fmt.Sprintf("ev-%02d", i))
		rs = append(rs, feed.Record{Event: e, Seq: uint64(i + 1), Received: at.Add(time.Second)})
	}
	return rs
}

func apply(t testing.TB, st *sqlite.Store, rs ...feed.Record) {
	t.Helper()
	for _, r := range rs {
		if err := st.Apply(context.Background(), r.Event, r.Seq, r.Received); err != nil {
			t.Fatal(err)
		}
	}
}

func digest(t testing.TB, st *sqlite.Store) string {
	t.Helper()
	d, err := st.Digest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestEveryCatalogTypeIsAppliedAndReadBack(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	rs := catalogRecords(t)
	apply(t, st, rs...)

	if v, err := st.SchemaVersion(ctx); err != nil || v != 4 {
		t.Errorf("schema version = %d, %v; want 4", v, err)
	}
	if seq, err := st.LastSeq(ctx); err != nil || seq != uint64(len(rs)) {
		t.Errorf("LastSeq = %d, %v; want %d", seq, err, len(rs))
	}
	page, err := st.Events(ctx, feed.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != len(rs) || page.Next != "" {
		t.Fatalf("Events: %d events, next %q; want %d, none", len(page.Events), page.Next, len(rs))
	}
	for i, got := range page.Events {
		want := rs[len(rs)-1-i]
		e := want.Event
		if got.ID != e.ID() || got.Seq != want.Seq || got.Type != e.Type() || got.Source != e.Source() ||
			got.Project != e.Subject() || !got.Time.Equal(e.Time()) || got.Summary != events.Describe(e) ||
			string(got.Data) != string(e.Data()) || got.Country != sampleSource(t, e.Type()).Country {
			t.Errorf("event %d = %+v, want the %s sample", i, got, e.Type())
		}
		if got.Summary == "" {
			t.Errorf("%s has no summary", got.Type)
		}
	}

	t.Run("each type is found by its short form", func(t *testing.T) {
		for _, spec := range events.Catalog() {
			// The store takes full types; the HTTP edge resolves short ones.
			typ, ok := events.FullType(spec.Kind + "." + spec.Verb)
			if !ok {
				t.Fatalf("%s.%s is not a short type", spec.Kind, spec.Verb)
			}
			page, err := st.Events(ctx, feed.Query{Type: typ})
			if err != nil || len(page.Events) != 1 || page.Events[0].Type != spec.Type {
				t.Errorf("type %s.%s: %v, %v", spec.Kind, spec.Verb, page.Events, err)
			}
		}
	})
	t.Run("the fix has the assessment and the adoption", func(t *testing.T) {
		f, err := st.Fix(ctx, "ma-fix-0042")
		if err != nil {
			t.Fatal(err)
		}
		if f.Country != "ma" || f.Project != project || f.PatchID != "d251063b58516672bf7a420593c3ae1ded6b15a7" ||
			len(f.Files) != 1 || f.Title == "" || f.EventID == "" {
			t.Errorf("fix = %+v", f)
		}
		var got []string
		for _, a := range f.Assessments {
			got = append(got, a.Country+":"+a.Verdict+":"+a.How)
		}
		if want := []string{"lk:present:adopted", "ph:present:patch-id"}; !slices.Equal(got, want) {
			t.Errorf("assessments = %v, want %v", got, want)
		}
		if _, err := st.Fix(ctx, "nope"); !errors.Is(err, feed.ErrNotFound) {
			t.Errorf("unknown fix: %v, want ErrNotFound", err)
		}
		fixes, err := st.Fixes(ctx, project, 0, 0)
		if err != nil || len(fixes) != 1 || fixes[0].ID != f.ID || len(fixes[0].Assessments) != 2 {
			t.Errorf("Fixes = %+v, %v", fixes, err)
		}
		if fixes, err := st.Fixes(ctx, "other", 0, 0); err != nil || len(fixes) != 0 {
			t.Errorf("Fixes(other) = %+v, %v", fixes, err)
		}
	})
	t.Run("the proposal has its reactions and status", func(t *testing.T) {
		ps, err := st.Proposals(ctx, project)
		if err != nil || len(ps) != 1 {
			t.Fatalf("Proposals = %+v, %v", ps, err)
		}
		p := ps[0]
		if p.ID != "ma-prop-0007" || p.Country != "ma" || p.Status != events.ProposalAccepted ||
			!slices.Equal(p.Labels, []string{"demographics", "i18n"}) ||
			len(p.Endorsements) != 1 || p.Endorsements[0].Country != "lk" ||
			len(p.Objections) != 1 || p.Objections[0].Country != "ph" ||
			len(p.Comments) != 1 || p.Comments[0].Country != "ph" || p.Comments[0].Text == "" {
			t.Errorf("proposal = %+v", p)
		}
	})
	t.Run("duplicates of every kind are listed", func(t *testing.T) {
		ds, err := st.Duplicates(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range ds {
			got = append(got, fmt.Sprintf("%s %s %s %.2f", d.Kind, d.A, d.B, d.Similarity))
		}
		want := []string{
			"proposal ma/ma-prop-0007 lk/lk-prop-0003 0.81",
			"fix ma/ma-fix-0042 lk/lk-fix-0107 0.88",
			"fork ma/ma/release-1.2.0 lk/lk-prod 0.93",
		}
		if !slices.Equal(got, want) {
			t.Errorf("duplicates = %q, want %q", got, want)
		}
	})
	t.Run("countries have their last event, lag and heartbeat", func(t *testing.T) {
		cs, err := st.Countries(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range cs {
			got = append(got, fmt.Sprintf("%s %d %v %v", c.Country, c.Events, time.Duration(c.Lag), c.LastHeartbeat != nil))
		}
		want := []string{"hub 4 1s false", "lk 2 1s false", "ma 5 1s true", "ph 3 1s false"}
		if !slices.Equal(got, want) {
			t.Errorf("countries = %q, want %q", got, want)
		}
	})
	t.Run("projects are listed", func(t *testing.T) {
		ps, err := st.Projects(ctx)
		if err != nil || !slices.Equal(ps, []string{project}) {
			t.Errorf("Projects = %v, %v", ps, err)
		}
	})
}

func TestApplyingAgainChangesNothing(t *testing.T) {
	ctx := context.Background()
	rs := catalogRecords(t)
	rs = append(rs, matrixRecords(t, uint64(len(rs)+1))...)

	once := openStore(t)
	apply(t, once, rs...)
	want := digest(t, once)

	tests := []struct {
		name string
		fill func(t *testing.T, st *sqlite.Store)
	}{
		{"every event applied twice in a row", func(t *testing.T, st *sqlite.Store) {
			for _, r := range rs {
				apply(t, st, r, r)
			}
		}},
		{"the whole stream replayed", func(t *testing.T, st *sqlite.Store) {
			apply(t, st, rs...)
			apply(t, st, rs...)
		}},
		{"one batch, then the stream again one by one", func(t *testing.T, st *sqlite.Store) {
			if err := st.ApplyBatch(ctx, rs); err != nil {
				t.Fatal(err)
			}
			apply(t, st, rs...)
		}},
		{"a batch holding every event twice", func(t *testing.T, st *sqlite.Store) {
			if err := st.ApplyBatch(ctx, append(slices.Clone(rs), rs...)); err != nil {
				t.Fatal(err)
			}
		}},
		{"the stream in reverse order", func(t *testing.T, st *sqlite.Store) {
			rev := slices.Clone(rs)
			slices.Reverse(rev)
			apply(t, st, rev...)
		}},
		{"the stream shuffled, several times", func(t *testing.T, st *sqlite.Store) {
			r := rand.New(rand.NewPCG(1, 2))
			for range 5 {
				sh := slices.Clone(rs)
				r.Shuffle(len(sh), func(i, j int) { sh[i], sh[j] = sh[j], sh[i] })
				apply(t, st, sh[:len(sh)*2/3]...)
			}
			apply(t, st, rs...)
		}},
		{"a prefix, then the whole stream", func(t *testing.T, st *sqlite.Store) {
			apply(t, st, rs[:len(rs)/2]...)
			if err := st.ApplyBatch(ctx, rs); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := openStore(t)
			tt.fill(t, st)
			if got := digest(t, st); got != want {
				t.Errorf("digest %s, want %s", got, want)
			}
		})
	}
	t.Run("a store reopened gives the same digest", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "feed.db")
		st, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		apply(t, st, rs...)
		st.Close()
		st, err = sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		apply(t, st, rs...)
		if got := digest(t, st); got != want {
			t.Errorf("digest %s, want %s", got, want)
		}
	})
	t.Run("a different event changes the digest", func(t *testing.T) {
		st := openStore(t)
		apply(t, st, rs[:len(rs)-1]...)
		if got := digest(t, st); got == want {
			t.Error("digest did not change without the last event")
		}
	})
}

// matrixRecords: fix lk-fix-0001 published by lk at t0; ph assesses it
// after 1h (applies) and again after 3h (present); ma assesses after 2h
// (conflicts) and adopts after 5h; ph adopts after 4h and again after 6h.
func matrixRecords(t testing.TB, seq uint64) []feed.Record {
	t.Helper()
	yes := true
	pub := events.FixPublished{
		FixID: "lk-fix-0001", Title: "Fix CVE-2024-31337 in the token check", Author: events.Person{Name: "A"},
		Commit: "1111111111111111111111111111111111111111", UpstreamBase: "2222222222222222222222222222222222222222",
		PatchID: "abcdef0123456789abcdef0123456789abcdef01", Files: []string{"auth/TokenValidator.java"},
		Diff: "diff --git a/auth/TokenValidator.java b/auth/TokenValidator.java\n",
	}
	as := func(v string) events.FixAssessed {
		return events.FixAssessed{FixID: pub.FixID, PatchID: pub.PatchID, Verdict: v, Branch: "main", Head: "3333333333333333333333333333333333333333"}
	}
	conflicts := as(events.VerdictConflicts)
	conflicts.Conflicts = []events.Conflict{{File: "auth/TokenValidator.java", Hunk: 2, Reason: "context differs"}}
	conflicts.ThreeWayClean = &yes
	present := as(events.VerdictPresent)
	present.PresentAs, present.How = "4444444444444444444444444444444444444444", "patch-id"
	adopt := events.FixAdopted{FixID: pub.FixID, PatchID: pub.PatchID, Commit: "5555555555555555555555555555555555555555", Branch: "main"}
	steps := []struct {
		cc string
		p  events.Payload
		at time.Duration
	}{
		{"lk", pub, 0},
		{"ph", as(events.VerdictApplies), time.Hour},
		{"ma", conflicts, 2 * time.Hour},
		{"ph", present, 3 * time.Hour},
		{"ph", adopt, 4 * time.Hour},
		{"ma", adopt, 5 * time.Hour},
		{"ph", adopt, 6 * time.Hour},
	}
	var rs []feed.Record
	for i, s := range steps {
		at := t0.Add(s.at)
		rs = append(rs, feed.Record{
			Event:    newEvent(t, s.cc, s.p, at, fmt.Sprintf("matrix-%d", i)),
			Seq:      seq + uint64(i),
			Received: at.Add(2 * time.Second),
		})
	}
	return rs
}

func TestPropagationMatrix(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	apply(t, st, matrixRecords(t, 1)...)
	f, err := st.Fix(ctx, "lk-fix-0001")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.CVEs, []string{"CVE-2024-31337"}) {
		t.Errorf("CVEs = %v, want the one the title names", f.CVEs)
	}
	type row struct {
		country, verdict string
		toAssess         time.Duration
		toAdopt          time.Duration // -1: not adopted
		conflicts        int
		threeWay         bool
	}
	want := []row{
		{"ma", events.VerdictConflicts, 2 * time.Hour, 5 * time.Hour, 1, true},
		{"ph", events.VerdictPresent, time.Hour, 4 * time.Hour, 0, false},
	}
	var got []row
	for _, a := range f.Assessments {
		r := row{a.Country, a.Verdict, time.Duration(a.TimeToAssess), -1, len(a.Conflicts), a.ThreeWayClean != nil && *a.ThreeWayClean}
		if a.TimeToAdopt != nil {
			r.toAdopt = time.Duration(*a.TimeToAdopt)
			if !a.AdoptedAt.Equal(f.Published.Add(r.toAdopt)) {
				t.Errorf("%s adopted at %v, want publication + %v", a.Country, a.AdoptedAt, r.toAdopt)
			}
		}
		got = append(got, r)
	}
	if !slices.Equal(got, want) {
		t.Errorf("matrix:\n got %+v\nwant %+v", got, want)
	}
	for _, a := range f.Assessments {
		if a.Country == "ph" && (!a.AssessedAt.Equal(t0.Add(3*time.Hour)) || a.PresentAs == "" || a.How != "patch-id") {
			t.Errorf("ph's latest assessment = %+v, want the one of +3h", a)
		}
	}

	t.Run("assessments that arrive before the fix count from its publication", func(t *testing.T) {
		st := openStore(t)
		rs := matrixRecords(t, 1)
		apply(t, st, append(rs[1:], rs[0])...)
		f, err := st.Fix(ctx, "lk-fix-0001")
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Assessments) != 2 || time.Duration(f.Assessments[1].TimeToAssess) != time.Hour {
			t.Errorf("assessments = %+v", f.Assessments)
		}
	})
}
