// Package dedup finds the effort that countries duplicate: forks of one
// upstream project that carry largely the same changes, fixes that make
// the same change, proposals that ask for the same thing, and the changes
// two or more countries carry that upstream lacks (upstream candidates).
// It is pure: the service feeds it the stream's events in order (Apply)
// and publishes the findings it returns; its own findings come back
// through the stream and are remembered, so a replay of the stream
// rebuilds the same state and reports nothing twice.
//
// Fingerprints follow package events/minhash: a fork's MinHash signature
// over the shingles of its own changed lines, and its fork-only
// patch-ids; a fix's signature over its diff's changed lines; a
// proposal's over the words of its title and body. An LSH index per
// project (minhash.Index) finds candidate pairs without comparing every
// pair.
package dedup

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/minhash"
)

// ErrBadFingerprint: a fork.snapshot whose MinHash is of another version
// of the scheme, or of the wrong length. The event is refused with the
// reason.
var ErrBadFingerprint = events.Sentinel(events.ErrBadInput, "bad fingerprint")

// DefaultThreshold is the similarity from which two forks, fixes or
// proposals are reported as duplicates.
const DefaultThreshold = 0.7

// Input is one event of the stream as the detector sees it.
type Input struct {
	Source  events.Source
	Project string
	EventID string
	Stored  time.Time // when the hub stored it
	Payload events.Payload
}

// Finding is a duplicate the detector reports: the payload of a
// *.duplicate.detected event about Project, with a stable event id.
type Finding struct {
	ID      string
	Project string
	Payload events.Payload
}

// Fork is what the detector knows of one country's fork of a project.
type Fork struct {
	Country  string   `json:"country"`
	Branch   string   `json:"branch"`
	Head     string   `json:"head"`
	PatchIDs []string `json:"patch_ids"` // sorted
	Files    []string `json:"files,omitempty"`
	// Commits maps a patch-id to the fork's commit that has it, where the
	// snapshot said.
	Commits map[string]string `json:"commits,omitempty"`
	sig     minhash.Signature
	signed  bool // false: no changes of its own, no fingerprint
}

func (f *Fork) key() string { return f.Country + "/" + f.Branch }

// Candidate is a change two or more countries carry in their forks that
// upstream lacked at their merge-bases: a fork-only patch-id, with the
// forks that carry it.
type Candidate struct {
	PatchID string   `json:"patch_id"`
	Forks   []string `json:"forks"` // country/branch, sorted
	// Commits are the commits that carry it, by fork, where the
	// snapshots said: what to cherry-pick or export (dpihub fix export).
	Commits map[string]string `json:"commits,omitempty"`
	// Countries is how many countries carry it: the rank.
	Countries int `json:"countries"`
}

type fix struct {
	ref      events.FixRef
	shingles []uint64
	sig      minhash.Signature
}

type proposal struct {
	ref events.ProposalRef
	sig minhash.Signature
}

// project is one upstream project's fingerprints.
type project struct {
	forks     map[string]*Fork // by country/branch
	forkIx    *minhash.Index
	fixes     map[string]*fix // by country/fix id
	byPatch   map[string][]events.FixRef
	fixIx     *minhash.Index
	proposals map[string]*proposal
	propIx    *minhash.Index
}

// Detector is the state of every project. It is not safe for concurrent
// use; the service guards it.
type Detector struct {
	threshold float64
	projects  map[string]*project
	// reported are the findings already in the stream (their event ids):
	// a finding is reported once.
	reported map[string]bool
}

// New returns an empty detector reporting from threshold (0:
// DefaultThreshold).
func New(threshold float64) *Detector {
	if threshold <= 0 {
		threshold = DefaultThreshold
	}
	return &Detector{threshold: threshold, projects: map[string]*project{}, reported: map[string]bool{}}
}

func (d *Detector) project(p string) *project {
	pr, ok := d.projects[p]
	if !ok {
		pr = &project{forks: map[string]*Fork{}, forkIx: minhash.NewIndex(d.threshold), fixes: map[string]*fix{},
			byPatch: map[string][]events.FixRef{}, fixIx: minhash.NewIndex(d.threshold),
			proposals: map[string]*proposal{}, propIx: minhash.NewIndex(d.threshold)}
		d.projects[p] = pr
	}
	return pr
}

