package sqlite_test

import (
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/services/feed"
	"github.com/dpihub/dpihub/services/feed/sqlite"
)

// schema2File copies testdata/schema2/feed.db.gz, a database that the
// store of schema version 2 made from schema2Records (see
// testdata/schema2/README.md), to a new file and returns its path.
func schema2File(t *testing.T) string {
	t.Helper()
	in, err := os.Open(filepath.Join("testdata", "schema2", "feed.db.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	zr, err := gzip.NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "feed.db")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, zr); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestADatabaseOfSchema2KeepsItsEventsAndIsDerivedByOrigin(t *testing.T) {
	ctx := context.Background()
	path := schema2File(t)
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if v, err := st.SchemaVersion(ctx); err != nil || v != 4 {
		t.Fatalf("schema version %d, %v; want 4", v, err)
	}
	rs := schema2Records(t)
	// Schema 2 kept one event of an id: lk's assessment, with ph's id,
	// never reached the file.
	lost := 3
	if rs[lost].Event.ID() != rs[lost-1].Event.ID() || rs[lost].Event.Source() != "urn:dpihub:lk:node" {
		t.Fatalf("record %d is not lk's assessment with ph's id", lost)
	}
	kept := slices.Delete(slices.Clone(rs), lost, lost+1)

	t.Run("every event is kept, at its seq, and found by the same searches", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join("testdata", "schema2", "searches.json"))
		if err != nil {
			t.Fatal(err)
		}
		var golden []schema2Search
		if err := json.Unmarshal(b, &golden); err != nil {
			t.Fatal(err)
		}
		queries := schema2Queries()
		if len(golden) != len(queries) {
			t.Fatalf("%d searches in searches.json, %d in schema2Queries", len(golden), len(queries))
		}
		for i, q := range queries {
			if gq, _ := json.Marshal(golden[i].Query); string(gq) != string(must(json.Marshal(q))) {
				t.Fatalf("search %d of searches.json is %s, want %+v", i, gq, q)
			}
			if got := schema2Results(t, st, q); !slices.Equal(got, golden[i].Results) {
				t.Errorf("search %+v:\n got %v\nwant %v (what schema 2 found)", q, got, golden[i].Results)
			}
		}
		if got := schema2Results(t, st, queries[0]); len(got) != len(kept) {
			t.Errorf("%d events, want the %d schema 2 kept", len(got), len(kept))
		}
	})
	t.Run("the derived tables are what the events give by origin", func(t *testing.T) {
		f, err := st.Fix(ctx, "ma-x")
		if err != nil || f.Country != "ma" || f.EventID != "s2-real" {
			t.Errorf("fix ma-x = %+v, %v; want Morocco's (schema 2 showed the squatter's)", f, err)
		}
		if got, want := assessments(t, st, "ma-fix-0042"), []string{"ph:applies"}; !slices.Equal(got, want) {
			t.Errorf("matrix of ma-fix-0042 = %v, want %v (Morocco's own assessment and adoption out)", got, want)
		}
		status, vs := votes(t, st, "ma-prop-0007")
		if status != events.ProposalAccepted || !slices.Equal(vs, []string{"-ph"}) {
			t.Errorf("proposal: %s, votes %v; want accepted (ph may not reject), ph's objection alone", status, vs)
		}
		ds, err := st.Duplicates(ctx)
		if err != nil || len(ds) != 1 || ds[0].EventID != "s2-dup" {
			t.Errorf("duplicates = %+v, %v; want the dedup service's", ds, err)
		}
	})
	t.Run("the store equals a new one given the events schema 2 kept", func(t *testing.T) {
		fresh := openStore(t)
		apply(t, fresh, kept...)
		if got, want := digest(t, st), digest(t, fresh); got != want {
			t.Errorf("digest %s, want %s", got, want)
		}
	})
	t.Run("the event schema 2 lost is stored when it comes again", func(t *testing.T) {
		// As a rebuild from the stream gives it.
		r := rs[lost]
		r.Seq = uint64(len(rs) + 1)
		apply(t, st, r)
		if got, want := assessments(t, st, "ma-fix-0042"), []string{"lk:present", "ph:applies"}; !slices.Equal(got, want) {
			t.Errorf("matrix of ma-fix-0042 = %v, want %v", got, want)
		}
	})
}

