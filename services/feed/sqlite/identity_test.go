package sqlite_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/services/feed"
	"github.com/dpihub/dpihub/services/feed/sqlite"
)

// step is one event of a test's stream: who sends what, with which id.
type step struct {
	src events.Source
	p   events.Payload
	id  string
}

func node(cc string) events.Source { return events.Source{Country: cc, Service: "node"} }

func hubService(svc string) events.Source {
	return events.Source{Country: events.HubCountry, Service: svc}
}

// records are steps at seq 1, 2, ..., a minute apart from t0.
func records(t testing.TB, steps ...step) []feed.Record {
	t.Helper()
	rs := make([]feed.Record, len(steps))
	for i, s := range steps {
		at := t0.Add(time.Duration(i) * time.Minute)
		rs[i] = feed.Record{Event: newEventFrom(t, s.src, s.p, at, s.id), Seq: uint64(i + 1), Received: at.Add(time.Second)}
	}
	return rs
}

// orders are the ways a stream may reach the store: a replayed stream
// in order, a restarted consumer's redeliveries after newer events, a
// rebuild's batches. Each must give the state of the stream applied once,
// in order.
var orders = []struct {
	name string
	fill func(t *testing.T, st *sqlite.Store, rs []feed.Record)
}{
	{"in stream order", func(t *testing.T, st *sqlite.Store, rs []feed.Record) { apply(t, st, rs...) }},
	{"in stream order, replayed", func(t *testing.T, st *sqlite.Store, rs []feed.Record) {
		apply(t, st, rs...)
		apply(t, st, rs...)
	}},
	{"in one batch", func(t *testing.T, st *sqlite.Store, rs []feed.Record) {
		if err := st.ApplyBatch(context.Background(), rs); err != nil {
			t.Fatal(err)
		}
	}},
	{"in reverse order", func(t *testing.T, st *sqlite.Store, rs []feed.Record) {
		rev := slices.Clone(rs)
		slices.Reverse(rev)
		apply(t, st, rev...)
	}},
	{"shuffled, with repeats", func(t *testing.T, st *sqlite.Store, rs []feed.Record) {
		r := rand.New(rand.NewPCG(3, 4))
		for range 4 {
			sh := slices.Clone(rs)
			r.Shuffle(len(sh), func(i, j int) { sh[i], sh[j] = sh[j], sh[i] })
			apply(t, st, sh[:len(sh)/2+1]...)
		}
		apply(t, st, rs...)
	}},
}

// forEachOrder applies rs to a new store in every order, checks that each
// gives the digest of the stream applied once in order, and runs check
// on each store.
func forEachOrder(t *testing.T, rs []feed.Record, check func(t *testing.T, st *sqlite.Store)) {
	t.Helper()
	ref := openStore(t)
	apply(t, ref, rs...)
	want := digest(t, ref)
	for _, o := range orders {
		t.Run(o.name, func(t *testing.T) {
			st := openStore(t)
			o.fill(t, st, rs)
			if got := digest(t, st); got != want {
				t.Errorf("digest %s, want %s (the stream applied once, in order)", got, want)
			}
			check(t, st)
		})
	}
}

func sampleOf[P events.Payload](t testing.TB, typ string) P {
	t.Helper()
	p, ok := events.Sample(typ)
	if !ok {
		t.Fatalf("no sample of %s", typ)
	}
	return p.(P)
}

// assessments are a fix's assessments as country:verdict, in country
// order.
func assessments(t testing.TB, st *sqlite.Store, fixID string) []string {
	t.Helper()
	f, err := st.Fix(context.Background(), fixID)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range f.Assessments {
		out = append(out, a.Country+":"+a.Verdict)
	}
	return out
}