// Apply applies one event and returns the findings it brings that were
// not reported before (in a deterministic order). The detector's own
// findings, coming back through the stream, mark them reported. An
// error is a refused event (ErrBadFingerprint); it changes nothing.
func (d *Detector) Apply(in Input) ([]Finding, error) {
	var out []Finding
	switch p := in.Payload.(type) {
	case events.ForkSnapshot:
		f, err := fork(in, p)
		if err != nil {
			return nil, err
		}
		out = d.forkFindings(in.Project, f)
	case events.FixPublished:
		out = d.fixFindings(in.Project, in.Source.Country, p)
	case events.ProposalSubmitted:
		out = d.proposalFindings(in.Project, in.Source.Country, p)
	case events.ForkDuplicateDetected, events.FixDuplicateDetected, events.ProposalDuplicateDetected:
		if in.Source.Country == events.HubCountry && in.Source.Service == events.ServiceDedup {
			d.reported[in.EventID] = true
		}
		return nil, nil
	default:
		return nil, nil
	}
	fresh := out[:0]
	for _, f := range out {
		if !d.reported[f.ID] {
			fresh = append(fresh, f)
		}
	}
	return fresh, nil
}

// MarkReported records that finding id was published (before it comes
// back through the stream), so that it is not made again meanwhile.
func (d *Detector) MarkReported(id string) { d.reported[id] = true }

// fork reads a snapshot's fingerprint. A snapshot without one is a fork
// with no changes of its own: kept, but like nothing.
func fork(in Input, p events.ForkSnapshot) (*Fork, error) {
	ids := slices.Clone(p.PatchIDs)
	sort.Strings(ids)
	f := &Fork{Country: in.Source.Country, Branch: p.Branch, Head: p.Head, PatchIDs: slices.Compact(ids), Files: p.Files}
	if len(p.Commits) == len(p.PatchIDs) {
		f.Commits = make(map[string]string, len(p.Commits))
		for i, id := range p.PatchIDs {
			f.Commits[id] = p.Commits[i]
		}
	}
	if len(p.MinHash) == 0 && p.MinHashVersion == 0 {
		return f, nil
	}
	if p.MinHashVersion != minhash.Version {
		return nil, events.Errorf(ErrBadFingerprint, "fork %s of %s: minhash version %d, this service reads version %d", p.Branch, in.Source.Country, p.MinHashVersion, minhash.Version)
	}
	sig, err := minhash.FromValues(p.MinHash)
	if err != nil {
		return nil, events.Errorf(ErrBadFingerprint, "fork %s of %s: %v", p.Branch, in.Source.Country, err)
	}
	f.sig, f.signed = sig, true
	return f, nil
}

func (d *Detector) forkFindings(projectName string, f *Fork) []Finding {
	pr := d.project(projectName)
	pr.forks[f.key()] = f
	if !f.signed {
		pr.forkIx.Remove(f.key())
		return nil
	}
	pr.forkIx.Add(f.key(), f.sig)
	var out []Finding
	for _, m := range pr.forkIx.Similar(f.sig, f.key()) {
		o := pr.forks[m.ID]
		if o == nil || o.Country == f.Country {
			continue
		}
		a, b := f, o
		if b.key() < a.key() {
			a, b = b, a
		}
		shared := intersect(a.PatchIDs, b.PatchIDs)
		files := intersect(a.Files, b.Files)
		if len(files) > 20 {
			files = files[:20]
		}
		dup := events.ForkDuplicateDetected{
			A: events.ForkRef{Country: a.Country, Branch: a.Branch}, B: events.ForkRef{Country: b.Country, Branch: b.Branch},
			Similarity: round(m.Similarity), Jaccard: round(jaccard(len(shared), len(a.PatchIDs), len(b.PatchIDs))),
			SharedPatchIDs: len(shared), Files: files, Suggestion: suggestion(projectName, a, b, len(shared), files),
		}
		out = append(out, Finding{ID: findingID("fork", projectName, a.key(), a.Head, b.key(), b.Head), Project: projectName, Payload: dup})
	}
	return out
}

func suggestion(projectName string, a, b *Fork, shared int, files []string) string {
	where := ""
	if len(files) > 0 {
		where = " to " + files[0]
		if len(files) > 1 {
			where += fmt.Sprintf(" and %d more files", len(files)-1)
		}
	}
	if shared == 0 {
		return events.Truncate(fmt.Sprintf("%s and %s change %s in largely the same way%s; compare the two forks and propose one change upstream.", a.Country, b.Country, projectName, where), 1024)
	}
	return events.Truncate(fmt.Sprintf("%s and %s carry %d of the same changes%s; propose them upstream to %s together.", a.Country, b.Country, shared, where, projectName), 1024)
}

