package minhash_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/dpihub/dpihub/events/minhash"
)

// The generated corpus of TestCorpusRecallAndPrecision and BenchmarkCorpus:
// fork fingerprints of corpusSetSize shingles each, random but seeded, with
// planted near-duplicate pairs at known exact similarities.
//
// Every fork takes corpusCommonPerFork shingles from a pool of corpusPool
// shared ones (as a "}" or an import line is common to many forks) and the
// rest fresh. A planted pair's second fork is a copy of its first with
// just enough shingles replaced by fresh ones for the exact Jaccard
// similarity to be the first value at or above its level.
const (
	corpusSetSize       = 2000
	corpusPool          = 20_000
	corpusCommonPerFork = 20
	corpusPairs         = 300
	corpusSeed          = 20261130

	// searchThreshold is the index's threshold to find the pairs at
	// reportAt or above: below it by about 1.2 standard errors of the
	// estimate, so that a pair at exactly reportAt is still found ~9 times
	// in 10 (NewIndex's documentation says why).
	searchThreshold = 0.65
	reportAt        = 0.7
)

// plantLevels are the similarities of the planted pairs, taken in turn.
var plantLevels = []float64{0.3, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9, 0.95, 1.0}

type corpus struct {
	ids     []string
	sets    [][]uint64 // sorted, unique
	sigs    []minhash.Signature
	planted []plantedPair
}

type plantedPair struct {
	a, b    int32
	jaccard float64 // exact
}

// pairKey names an unordered pair of forks by their positions in the corpus.
type pairKey struct{ a, b int32 }

func keyOf(a, b int32) pairKey {
	if a > b {
		a, b = b, a
	}
	return pairKey{a, b}
}

// freshElements hands out shingles that never repeat: a counter through a
// bijection of uint64 (MurmurHash3's finaliser, unrelated to the scheme's
// hashes).
type freshElements struct{ n uint64 }

func (f *freshElements) next() uint64 {
	f.n++
	x := f.n
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	return x ^ x>>33
}

// sharedCount is the number m of shingles two sets of size n must share
// for their Jaccard similarity m/(2n-m) to be the least at or above j.
func sharedCount(n int, j float64) int {
	for m := 0; m < n; m++ {
		if float64(m)/float64(2*n-m) >= j {
			return m
		}
	}
	return n
}

// newCorpus generates the fingerprints of forks forks, of which pairs are
// the second forks of planted pairs.
func newCorpus(forks, pairs int) *corpus {
	rng := rand.New(rand.NewPCG(corpusSeed, uint64(forks)))
	var fresh freshElements
	pool := make([]uint64, corpusPool)
	for i := range pool {
		pool[i] = fresh.next()
	}
	sets := make([][]uint64, 0, forks)
	for range forks - pairs {
		s := make([]uint64, 0, corpusSetSize)
		for len(s) < corpusCommonPerFork {
			if x := pool[rng.IntN(len(pool))]; !slices.Contains(s, x) {
				s = append(s, x)
			}
		}
		for len(s) < corpusSetSize {
			s = append(s, fresh.next())
		}
		sets = append(sets, s)
	}
	var planted []plantedPair
	for p := range pairs {
		a := int32(p) // the base forks are in random order already
		m := sharedCount(corpusSetSize, plantLevels[p%len(plantLevels)])
		b := slices.Clone(sets[a])
		for _, i := range rng.Perm(corpusSetSize)[:corpusSetSize-m] {
			b[i] = fresh.next()
		}
		planted = append(planted, plantedPair{a: a, b: int32(len(sets)), jaccard: float64(m) / float64(2*corpusSetSize-m)})
		sets = append(sets, b)
	}
	// Shuffle so that the two forks of a pair are nowhere near each other.
	order := rng.Perm(forks) // order[new] = old
	where := make([]int32, forks)
	c := &corpus{ids: make([]string, forks), sets: make([][]uint64, forks), sigs: make([]minhash.Signature, forks)}
	for to, from := range order {
		where[from] = int32(to)
		c.ids[to] = fmt.Sprintf("fork-%05d", to)
		c.sets[to] = sets[from]
		slices.Sort(c.sets[to])
		c.sigs[to] = minhash.Sign(c.sets[to])
	}
	for _, p := range planted {
		c.planted = append(c.planted, plantedPair{a: where[p.a], b: where[p.b], jaccard: p.jaccard})
	}
	return c
}

// exactPairs returns every pair of forks whose exact Jaccard similarity is
// at least minJ (> 0), with that similarity, through an inverted index from
// shingle to forks: two sets share a shingle only through its posting list,
// so every pair with a non-empty intersection is found with its exact
// intersection size, and every pair not found shares nothing (J = 0). It
// gives the same answers as comparing every pair of sets with Jaccard
// (TestExactPairsAreAllPairs checks that), without the 50 million
// comparisons of 10,000 forks. Shingles held by one fork alone are left out
// of the index first: they are in no intersection.
func (c *corpus) exactPairs(minJ float64) map[pairKey]float64 {
	total := 0
	for _, s := range c.sets {
		total += len(s)
	}
	all := make([]uint64, 0, total)
	for _, s := range c.sets {
		all = append(all, s...)
	}
	slices.Sort(all)
	postings := make(map[uint64][]int32)
	for i := 1; i < len(all); i++ {
		if all[i] == all[i-1] {
			postings[all[i]] = nil
		}
	}
	all = nil
	for f, s := range c.sets {
		for _, x := range s {
			if p, ok := postings[x]; ok {
				postings[x] = append(p, int32(f))
			}
		}
	}
	inter := make(map[pairKey]int32)
	for _, p := range postings {
		for i, a := range p {
			for _, b := range p[i+1:] {
				inter[keyOf(a, b)]++
			}
		}
	}
	out := make(map[pairKey]float64)
	for k, n := range inter {
		j := float64(n) / float64(len(c.sets[k.a])+len(c.sets[k.b])-int(n))
		if j >= minJ {
			out[k] = j
		}
	}
	return out
}