// listed are the stored events as source#id, oldest first.
func listed(t testing.TB, st *sqlite.Store, q feed.Query) []string {
	t.Helper()
	q.Limit = events.MaxPageLimit
	page, err := st.Events(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range slices.Backward(page.Events) {
		out = append(out, e.Source+"#"+e.ID)
	}
	return out
}

func TestTwoCountriesMaySendTheSameEventIDAndBothVerdictsCount(t *testing.T) {
	// The Philippines and Sri Lanka run identical forks, so their nodes
	// derive the same id for their assessment of Morocco's fix (ids are
	// unique per source only). Each is its country's verdict.
	fix := sampleOf[events.FixPublished](t, events.TypeFixPublished)
	assess := func(verdict string) events.FixAssessed {
		return events.FixAssessed{FixID: fix.FixID, PatchID: fix.PatchID, Verdict: verdict, Branch: "release-1.2.0", Head: fix.Commit}
	}
	conflicts := assess(events.VerdictConflicts)
	conflicts.Conflicts = []events.Conflict{{File: fix.Files[0], Hunk: 1, Reason: "context differs"}}
	rs := records(t,
		step{node("ma"), fix, "fix"},
		step{node("ph"), assess(events.VerdictApplies), "assessment"},
		step{node("lk"), conflicts, "assessment"},
	)
	forEachOrder(t, rs, func(t *testing.T, st *sqlite.Store) {
		if got, want := assessments(t, st, fix.FixID), []string{"lk:conflicts", "ph:applies"}; !slices.Equal(got, want) {
			t.Errorf("matrix of %s = %v, want %v", fix.FixID, got, want)
		}
		want := []string{"urn:dpihub:ma:node#fix", "urn:dpihub:ph:node#assessment", "urn:dpihub:lk:node#assessment"}
		if got := listed(t, st, feed.Query{}); !slices.Equal(got, want) {
			t.Errorf("events = %v, want %v: each (source, id) once", got, want)
		}
	})
}

func TestAFixOrProposalBelongsToTheCountryOfItsIDsNamespace(t *testing.T) {
	fix := sampleOf[events.FixPublished](t, events.TypeFixPublished)
	squat, real := fix, fix
	squat.FixID, squat.Title = "ma-x", "Disable OTP rate limiting"
	real.FixID, real.Title = "ma-x", "Handle a missing documents list"
	prop := sampleOf[events.ProposalSubmitted](t, events.TypeProposalSubmitted)
	squatProp := prop
	squatProp.Title = "Drop transliteration"
	squatter := step{node("ph"), squat, "squat"}
	morocco := step{node("ma"), real, "real"}
	squatterProp := step{node("ph"), squatProp, "squat-prop"}
	moroccoProp := step{node("ma"), prop, "prop"}

	for _, tt := range []struct {
		name  string
		steps []step
	}{
		{"when the squatter comes first", []step{squatter, squatterProp, morocco, moroccoProp}},
		{"when Morocco comes first", []step{morocco, moroccoProp, squatter, squatterProp}},
		{"when only the squatter spoke", []step{squatter, squatterProp}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			forEachOrder(t, records(t, tt.steps...), func(t *testing.T, st *sqlite.Store) {
				ctx := context.Background()
				moroccoSpoke := len(tt.steps) == 4
				f, err := st.Fix(ctx, "ma-x")
				switch {
				case !moroccoSpoke && err == nil:
					t.Errorf("fix ma-x = %+v, want none: only ph published it", f)
				case moroccoSpoke && err != nil:
					t.Fatal(err)
				case moroccoSpoke && (f.Country != "ma" || f.Title != real.Title || f.EventID != "real"):
					t.Errorf("fix ma-x = %s's %q (event %s), want Morocco's %q", f.Country, f.Title, f.EventID, real.Title)
				}
				ps, err := st.Proposals(ctx, "")
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, p := range ps {
					got = append(got, p.Country+":"+p.Title)
				}
				var want []string
				if moroccoSpoke {
					want = []string{"ma:" + prop.Title}
				}
				if !slices.Equal(got, want) {
					t.Errorf("proposals = %q, want %q", got, want)
				}
				// The squatter's events are listed: the feed shows what
				// was said and who said it.
				if got := listed(t, st, feed.Query{Country: "ph"}); len(got) != 2 {
					t.Errorf("ph's events = %v, want its two", got)
				}
			})
		})
	}
}

func TestACountryNeitherAssessesNorAdoptsItsOwnFix(t *testing.T) {
	fix := sampleOf[events.FixPublished](t, events.TypeFixPublished)
	assess := events.FixAssessed{FixID: fix.FixID, PatchID: fix.PatchID, Verdict: events.VerdictApplies, Branch: "main", Head: fix.Commit}
	adopt := events.FixAdopted{FixID: fix.FixID, PatchID: fix.PatchID, Commit: fix.Commit, Branch: "main"}
	rs := records(t,
		step{node("ma"), fix, "fix"},
		step{node("ma"), assess, "self-assess"},
		step{node("ma"), adopt, "self-adopt"},
		step{node("ph"), assess, "assess"},
		step{node("lk"), adopt, "adopt"},
	)
	forEachOrder(t, rs, func(t *testing.T, st *sqlite.Store) {
		if got, want := assessments(t, st, fix.FixID), []string{"lk:present", "ph:applies"}; !slices.Equal(got, want) {
			t.Errorf("matrix = %v, want %v (Morocco is the origin, not an assessor)", got, want)
		}
	})
}

// votes are a proposal's endorsements and objections as +cc and -cc, in
// stream order of each kind.
func votes(t testing.TB, st *sqlite.Store, id string) (status string, vs []string) {
	t.Helper()
	ps, err := st.Proposals(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.ID != id {
			continue
		}
		for _, r := range p.Endorsements {
			vs = append(vs, "+"+r.Country)
		}
		for _, r := range p.Objections {
			vs = append(vs, "-"+r.Country)
		}
		return p.Status, vs
	}
	t.Fatalf("no proposal %s", id)
	return "", nil
}