func TestDerivingAgainAStoreThatIsRightChangesNothing(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "feed.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	rs := catalogRecords(t)
	rs = append(rs, matrixRecords(t, uint64(len(rs)+1))...)
	apply(t, st, rs...)
	want := digest(t, st)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	// What a migration that changes derived rows asks for.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO store_info (key, value) VALUES ('rederive', 'test')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for range 2 { // the second time, nothing is asked
		st, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		if got := digest(t, st); got != want {
			t.Errorf("digest %s after deriving again, want %s", got, want)
		}
		st.Close()
	}
	db, err = sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM store_info WHERE key = 'rederive'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d requests to derive again are left (%v), want none", n, err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// schema2Records are the events that testdata/schema2/feed.db.gz was made
// from, in stream order (seq 1, 2, ...): a store of schema version 2 (ids
// unique alone, no authority rules) was given each of them once. Among
// them are what that store got wrong: lk's assessment with the same id as
// ph's (it kept ph's alone), ph squatting Morocco's fix id ma-x before
// Morocco published it, Morocco assessing, adopting and endorsing its
// own, ph endorsing then objecting, ph rejecting a proposal the hub's
// governance service accepted, and a duplicate reported by a country.
func schema2Records(t testing.TB) []feed.Record {
	t.Helper()
	sample := func(typ string) events.Payload {
		p, ok := events.Sample(typ)
		if !ok {
			t.Fatalf("no sample of %s", typ)
		}
		return p
	}
	node := func(cc string) events.Source { return events.Source{Country: cc, Service: "node"} }
	hub := func(svc string) events.Source { return events.Source{Country: events.HubCountry, Service: svc} }
	fix := sample(events.TypeFixPublished).(events.FixPublished)
	squat, real := fix, fix
	squat.FixID, squat.Title = "ma-x", "Squatted fix id of ph"
	real.FixID, real.Title = "ma-x", "Handle a missing documents list, the real ma-x"
	assess := func(branch, verdict string) events.FixAssessed {
		a := events.FixAssessed{FixID: fix.FixID, PatchID: fix.PatchID, Verdict: verdict, Branch: branch,
			Head: "e4c2a8f61d0b3975a2c6e8f0b1d3a5c7e9f2b4d6"}
		if verdict == events.VerdictPresent {
			a.PresentAs, a.How = "7f3a91c04be25d6e8a1f09c3d7b4e6a2c58f1d09", events.HowPatchID
		}
		return a
	}
	prop := sample(events.TypeProposalSubmitted).(events.ProposalSubmitted)
	// "rejected": the name schema 2's events used for declined.
	reject := events.ProposalStatusChanged{ProposalID: prop.ProposalID, From: events.ProposalAccepted, To: "rejected", Reason: "ph would rather not"}
	steps := []struct {
		src events.Source
		p   events.Payload
		id  string
	}{
		{node("ma"), sample(events.TypeForkRegistered), "s2-fork"},
		{node("ma"), fix, "s2-fix"},
		{node("ph"), assess("ph-philsys-1.2.0", events.VerdictApplies), "s2-assess"},
		{node("lk"), assess("lk-prod", events.VerdictPresent), "s2-assess"},
		{node("ma"), assess("ma/release-1.2.0", events.VerdictPresent), "s2-self-assess"},
		{node("ma"), sample(events.TypeFixAdopted), "s2-self-adopt"},
		{node("ph"), squat, "s2-squat"},
		{node("ma"), real, "s2-real"},
		{node("ma"), prop, "s2-prop"},
		{node("ma"), sample(events.TypeProposalEndorsed), "s2-self-endorse"},
		{node("ph"), sample(events.TypeProposalEndorsed), "s2-ph-endorse"},
		{node("ph"), sample(events.TypeProposalObjected), "s2-ph-object"},
		{node("lk"), sample(events.TypeProposalCommented), "s2-lk-comment"},
		{hub("proposals"), sample(events.TypeProposalStatusChanged), "s2-accept"},
		{node("ph"), reject, "s2-ph-reject"},
		{hub("dedup"), sample(events.TypeFixDuplicateDetected), "s2-dup"},
		{node("ph"), sample(events.TypeFixDuplicateDetected), "s2-ph-dup"},
		{node("ma"), sample(events.TypeNodeHeartbeat), "s2-heartbeat"},
	}
	base := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	var rs []feed.Record
	for i, s := range steps {
		proj := "mosip-id-repository"
		if spec, _ := events.Lookup(s.p.EventType()); !spec.Project {
			proj = ""
		}
		at := base.Add(time.Duration(i) * time.Minute)
		e, err := events.New(s.src, proj, s.p, events.WithTime(at), events.WithID(s.id))
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		rs = append(rs, feed.Record{Event: e, Seq: uint64(i + 1), Received: at.Add(time.Second)})
	}
	return rs
}

