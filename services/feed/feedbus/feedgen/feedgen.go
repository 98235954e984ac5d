// Package feedgen generates a realistic, deterministic stream of dpihub
// events for the feed's tests and benchmarks: fixes published by many
// countries and assessed and adopted by the others, proposals with their
// reactions, heartbeats, snapshots and duplicates, with text drawn from a
// Zipf-distributed vocabulary so that searches meet both very common and
// rare words.
package feedgen

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/dpihub/dpihub/events"
)

// Countries are the countries that send events, besides the hub.
var Countries = []string{"ma", "ph", "lk", "ke", "ng", "et", "in", "br", "id", "rw", "sl", "tg"}

// Projects are the projects the events are about.
var Projects = []string{"mosip-id-repository", "mosip-registration", "mojaloop-central-ledger", "openg2p-core", "x-road"}

// Start is the time of the first event; each next one is a second later.
var Start = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

const vocabSize = 8000

var syllables = []string{"ka", "lo", "mi", "ra", "tu", "ve", "zo", "ni", "pa", "se", "do", "fi", "ga", "hu", "je", "ku", "le", "mo", "nu", "ri"}

// Word is the vocabulary word of rank r (0 is the most common).
func Word(r int) string {
	// Three syllables (8000 words), plus a tail that keeps words apart
	// from real ones.
	a, b, c := r%20, r/20%20, r/400%20
	return syllables[c] + syllables[b] + syllables[a] + "x"
}

// CommonWords are the most frequent words: most events that carry text
// have them.
func CommonWords() []string { return []string{Word(0), Word(1), Word(2)} }

// RareWord is a word that only event i (id gen-%08d) has, in its title
// if it is a fix or a proposal.
func RareWord(i int) string {
	var b strings.Builder
	b.WriteString("uniq")
	for {
		b.WriteString(syllables[i%20])
		i /= 20
		if i == 0 {
			return b.String()
		}
	}
}

// UncommonWords are words from the far end of the distribution, each in
// a few events per 100,000.
func UncommonWords(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = Word(vocabSize - 1 - i*7%2000)
	}
	return out
}

// Generator makes events; the same seed gives the same events.
type Generator struct {
	r      *rand.Rand
	zipf   *rand.Zipf
	n      int
	fixes  []fixRef // recent fixes, for assessments and adoptions
	props  []propRef
	files  []string
	status map[string]string
}

type fixRef struct{ id, country, project, patchID string }
type propRef struct{ id, country, project string }

// New returns a generator seeded with seed.
func New(seed uint64) *Generator {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	g := &Generator{r: r, zipf: rand.NewZipf(r, 1.2, 1, vocabSize-1), status: map[string]string{}}
	dirs := []string{"src/main/java/io/mosip/idrepository", "central-ledger/src/domain", "core/models", "xroad/proxy", "registration/client/service"}
	for i := range 2000 {
		g.files = append(g.files, fmt.Sprintf("%s/%s/%s%s.java", dirs[i%len(dirs)], Word(i*13%vocabSize), strings.ToUpper(Word(i)[:1]), Word(i*7%vocabSize)))
	}
	return g
}

func (g *Generator) words(n int) string {
	ws := make([]string, n)
	for i := range ws {
		ws[i] = Word(int(g.zipf.Uint64()))
	}
	return strings.Join(ws, " ")
}

// diff is a unified diff of file with one to four hunks, 1-3 kB: the
// size of a typical fix.
func (g *Generator) diff(file string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "diff --git a/%[1]s b/%[1]s\nindex %s..%s 100644\n--- a/%[1]s\n+++ b/%[1]s\n", file, g.hex(7), g.hex(7))
	line := 10 + g.r.IntN(400)
	for range 1 + g.r.IntN(4) {
		fmt.Fprintf(&b, "@@ -%d,7 +%d,7 @@\n", line, line)
		for range 3 {
			fmt.Fprintf(&b, " \t\t%s\n", g.words(6))
		}
		fmt.Fprintf(&b, "-\t\t%s\n+\t\t%s\n", g.words(6), g.words(6))
		for range 3 {
			fmt.Fprintf(&b, " \t\t%s\n", g.words(6))
		}
		line += 40 + g.r.IntN(200)
	}
	return b.String()
}