func TestOneVotePerCountryPerProposalTheLatestCounting(t *testing.T) {
	prop := sampleOf[events.ProposalSubmitted](t, events.TypeProposalSubmitted)
	endorse := events.ProposalEndorsed{ProposalID: prop.ProposalID, Comment: "yes"}
	object := events.ProposalObjected{ProposalID: prop.ProposalID, Reason: "no"}
	comment := events.ProposalCommented{ProposalID: prop.ProposalID, Comment: "and a comment"}
	rs := records(t,
		step{node("ma"), prop, "prop"},
		step{node("ph"), endorse, "ph-1"},
		step{node("lk"), object, "lk-1"},
		step{node("ma"), endorse, "ma-1"}, // its own: not a vote
		step{node("ph"), object, "ph-2"},  // ph changes its mind
		step{node("lk"), endorse, "lk-2"}, // and so does lk
		step{node("ke"), endorse, "ke-1"},
		step{node("ke"), endorse, "ke-2"}, // twice the same: one vote
		step{node("ma"), comment, "ma-2"}, // the proposer may comment
	)
	forEachOrder(t, rs, func(t *testing.T, st *sqlite.Store) {
		_, got := votes(t, st, prop.ProposalID)
		if want := []string{"+lk", "+ke", "-ph"}; !slices.Equal(got, want) {
			t.Errorf("votes = %v, want %v", got, want)
		}
		ps, _ := st.Proposals(context.Background(), "")
		if len(ps[0].Comments) != 1 || ps[0].Comments[0].Country != "ma" {
			t.Errorf("comments = %+v, want Morocco's", ps[0].Comments)
		}
	})
}

func TestAProposalsStatusChangesOnlyByWhoMayChangeIt(t *testing.T) {
	prop := sampleOf[events.ProposalSubmitted](t, events.TypeProposalSubmitted)
	status := func(from, to string) events.ProposalStatusChanged {
		return events.ProposalStatusChanged{ProposalID: prop.ProposalID, From: from, To: to}
	}
	governance := hubService(events.ServiceProposals)
	tests := []struct {
		name  string
		steps []step
		want  string
	}{
		{"the hub's governance service accepts",
			[]step{{governance, status(events.ProposalOpen, events.ProposalAccepted), "s1"}}, events.ProposalAccepted},
		{"a country does not accept",
			[]step{{node("ph"), status(events.ProposalOpen, events.ProposalAccepted), "s1"}}, events.ProposalOpen},
		{"not even the proposer",
			[]step{{node("ma"), status(events.ProposalOpen, events.ProposalAccepted), "s1"}}, events.ProposalOpen},
		{"a country does not reject what governance accepted", []step{
			{governance, status(events.ProposalOpen, events.ProposalAccepted), "s1"},
			{node("ph"), status(events.ProposalAccepted, events.ProposalDeclined), "s2"},
		}, events.ProposalAccepted},
		{"the hub's dedup service does not decide", []step{
			{hubService(events.ServiceDedup), status(events.ProposalOpen, events.ProposalDeclined), "s1"},
		}, events.ProposalOpen},
		{"the proposer withdraws", []step{
			{node("ma"), status(events.ProposalOpen, events.ProposalWithdrawn), "s1"},
		}, events.ProposalWithdrawn},
		{"another country does not withdraw", []step{
			{node("ph"), status(events.ProposalOpen, events.ProposalWithdrawn), "s1"},
		}, events.ProposalOpen},
		{"governance marks it implemented after accepting", []step{
			{governance, status(events.ProposalOpen, events.ProposalAccepted), "s1"},
			{governance, status(events.ProposalAccepted, events.ProposalImplemented), "s2"},
			{node("lk"), status(events.ProposalImplemented, events.ProposalOpen), "s3"},
		}, events.ProposalImplemented},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := records(t, append([]step{{node("ma"), prop, "prop"}}, tt.steps...)...)
			forEachOrder(t, rs, func(t *testing.T, st *sqlite.Store) {
				if got, _ := votes(t, st, prop.ProposalID); got != tt.want {
					t.Errorf("status = %s, want %s", got, tt.want)
				}
			})
		})
	}
}

func TestDuplicatesComeFromTheHubsDedupServiceOnly(t *testing.T) {
	dup := sampleOf[events.FixDuplicateDetected](t, events.TypeFixDuplicateDetected)
	rs := records(t,
		step{hubService(events.ServiceDedup), dup, "dup"},
		step{node("ph"), dup, "forged"},
		step{hubService(events.ServiceProposals), dup, "other-service"},
	)
	forEachOrder(t, rs, func(t *testing.T, st *sqlite.Store) {
		ds, err := st.Duplicates(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != 1 || ds[0].EventID != "dup" {
			t.Errorf("duplicates = %+v, want the dedup service's", ds)
		}
	})
}

func TestAHeartbeatOfTheHubIsNoCountrysHeartbeat(t *testing.T) {
	hb := sampleOf[events.NodeHeartbeat](t, events.TypeNodeHeartbeat)
	st := openStore(t)
	apply(t, st, records(t, step{hubService(events.ServiceDedup), hb, "hb"}, step{node("ma"), hb, "hb"})...)
	cs, err := st.Countries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cs {
		got = append(got, fmt.Sprintf("%s %d %v", c.Country, c.Events, c.LastHeartbeat != nil))
	}
	if want := []string{"hub 1 false", "ma 1 true"}; !slices.Equal(got, want) {
		t.Errorf("countries = %q, want %q", got, want)
	}
}