// schema2Search is one search of testdata/schema2/searches.json with what
// the store of schema version 2 answered.
type schema2Search struct {
	Query   feed.Query     `json:"query"`
	Results []schema2Event `json:"results"`
}

type schema2Event struct {
	Seq    uint64 `json:"seq"`
	ID     string `json:"id"`
	Source string `json:"source"`
}

// schema2Queries are the searches of testdata/schema2/searches.json.
func schema2Queries() []feed.Query {
	return []feed.Query{
		{Limit: events.MaxPageLimit},
		{Q: "updateDocuments"},
		{Q: "file:IdRepoServiceImpl.java"},
		{Q: "patchid:d251"},
		{Q: "squatted"},
		{Q: "transliteration"},
		{Q: "documents", Country: "ma"},
		{Country: "ph"},
		{Type: events.TypeFixAssessed},
		{Type: events.TypeFixPublished, Project: "mosip-id-repository"},
		{Limit: 4},
	}
}

func schema2Results(t testing.TB, st feed.Store, q feed.Query) []schema2Event {
	t.Helper()
	page, err := st.Events(context.Background(), q)
	if err != nil {
		t.Fatalf("search %+v: %v", q, err)
	}
	out := []schema2Event{}
	for _, e := range page.Events {
		out = append(out, schema2Event{Seq: e.Seq, ID: e.ID, Source: e.Source})
	}
	return out
}

// A store of schema 3 may hold the statuses of events sent before
// 2026-11-29, rejected and merged; opened by this code it shows them by
// their current names, declined and implemented, as a replay would.
func TestAStoreOfSchema3ShowsOldStatusesByTheirCurrentNames(t *testing.T) {
	ctx := context.Background()
	prop := sampleOf[events.ProposalSubmitted](t, events.TypeProposalSubmitted)
	governance := hubService(events.ServiceProposals)
	path := filepath.Join(t.TempDir(), "feed.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	apply(t, st, records(t,
		step{node("ma"), prop, "prop"},
		step{governance, events.ProposalStatusChanged{ProposalID: prop.ProposalID, From: events.ProposalOpen, To: "rejected"}, "s1"},
	)...)
	if got, _ := votes(t, st, prop.ProposalID); got != events.ProposalDeclined {
		t.Fatalf("a new store shows %q for rejected, want declined", got)
	}
	st.Close()
	// What schema 3 wrote: the status as the event named it.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`UPDATE proposal_status SET status = 'rejected'`, `DELETE FROM schema_version WHERE version = 4`} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	st, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if got, _ := votes(t, st, prop.ProposalID); got != events.ProposalDeclined {
		t.Fatalf("after the upgrade the proposal is %q, want declined", got)
	}
}