func (d *Detector) fixFindings(projectName, country string, p events.FixPublished) []Finding {
	pr := d.project(projectName)
	ref := events.FixRef{Country: country, FixID: p.FixID}
	key := country + "/" + p.FixID
	if _, ok := pr.fixes[key]; ok {
		return nil
	}
	var out []Finding
	// The same patch-id from another country: the same change, exactly.
	for _, o := range pr.byPatch[p.PatchID] {
		if o.Country == country {
			continue
		}
		a, b := orderFix(ref, o)
		out = append(out, Finding{ID: findingID("fix", projectName, a.Country+"/"+a.FixID, "", b.Country+"/"+b.FixID, ""), Project: projectName,
			Payload: events.FixDuplicateDetected{A: a, B: b, Similarity: 1, Jaccard: 1}})
	}
	pr.byPatch[p.PatchID] = append(pr.byPatch[p.PatchID], ref)
	fx := &fix{ref: ref}
	if p.Diff != "" { // a large diff travels by reference: compared by patch-id only
		fx.shingles = minhash.DiffShingles(p.Diff)
		fx.sig = minhash.Sign(fx.shingles)
		for _, m := range pr.fixIx.Similar(fx.sig, key) {
			o := pr.fixes[m.ID]
			if o == nil || o.ref.Country == country || slices.ContainsFunc(pr.byPatch[p.PatchID], func(r events.FixRef) bool { return r == o.ref }) {
				continue
			}
			a, b := orderFix(ref, o.ref)
			out = append(out, Finding{ID: findingID("fix", projectName, a.Country+"/"+a.FixID, "", b.Country+"/"+b.FixID, ""), Project: projectName,
				Payload: events.FixDuplicateDetected{A: a, B: b, Similarity: round(m.Similarity), Jaccard: round(minhash.Jaccard(fx.shingles, o.shingles))}})
		}
		pr.fixIx.Add(key, fx.sig)
	}
	pr.fixes[key] = fx
	return out
}

func orderFix(x, y events.FixRef) (events.FixRef, events.FixRef) {
	if y.Country+"/"+y.FixID < x.Country+"/"+x.FixID {
		return y, x
	}
	return x, y
}

func (d *Detector) proposalFindings(projectName, country string, p events.ProposalSubmitted) []Finding {
	pr := d.project(projectName)
	key := country + "/" + p.ProposalID
	if _, ok := pr.proposals[key]; ok {
		return nil
	}
	sig := minhash.Sign(minhash.TextShingles(p.Title + "\n" + p.Body))
	ref := events.ProposalRef{Country: country, ProposalID: p.ProposalID}
	var out []Finding
	for _, m := range pr.propIx.Similar(sig, key) {
		o := pr.proposals[m.ID]
		if o == nil || o.ref.Country == country {
			continue
		}
		a, b := ref, o.ref
		if b.Country+"/"+b.ProposalID < a.Country+"/"+a.ProposalID {
			a, b = b, a
		}
		out = append(out, Finding{ID: findingID("proposal", projectName, a.Country+"/"+a.ProposalID, "", b.Country+"/"+b.ProposalID, ""), Project: projectName,
			Payload: events.ProposalDuplicateDetected{A: a, B: b, Similarity: round(m.Similarity)}})
	}
	pr.proposals[key] = &proposal{ref: ref, sig: sig}
	pr.propIx.Add(key, sig)
	return out
}

// findingID is the event id of a finding: the same pair at the same heads
// is one finding, whoever makes it and however often.
func findingID(kind, projectName, a, aHead, b, bHead string) string {
	sum := sha256.Sum256([]byte(strings.Join([]string{kind, projectName, a, aHead, b, bHead}, "\x00")))
	return "dedup-" + kind + "-" + hex.EncodeToString(sum[:10])
}

// Report is a project's duplicated effort: clusters of forks that carry
// largely the same changes, and the upstream candidates.
type Report struct {
	Project    string      `json:"project"`
	Forks      int         `json:"forks"`
	Clusters   [][]string  `json:"clusters"` // country/branch, each cluster sorted, largest first
	Candidates []Candidate `json:"candidates"`
}

