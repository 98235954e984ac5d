package sqlite_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/services/feed"
	"github.com/dpihub/dpihub/services/feed/feedbus/feedgen"
)

// genRecords are n events of feedgen's stream at seq 1..n.
func genRecords(n int) []feed.Record {
	g := feedgen.New(7)
	rs := make([]feed.Record, n)
	for i := range rs {
		_, e := g.Next()
		rs[i] = feed.Record{Event: e, Seq: uint64(i + 1), Received: e.Time().Add(time.Second)}
	}
	return rs
}

// TestLargeBatchesEqualOneByOne: batches of many chunks give the state
// that applying one event at a time gives, whatever they repeat, within a
// chunk, across chunks or from the store.
func TestLargeBatchesEqualOneByOne(t *testing.T) {
	ctx := context.Background()
	rs := genRecords(700)
	// The same event published again later: a new stream seq, the same id.
	again := rs[100]
	again.Seq = uint64(len(rs) + 1)
	rs = append(rs, again)

	ref := openStore(t)
	for _, r := range rs {
		if err := ref.Apply(ctx, r.Event, r.Seq, r.Received); err != nil {
			t.Fatal(err)
		}
	}
	want := digest(t, ref)

	batch := func(t *testing.T, st interface {
		ApplyBatch(context.Context, []feed.Record) error
	}, rs []feed.Record) {
		t.Helper()
		if err := st.ApplyBatch(ctx, rs); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		fill func(t *testing.T, rs []feed.Record) []feed.Record
	}{
		{"one batch", func(_ *testing.T, rs []feed.Record) []feed.Record { return rs }},
		{"every record twice in a row", func(_ *testing.T, rs []feed.Record) []feed.Record {
			var out []feed.Record
			for _, r := range rs {
				out = append(out, r, r)
			}
			return out
		}},
		{"the batch twice over", func(_ *testing.T, rs []feed.Record) []feed.Record { return append(slices.Clone(rs), rs...) }},
		{"reversed, the event given again still last", func(_ *testing.T, rs []feed.Record) []feed.Record {
			// Which seq keeps an id given twice depends on which came
			// first: that one is the same in every case.
			out := slices.Clone(rs[:len(rs)-1])
			slices.Reverse(out)
			return append(out, rs[len(rs)-1])
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := openStore(t)
			batch(t, st, tt.fill(t, rs))
			if got := digest(t, st); got != want {
				t.Fatalf("digest %s, want %s", got, want)
			}
		})
	}
	t.Run("part stored before, then everything in one batch", func(t *testing.T) {
		st := openStore(t)
		// Every third event is stored already: no chunk is all new.
		var some []feed.Record
		for i := 0; i < len(rs); i += 3 {
			some = append(some, rs[i])
		}
		batch(t, st, some)
		batch(t, st, rs)
		if got := digest(t, st); got != want {
			t.Fatalf("digest %s, want %s", got, want)
		}
		n, err := st.LastSeq(ctx)
		if err != nil || n != uint64(len(rs)-1) {
			t.Fatalf("last seq %d (%v): the event given again at a new seq was stored twice", n, err)
		}
	})
}

// TestAdmittedRecordsBuildTheSameStore: records as the live projector and
// a rebuild hand them over (Record.Admit: admitted, payload decoded once)
// build the store that plain records build.
func TestAdmittedRecordsBuildTheSameStore(t *testing.T) {
	ctx := context.Background()
	rs := catalogRecords(t)
	rs = append(rs, matrixRecords(t, uint64(len(rs)+1))...)
	for _, r := range genRecords(500) {
		r.Seq += uint64(len(rs))
		rs = append(rs, r)
	}
	plain := openStore(t)
	if err := plain.ApplyBatch(ctx, rs); err != nil {
		t.Fatal(err)
	}
	admitted := make([]feed.Record, len(rs))
	for i, r := range rs {
		admitted[i] = r.Admit()
		if admitted[i].Payload == nil {
			t.Fatalf("record %d (%s): no payload decoded", i, r.Event.Type())
		}
	}
	st := openStore(t)
	if err := st.ApplyBatch(ctx, admitted); err != nil {
		t.Fatal(err)
	}
	if got, want := digest(t, st), digest(t, plain); got != want {
		t.Fatalf("digest %s, want %s (plain records')", got, want)
	}
}

// TestADecodedPayloadAloneDoesNotSkipTheAuthorityTable: a record that
// carries its payload but was not admitted is still checked against the
// authority table (a country does not assess its own fix).
func TestADecodedPayloadAloneDoesNotSkipTheAuthorityTable(t *testing.T) {
	fix := sampleOf[events.FixPublished](t, events.TypeFixPublished)
	assess := events.FixAssessed{FixID: fix.FixID, PatchID: fix.PatchID, Verdict: events.VerdictApplies, Branch: "main", Head: fix.Commit}
	rs := records(t,
		step{node("ma"), fix, "fix"},
		step{node("ma"), assess, "self-assess"},
		step{node("ph"), assess, "assess"},
	)
	for i := range rs {
		p, err := events.Decode(rs[i].Event)
		if err != nil {
			t.Fatal(err)
		}
		rs[i].Payload = p
	}
	st := openStore(t)
	if err := st.ApplyBatch(context.Background(), rs); err != nil {
		t.Fatal(err)
	}
	if got, want := assessments(t, st, fix.FixID), []string{"ph:applies"}; !slices.Equal(got, want) {
		t.Errorf("matrix = %v, want %v", got, want)
	}
}