func (g *Generator) hex(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[g.r.IntN(16)]
	}
	return string(b)
}

func (g *Generator) country() string { return Countries[g.r.IntN(len(Countries))] }

func (g *Generator) other(cc string) string {
	for {
		if o := g.country(); o != cc {
			return o
		}
	}
}

// Next returns the next event, unsigned: its country, and the event. Every
// event is one its sender may send (events.Authorize).
func (g *Generator) Next() (string, event.Event) {
	i := g.n
	g.n++
	at := Start.Add(time.Duration(i) * time.Second)
	cc, svc := g.country(), "node"
	proj := Projects[g.r.IntN(len(Projects))]
	var p events.Payload
	pick := g.r.IntN(100)
	switch {
	case pick < 12 || len(g.fixes) == 0:
		files := []string{g.files[g.r.IntN(len(g.files))]}
		if f := g.files[g.r.IntN(len(g.files))]; f != files[0] && g.r.IntN(3) == 0 {
			files = append(files, f)
		}
		fp := events.FixPublished{
			FixID:        fmt.Sprintf("%s-fix-%07d", cc, i),
			Title:        g.words(6) + " " + RareWord(i),
			Message:      g.words(40 + g.r.IntN(40)),
			Author:       events.Person{Name: "Dev " + strings.ToUpper(cc), Email: "dev@ospo.gov." + cc},
			Commit:       g.hex(40),
			UpstreamBase: g.hex(40),
			PatchID:      g.hex(40),
			Files:        files,
			Diff:         g.diff(files[0]),
		}
		if g.r.IntN(10) == 0 {
			fp.References = &events.References{CVEs: []string{fmt.Sprintf("CVE-%d-%d", 2020+g.r.IntN(6), 10000+g.r.IntN(90000))}}
		}
		g.fixes = append(g.fixes, fixRef{fp.FixID, cc, proj, fp.PatchID})
		if len(g.fixes) > 300 {
			g.fixes = g.fixes[1:]
		}
		p = fp
	case pick < 52:
		f := g.fixes[g.r.IntN(len(g.fixes))]
		cc, proj = g.other(f.country), f.project
		verdicts := []string{events.VerdictApplies, events.VerdictApplies, events.VerdictPresent, events.VerdictConflicts, events.VerdictNotApplicable}
		a := events.FixAssessed{FixID: f.id, PatchID: f.patchID, Verdict: verdicts[g.r.IntN(len(verdicts))], Branch: cc + "-prod", Head: g.hex(40)}
		switch a.Verdict {
		case events.VerdictPresent:
			a.PresentAs, a.How = g.hex(40), events.HowPatchID
		case events.VerdictConflicts:
			a.Conflicts = []events.Conflict{{File: g.files[g.r.IntN(len(g.files))], Hunk: 1 + g.r.IntN(3)}}
		}
		p = a
	case pick < 62:
		f := g.fixes[g.r.IntN(len(g.fixes))]
		cc, proj = g.other(f.country), f.project
		p = events.FixAdopted{FixID: f.id, PatchID: f.patchID, Commit: g.hex(40), Branch: cc + "-prod"}
	case pick < 72:
		proj = ""
		p = events.NodeHeartbeat{Version: "v0.1." + fmt.Sprint(i%7), StartedAt: Start, Services: []string{"node"}, Forks: 1 + i%4}
	case pick < 77:
		p = events.ForkSnapshot{Branch: cc + "-prod", Head: g.hex(40), MergeBase: g.hex(40), Ahead: g.r.IntN(40), Behind: g.r.IntN(200),
			PatchIDs: []string{g.hex(40), g.hex(40)}, Files: []string{g.files[g.r.IntN(len(g.files))]}, TakenAt: at}
	case pick < 82 || len(g.props) == 0:
		pr := events.ProposalSubmitted{ProposalID: fmt.Sprintf("%s-prop-%07d", cc, i), Title: g.words(7) + " " + RareWord(i), Body: g.words(100 + g.r.IntN(150)), Labels: []string{Word(g.r.IntN(50))}}
		g.props = append(g.props, propRef{pr.ProposalID, cc, proj})
		if len(g.props) > 200 {
			g.props = g.props[1:]
		}
		p = pr
	case pick < 88:
		pr := g.props[g.r.IntN(len(g.props))]
		cc, proj = g.other(pr.country), pr.project
		p = events.ProposalEndorsed{ProposalID: pr.id, Comment: g.words(15 + g.r.IntN(25))}
	case pick < 91:
		pr := g.props[g.r.IntN(len(g.props))]
		cc, proj = g.other(pr.country), pr.project
		p = events.ProposalObjected{ProposalID: pr.id, Reason: g.words(20 + g.r.IntN(30))}
	case pick < 96:
		pr := g.props[g.r.IntN(len(g.props))]
		proj = pr.project
		p = events.ProposalCommented{ProposalID: pr.id, Comment: g.words(20 + g.r.IntN(30))}
	case pick < 98:
		// As the authority table has it (events.Authorize): the proposer
		// withdraws, the hub's governance service decides and marks
		// implemented, nobody reopens.
		pr := g.props[g.r.IntN(len(g.props))]
		proj = pr.project
		from := g.status[pr.id]
		if from == "" {
			from = events.ProposalOpen
		}
		all := []string{events.ProposalAccepted, events.ProposalDeclined, events.ProposalWithdrawn, events.ProposalImplemented}
		to := from
		for to == from {
			to = all[g.r.IntN(len(all))]
		}
		cc, svc = events.HubCountry, events.ServiceProposals
		if to == events.ProposalWithdrawn {
			cc, svc = pr.country, "node"
		}
		g.status[pr.id] = to
		p = events.ProposalStatusChanged{ProposalID: pr.id, From: from, To: to, Reason: g.words(12)}
	default:
		cc, svc = events.HubCountry, events.ServiceDedup
		a, b := g.country(), ""
		b = g.other(a)
		switch g.r.IntN(3) {
		case 0:
			p = events.ForkDuplicateDetected{A: events.ForkRef{Country: a}, B: events.ForkRef{Country: b}, Similarity: 0.8 + g.r.Float64()/5, Jaccard: 0.8, SharedPatchIDs: g.r.IntN(5)}
		case 1:
			f := g.fixes[g.r.IntN(len(g.fixes))]
			proj = f.project
			p = events.FixDuplicateDetected{A: events.FixRef{Country: f.country, FixID: f.id}, B: events.FixRef{Country: b, FixID: fmt.Sprintf("%s-fix-x%d", b, i)}, Similarity: 0.9, Jaccard: 0.88}
		default:
			pr := g.props[g.r.IntN(len(g.props))]
			proj = pr.project
			p = events.ProposalDuplicateDetected{A: events.ProposalRef{Country: pr.country, ProposalID: pr.id}, B: events.ProposalRef{Country: b, ProposalID: fmt.Sprintf("%s-prop-x%d", b, i)}, Similarity: 0.85}
		}
	}
	e, err := events.New(events.Source{Country: cc, Service: svc}, proj, p,
		events.WithTime(at), events.WithID(fmt.Sprintf("gen-%08d", i)))
	if err != nil {
		panic(fmt.Sprintf("feedgen: event %d (%s) is invalid: %v", i, p.EventType(), err))
	}
	return cc, e
}

// Events returns the first n events of a generator seeded with seed.
func Events(n int, seed uint64) []event.Event {
	g := New(seed)
	out := make([]event.Event, n)
	for i := range out {
		_, out[i] = g.Next()
	}
	return out
}
