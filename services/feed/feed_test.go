package feed_test

import (
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/services/feed"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// proposal makes a proposal submitted at t0 plus day days, with
// endorsements and objections from the countries given.
func proposal(id string, day int, endorse, object []string) feed.Proposal {
	p := feed.Proposal{ID: id, Submitted: t0.AddDate(0, 0, day)}
	for _, cc := range endorse {
		p.Endorsements = append(p.Endorsements, feed.Reaction{Country: cc})
	}
	for _, cc := range object {
		p.Objections = append(p.Objections, feed.Reaction{Country: cc, Text: "no"})
	}
	return p
}

func ids(ps []feed.Proposal) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return out
}

func TestSortProposals(t *testing.T) {
	tests := []struct {
		name  string
		order feed.ProposalOrder
		in    []feed.Proposal
		want  []string
	}{
		{"by support, more support first", feed.BySupport, []feed.Proposal{
			proposal("a", 0, nil, []string{"ke"}),
			proposal("b", 1, []string{"ma", "ph"}, nil),
			proposal("c", 2, []string{"ma"}, nil),
		}, []string{"b", "c", "a"}},
		{"by support, a tie goes to more endorsements: more countries engaged", feed.BySupport, []feed.Proposal{
			proposal("few", 0, []string{"ma"}, nil),
			proposal("many", 1, []string{"ma", "ph", "lk"}, []string{"ke", "sn"}),
		}, []string{"many", "few"}},
		{"by support, a full tie goes to the older: it has waited longer", feed.BySupport, []feed.Proposal{
			proposal("new", 5, []string{"ma"}, nil),
			proposal("old", 1, []string{"ph"}, nil),
		}, []string{"old", "new"}},
		{"by support, the same everything goes by id", feed.BySupport, []feed.Proposal{
			proposal("y", 1, nil, nil),
			proposal("x", 1, nil, nil),
		}, []string{"x", "y"}},
		{"by support, objections outweigh an older submission", feed.BySupport, []feed.Proposal{
			proposal("old-contested", 0, []string{"ma"}, []string{"ke", "lk"}),
			proposal("new-quiet", 9, nil, nil),
		}, []string{"new-quiet", "old-contested"}},
		{"by newest, support does not count", feed.ByNewest, []feed.Proposal{
			proposal("old-popular", 0, []string{"ma", "ph", "lk"}, nil),
			proposal("newest", 3, nil, []string{"ke"}),
			proposal("middle", 1, nil, nil),
		}, []string{"newest", "middle", "old-popular"}},
		{"by newest, a tie goes by id", feed.ByNewest, []feed.Proposal{
			proposal("b", 2, nil, nil),
			proposal("a", 2, nil, nil),
		}, []string{"a", "b"}},
		{"nothing to sort", feed.BySupport, nil, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps := slices.Clone(tc.in)
			feed.SortProposals(ps, tc.order)
			if got := ids(ps); !slices.Equal(got, tc.want) {
				t.Fatalf("order %s: %v, want %v", tc.order, got, tc.want)
			}
		})
	}
}

func TestParseProposalOrder(t *testing.T) {
	tests := []struct {
		in   string
		want feed.ProposalOrder
		bad  bool
	}{
		{"", feed.BySupport, false},
		{"support", feed.BySupport, false},
		{"newest", feed.ByNewest, false},
		{"oldest", "", true},
		{"Support", "", true},
		{"support;drop", "", true},
	}
	for _, tc := range tests {
		t.Run("sort="+tc.in, func(t *testing.T) {
			got, err := feed.ParseProposalOrder(tc.in)
			if tc.bad {
				if !errors.Is(err, events.ErrBadInput) {
					t.Fatalf("err %v, want an events.ErrBadInput", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("%q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestVotesAreOnePerCountryEndorsementsFirst(t *testing.T) {
	p := proposal("lk-1", 0, []string{"ph", "ma"}, []string{"sn", "ke"})
	p.Objections[1].Text = "the attack surface"
	t.Run("without an outlook no objection is marked unanswered", func(t *testing.T) {
		var got []string
		for _, v := range p.Votes() {
			if v.Unanswered {
				t.Errorf("%s is unanswered without an outlook", v.Country)
			}
			mark := "+"
			if v.Objects {
				mark = "-"
			}
			got = append(got, mark+v.Country)
		}
		if want := []string{"+ma", "+ph", "-ke", "-sn"}; !slices.Equal(got, want) {
			t.Fatalf("votes %v, want %v", got, want)
		}
	})
	t.Run("the outlook names the unanswered objections", func(t *testing.T) {
		p.Outlook = &feed.Outlook{Rules: "r", Unanswered: []string{"ke", "ma"}} // ma endorses: no objection to answer
		unanswered := map[string]bool{}
		for _, v := range p.Votes() {
			unanswered[v.Country] = v.Unanswered
			if v.Country == "ke" && v.Text != "the attack surface" {
				t.Errorf("Kenya's reason: %q", v.Text)
			}
		}
		if want := map[string]bool{"ma": false, "ph": false, "ke": true, "sn": false}; !maps.Equal(unanswered, want) {
			t.Fatalf("unanswered %v, want %v", unanswered, want)
		}
	})
}

type fakeGovernance map[string]feed.Outlook

func (g fakeGovernance) Outlook(id string, now time.Time) (feed.Outlook, bool) {
	o, ok := g[id]
	if ok && !o.Deadline.IsZero() {
		o.Deadline = now.Add(o.Deadline.Sub(time.Time{}))
	}
	return o, ok
}

func TestAddOutlooks(t *testing.T) {
	ps := []feed.Proposal{{ID: "ma-1"}, {ID: "ph-2"}}
	feed.AddOutlooks(ps, nil, t0)
	if ps[0].Outlook != nil || ps[1].Outlook != nil {
		t.Fatal("an outlook without a governance")
	}
	g := fakeGovernance{"ph-2": {Rules: "two endorsements", Deadline: time.Time{}.Add(time.Hour)}}
	feed.AddOutlooks(ps, g, t0)
	if ps[0].Outlook != nil {
		t.Errorf("ma-1, unknown to the governance, has an outlook: %+v", ps[0].Outlook)
	}
	if o := ps[1].Outlook; o == nil || o.Rules != "two endorsements" || !o.Deadline.Equal(t0.Add(time.Hour)) {
		t.Errorf("ph-2's outlook %+v, want its rules and a deadline an hour after the time asked about", o)
	}
}