// score judges reported pairs against the exact similarities: recall is the
// share of the pairs at reportAt or above that were reported, precision the
// share of reported pairs that are at reportAt or above.
func score(reported map[pairKey]bool, truth map[pairKey]float64) (recall, precision float64, missed, wrong []pairKey) {
	found, right, atLeast := 0, 0, 0
	for k, j := range truth {
		if j < reportAt {
			continue
		}
		atLeast++
		if reported[k] {
			found++
		} else {
			missed = append(missed, k)
		}
	}
	for k := range reported {
		if truth[k] >= reportAt {
			right++
		} else {
			wrong = append(wrong, k)
		}
	}
	return float64(found) / float64(atLeast), float64(right) / float64(len(reported)), missed, wrong
}

var (
	corpusOnce sync.Once
	corpusFull *corpus
)

// fullCorpus is the corpus of 10,000 forks, made once per test binary.
func fullCorpus() *corpus {
	corpusOnce.Do(func() { corpusFull = newCorpus(10_000, corpusPairs) })
	return corpusFull
}

// TestCorpusRecallAndPrecision indexes the generated corpus and asks the
// index, fork by fork, for the similar ones: at least 95 % of the pairs of
// exact similarity 0.7 or more must be found, and at least 90 % of what is
// found must be such a pair. It runs on 2,000 forks (1,700 + 300 planted
// pairs; under -race the full 10,000 take about 25 s), and
// BenchmarkCorpus asks the same of the full 10,000.
func TestCorpusRecallAndPrecision(t *testing.T) {
	c := newCorpus(2_000, corpusPairs)
	truth := c.exactPairs(0.01)
	for _, p := range c.planted {
		if got := truth[keyOf(p.a, p.b)]; got != p.jaccard {
			t.Fatalf("planted pair %s %s: exact Jaccard %v, generated for %v", c.ids[p.a], c.ids[p.b], got, p.jaccard)
		}
	}

	ix := minhash.NewIndex(searchThreshold)
	for i, id := range c.ids {
		ix.Add(id, c.sigs[i])
	}
	number := make(map[string]int32, len(c.ids))
	for i, id := range c.ids {
		number[id] = int32(i)
	}
	reported := make(map[pairKey]bool)
	for i, id := range c.ids {
		for _, m := range ix.Similar(c.sigs[i], id) {
			reported[keyOf(int32(i), number[m.ID])] = true
		}
	}
	recall, precision, missed, wrong := score(reported, truth)
	t.Logf("%d forks, %d pairs at J >= %v, %d reported: recall %.3f, precision %.3f", len(c.ids), countAtLeast(truth, reportAt), reportAt, len(reported), recall, precision)
	for _, k := range missed {
		t.Logf("missed %s %s: J %.4f, estimate %.4f", c.ids[k.a], c.ids[k.b], truth[k], c.sigs[k.a].Similarity(c.sigs[k.b]))
	}
	for _, k := range wrong {
		t.Logf("reported %s %s: J %.4f, estimate %.4f", c.ids[k.a], c.ids[k.b], truth[k], c.sigs[k.a].Similarity(c.sigs[k.b]))
	}
	if recall < 0.95 {
		t.Errorf("recall %.3f, want >= 0.95", recall)
	}
	if precision < 0.90 {
		t.Errorf("precision %.3f, want >= 0.90", precision)
	}

	t.Run("Pairs finds what Similar finds for every fork", func(t *testing.T) {
		pairs := ix.Pairs()
		if len(pairs) != len(reported) {
			t.Errorf("Pairs gives %d pairs, Similar %d", len(pairs), len(reported))
		}
		for _, p := range pairs {
			if !reported[keyOf(number[p.A], number[p.B])] {
				t.Errorf("Pairs gives %s %s, which Similar does not", p.A, p.B)
			}
		}
	})
}

func countAtLeast(truth map[pairKey]float64, j float64) int {
	n := 0
	for _, v := range truth {
		if v >= j {
			n++
		}
	}
	return n
}

// TestExactPairsAreAllPairs holds the inverted index of exactPairs to
// Jaccard over every pair, on a corpus small enough to compare them all.
func TestExactPairsAreAllPairs(t *testing.T) {
	c := newCorpus(200, 30)
	got := c.exactPairs(1e-9)
	want := make(map[pairKey]float64)
	for a := range c.sets {
		for b := a + 1; b < len(c.sets); b++ {
			if j := minhash.Jaccard(c.sets[a], c.sets[b]); j > 0 {
				want[keyOf(int32(a), int32(b))] = j
			}
		}
	}
	if len(got) != len(want) {
		t.Errorf("inverted index: %d pairs, all pairs: %d", len(got), len(want))
	}
	for k, j := range want {
		if got[k] != j {
			t.Errorf("pair %v: inverted index %v, all pairs %v", k, got[k], j)
		}
	}
	if len(want) <= 30 {
		t.Errorf("only %d pairs share anything; the common pool should add some beyond the 30 planted", len(want))
	}
}
