package feedgen

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/services/feed"
)

// campaignCountries are the countries of a campaign, in the order
// CampaignCountries takes them: the demo's three first, then countries
// that build digital public infrastructure on shared platforms.
var campaignCountries = []string{
	"ma", "ph", "lk", "ke", "ng", "et", "in", "br", "id", "rw",
	"sl", "tg", "gh", "sn", "ug", "tz", "zm", "mz", "za", "bd",
	"np", "pk", "vn", "kh", "la", "mm", "mn", "kg", "uz", "tn",
	"eg", "jo", "bj", "bf", "ci", "cm", "ml", "ne", "gn", "mg",
	"mw", "na", "bw", "ls", "sz", "gt", "hn", "sv", "pe", "co",
	"ec", "bo", "py", "do", "jm", "ht", "pg", "fj", "ws", "to",
}

// CampaignCountries returns the codes of n countries (at most 60), the
// same n for the same n.
func CampaignCountries(n int) []string {
	return slices.Clone(campaignCountries[:min(max(n, 1), len(campaignCountries))])
}

// Campaign describes a campaign-scale history: many countries, each
// assessing most of the others' fixes at its own pace.
type Campaign struct {
	Countries int       // how many countries (CampaignCountries)
	Fixes     int       // how many fixes are published
	Seed      uint64    // the same seed gives the same history
	Begin     time.Time // the first fix; zero: Start
	End       time.Time // the history stops here; zero: Begin + 180 days
	// Projects the fixes are about, in turn; nil: Projects.
	Projects []string
	// Proposals is how many roadmap proposals the countries submit, each
	// endorsed by several others and objected to by one in three.
	Proposals int
}

// Timed is one event of a history with the time the hub stored it.
type Timed struct {
	Event    event.Event
	Received time.Time
}