// Report returns project p's clusters and upstream candidates.
func (d *Detector) Report(p string) Report {
	pr, ok := d.projects[p]
	r := Report{Project: p, Clusters: [][]string{}, Candidates: []Candidate{}}
	if !ok {
		return r
	}
	r.Forks = len(pr.forks)
	keys := make([]string, 0, len(pr.forks))
	for k := range pr.forks {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// Clusters: connected components of duplicate pairs across countries.
	parent := map[string]string{}
	var find func(string) string
	find = func(x string) string {
		if parent[x] == "" || parent[x] == x {
			parent[x] = x
			return x
		}
		parent[x] = find(parent[x])
		return parent[x]
	}
	for _, k := range keys {
		f := pr.forks[k]
		if !f.signed {
			continue
		}
		for _, m := range pr.forkIx.Similar(f.sig, k) {
			if o := pr.forks[m.ID]; o != nil && o.Country != f.Country {
				parent[find(k)] = find(m.ID)
			}
		}
	}
	groups := map[string][]string{}
	for _, k := range keys {
		if _, ok := parent[k]; ok {
			root := find(k)
			groups[root] = append(groups[root], k)
		}
	}
	for _, g := range groups {
		if len(g) > 1 {
			r.Clusters = append(r.Clusters, g)
		}
	}
	sort.Slice(r.Clusters, func(i, j int) bool {
		if len(r.Clusters[i]) != len(r.Clusters[j]) {
			return len(r.Clusters[i]) > len(r.Clusters[j])
		}
		return r.Clusters[i][0] < r.Clusters[j][0]
	})
	// Candidates: fork-only patch-ids carried by two or more countries.
	carriers := map[string]map[string]bool{}
	forksOf := map[string][]string{}
	for _, k := range keys {
		f := pr.forks[k]
		for _, id := range f.PatchIDs {
			if carriers[id] == nil {
				carriers[id] = map[string]bool{}
			}
			carriers[id][f.Country] = true
			forksOf[id] = append(forksOf[id], k)
		}
	}
	for id, cs := range carriers {
		if len(cs) < 2 {
			continue
		}
		c := Candidate{PatchID: id, Forks: forksOf[id], Countries: len(cs)}
		for _, k := range c.Forks {
			if commit := pr.forks[k].Commits[id]; commit != "" {
				if c.Commits == nil {
					c.Commits = map[string]string{}
				}
				c.Commits[k] = commit
			}
		}
		r.Candidates = append(r.Candidates, c)
	}
	sort.Slice(r.Candidates, func(i, j int) bool {
		a, b := r.Candidates[i], r.Candidates[j]
		if a.Countries != b.Countries {
			return a.Countries > b.Countries
		}
		return a.PatchID < b.PatchID
	})
	return r
}

// Digest is the SHA-256 of the detector's whole state, in a fixed order:
// two detectors fed the same stream have the same digest.
func (d *Detector) Digest() string {
	h := sha256.New()
	w := func(parts ...string) {
		for _, p := range parts {
			h.Write([]byte(p))
			h.Write([]byte{0})
		}
	}
	for _, name := range d.Projects() {
		pr := d.projects[name]
		w("project", name)
		for _, k := range sortedKeys(pr.forks) {
			f := pr.forks[k]
			w("fork", k, f.Head, strings.Join(f.PatchIDs, ","), strings.Join(f.Files, ","), fmt.Sprint(f.sig.Values()), fmt.Sprint(f.Commits))
		}
		for _, k := range sortedKeys(pr.fixes) {
			w("fix", k, fmt.Sprint(pr.fixes[k].sig.Values()))
		}
		for _, k := range sortedKeys(pr.proposals) {
			w("proposal", k, fmt.Sprint(pr.proposals[k].sig.Values()))
		}
	}
	for _, id := range sortedKeys(d.reported) {
		w("reported", id)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Projects returns the projects the detector has seen, sorted.
func (d *Detector) Projects() []string {
	out := make([]string, 0, len(d.projects))
	for p := range d.projects {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func intersect(a, b []string) []string {
	set := make(map[string]bool, len(b))
	for _, x := range b {
		set[x] = true
	}
	var out []string
	for _, x := range a {
		if set[x] {
			out = append(out, x)
			delete(set, x)
		}
	}
	sort.Strings(out)
	return out
}

func jaccard(shared, a, b int) float64 {
	if union := a + b - shared; union > 0 {
		return float64(shared) / float64(union)
	}
	return 0
}

func round(x float64) float64 { return float64(int(x*100+0.5)) / 100 }