// Events returns the campaign's events in the order the hub stored them:
// fixes published evenly from Start to End, each assessed by about
// four countries in five after a delay that depends on the country (the
// last countries are the slowest), applying fixes adopted by half of
// those where they apply, and heartbeats from every node. What would
// happen after End has not happened: those assessments are pending.
func (c Campaign) Events() []Timed {
	g := New(c.Seed)
	ccs := CampaignCountries(c.Countries)
	begin, end, projects := c.Begin, c.End, c.Projects
	if begin.IsZero() {
		begin = Start
	}
	if end.IsZero() {
		end = begin.Add(180 * 24 * time.Hour)
	}
	if len(projects) == 0 {
		projects = Projects
	}
	span := end.Sub(begin)
	var out []Timed
	add := func(cc, svc, project string, at time.Time, id string, p events.Payload) {
		if at.After(end) {
			return
		}
		e, err := events.New(events.Source{Country: cc, Service: svc}, project, p, events.WithTime(at), events.WithID(id))
		if err != nil {
			panic(fmt.Sprintf("feedgen: campaign event %s is invalid: %v", id, err))
		}
		out = append(out, Timed{Event: e, Received: at.Add(time.Duration(200+g.r.IntN(800)) * time.Millisecond)})
	}
	for i := range c.Fixes {
		origin := ccs[g.r.IntN(len(ccs))]
		proj := projects[i%len(projects)]
		at := begin.Add(time.Duration(float64(span) * float64(i) / float64(max(c.Fixes, 1)) * 0.97))
		file := g.files[g.r.IntN(len(g.files))]
		title := g.words(5) + " " + RareWord(i)
		fp := events.FixPublished{
			FixID:        fmt.Sprintf("%s-fix-%05d", origin, i),
			Title:        title,
			Message:      title + "\n\n" + g.words(30+g.r.IntN(30)) + "\n\nSigned-off-by: Dev " + strings.ToUpper(origin) + " <dev@ospo.gov." + origin + ">",
			Author:       events.Person{Name: "Dev " + strings.ToUpper(origin), Email: "dev@ospo.gov." + origin},
			Commit:       g.hex(40),
			UpstreamBase: g.hex(40),
			PatchID:      g.hex(40),
			Files:        []string{file},
			Diff:         g.diff(file),
		}
		if g.r.IntN(8) == 0 {
			fp.References = &events.References{CVEs: []string{fmt.Sprintf("CVE-%d-%d", 2021+g.r.IntN(5), 10000+g.r.IntN(90000))}}
		}
		add(origin, "node", proj, at, fmt.Sprintf("c-%05d-pub", i), fp)
		for k, cc := range ccs {
			if cc == origin || g.r.IntN(10) < 2 {
				continue
			}
			// Country k takes about (1 + k/8) hours times a log-normal
			// spread: the first countries assess within hours, the last
			// within days.
			delay := time.Duration(float64(time.Hour) * (1 + float64(k)/8) * math.Exp(g.r.NormFloat64()*1.1))
			verdicts := []string{events.VerdictApplies, events.VerdictApplies, events.VerdictApplies, events.VerdictPresent, events.VerdictPresent, events.VerdictConflicts, events.VerdictNotApplicable}
			a := events.FixAssessed{FixID: fp.FixID, PatchID: fp.PatchID, Verdict: verdicts[g.r.IntN(len(verdicts))], Branch: cc + "-prod", Head: g.hex(40)}
			switch a.Verdict {
			case events.VerdictPresent:
				a.PresentAs, a.How = g.hex(40), events.HowPatchID
			case events.VerdictConflicts:
				a.Conflicts = []events.Conflict{{File: file, Hunk: 1 + g.r.IntN(3), Reason: "context differs"}}
			}
			add(cc, "node", proj, at.Add(delay), fmt.Sprintf("c-%05d-%s-a", i, cc), a)
			if a.Verdict == events.VerdictApplies && g.r.IntN(2) == 0 {
				later := delay + time.Duration(float64(24*time.Hour)*math.Exp(g.r.NormFloat64()))
				add(cc, "node", proj, at.Add(later), fmt.Sprintf("c-%05d-%s-d", i, cc), events.FixAdopted{FixID: fp.FixID, PatchID: fp.PatchID, Commit: g.hex(40), Branch: cc + "-prod"})
			}
		}
	}
	for i := range c.Proposals {
		origin := ccs[g.r.IntN(len(ccs))]
		proj := projects[i%len(projects)]
		at := begin.Add(time.Duration(float64(span) * float64(i) / float64(max(c.Proposals, 1)) * 0.95))
		id := fmt.Sprintf("%s-prop-%04d", origin, i)
		add(origin, "node", proj, at, fmt.Sprintf("c-p%04d", i), events.ProposalSubmitted{ProposalID: id, Title: g.words(6) + " " + RareWord(i),
			Body: "## Why\n\n" + g.words(40) + "\n\n## What changes\n\n- " + g.words(8) + "\n- " + g.words(8) + "\n", Labels: []string{Word(g.r.IntN(20))}})
		for k := range 2 + g.r.IntN(5) {
			cc := ccs[g.r.IntN(len(ccs))]
			if cc == origin {
				continue
			}
			at := at.Add(time.Duration(1+k) * 3 * time.Hour)
			if k == 0 && i%3 == 0 {
				add(cc, "node", proj, at, fmt.Sprintf("c-p%04d-%s-o", i, cc), events.ProposalObjected{ProposalID: id, Reason: g.words(20)})
				continue
			}
			add(cc, "node", proj, at, fmt.Sprintf("c-p%04d-%s-e", i, cc), events.ProposalEndorsed{ProposalID: id, Comment: g.words(12)})
		}
	}
	// Each node's last heartbeat; the last countries' nodes went quiet
	// hours or days before the end.
	for k, cc := range ccs {
		quiet := time.Duration(k*k) * time.Minute
		add(cc, "node", "", end.Add(-quiet-time.Minute), fmt.Sprintf("c-hb-%s", cc), events.NodeHeartbeat{Version: "v0.9." + fmt.Sprint(k%3), StartedAt: Start, Services: []string{"node"}, Forks: 1 + k%3, Lag: k * k % 37})
	}
	slices.SortStableFunc(out, func(a, b Timed) int { return cmp.Compare(a.Received.UnixNano(), b.Received.UnixNano()) })
	return out
}

// Records are the campaign's events as a store applies them, with stream
// sequences from 1.
func (c Campaign) Records() []feed.Record {
	ts := c.Events()
	out := make([]feed.Record, len(ts))
	for i, t := range ts {
		out[i] = feed.Record{Event: t.Event, Seq: uint64(i + 1), Received: t.Received}
	}
	return out
}
