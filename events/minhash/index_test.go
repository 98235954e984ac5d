package minhash_test

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/dpihub/dpihub/events/minhash"
)

func TestNewIndexChoosesBands(t *testing.T) {
	for _, tc := range []struct {
		threshold       float64
		bands, rows     int
		clampedTo       float64
		probabilityNote string
	}{
		{threshold: 0.7, bands: 32, rows: 4},
		{threshold: 0.65, bands: 32, rows: 4},
		{threshold: 0.61, bands: 32, rows: 4},
		{threshold: 0.84, bands: 32, rows: 4},
		{threshold: 0.6, bands: 64, rows: 2},
		{threshold: 0.5, bands: 64, rows: 2},
		{threshold: 0.27, bands: 64, rows: 2},
		{threshold: 0.26, bands: 128, rows: 1},
		{threshold: 0.85, bands: 16, rows: 8},
		{threshold: 0.9, bands: 16, rows: 8},
		{threshold: 0.95, bands: 8, rows: 16},
		{threshold: 0.99, bands: 4, rows: 32},
		{threshold: 1, bands: 4, rows: 32},
		{threshold: 2, bands: 4, rows: 32, clampedTo: 1},
		{threshold: math.NaN(), bands: 4, rows: 32, clampedTo: 1},
		{threshold: -1, bands: 128, rows: 1, clampedTo: 0},
	} {
		t.Run(fmt.Sprintf("threshold %v gives %d bands of %d rows", tc.threshold, tc.bands, tc.rows), func(t *testing.T) {
			ix := minhash.NewIndex(tc.threshold)
			if ix.Bands() != tc.bands || ix.Rows() != tc.rows {
				t.Errorf("got %d bands of %d rows", ix.Bands(), ix.Rows())
			}
			want := tc.threshold
			if math.IsNaN(want) || want < 0 || want > 1 {
				want = tc.clampedTo
			}
			if ix.Threshold() != want {
				t.Errorf("threshold %v, want %v", ix.Threshold(), want)
			}
			if want > 0.05 && ix.Probability(want) < 0.99 {
				t.Errorf("a pair at the threshold is a candidate with probability %.4f", ix.Probability(want))
			}
		})
	}
}

// TestSCurve holds NewIndex's documented table to the formula.
func TestSCurve(t *testing.T) {
	ix := minhash.NewIndex(0.7)
	for _, tc := range []struct {
		j    float64
		want string
	}{
		{0.3, "0.229"}, {0.5, "0.873"}, {0.6, "0.988"}, {0.65, "0.998"}, {0.7, "0.9998"}, {0.8, ">0.9999"}, {0.9, ">0.9999"},
	} {
		p := ix.Probability(tc.j)
		got := fmt.Sprintf("%.*f", len(tc.want)-2, p)
		if tc.want[0] == '>' {
			got = "<=0.9999"
			if p > 0.9999 {
				got = ">0.9999"
			}
		}
		if got != tc.want {
			t.Errorf("P(%v) = %v, documented as %s", tc.j, p, tc.want)
		}
	}
}

// family returns signatures of sets that overlap: n sets of 300 shingles,
// each a mutation of one of a few bases, so that many pairs share bands.
func family(n int, seed uint64) []minhash.Signature {
	rng := rand.New(rand.NewPCG(seed, 1))
	var fresh freshElements
	bases := make([][]uint64, 5)
	for i := range bases {
		for range 300 {
			bases[i] = append(bases[i], fresh.next())
		}
	}
	out := make([]minhash.Signature, n)
	for i := range out {
		s := slices.Clone(bases[rng.IntN(len(bases))])
		for range rng.IntN(60) {
			s[rng.IntN(len(s))] = fresh.next()
		}
		out[i] = minhash.Sign(s)
	}
	return out
}

func TestIndex(t *testing.T) {
	sigs := family(3, 1)
	a, b := sigs[0], sigs[0]
	b[5]++ // one position differs: similarity 127/128
	c := minhash.Sign([]uint64{7, 8, 9})

	ix := minhash.NewIndex(0.7)
	ix.Add("a", a)
	ix.Add("b", b)
	ix.Add("c", c)
	if ix.Len() != 3 {
		t.Fatalf("Len = %d, want 3", ix.Len())
	}
	t.Run("candidates share a band and leave self out", func(t *testing.T) {
		if got := ix.Candidates(a, "a"); !slices.Equal(got, []string{"b"}) {
			t.Errorf("Candidates(a, a) = %v, want [b]", got)
		}
		if got := ix.Candidates(a, ""); !slices.Equal(got, []string{"a", "b"}) {
			t.Errorf("Candidates(a, \"\") = %v, want [a b]", got)
		}
		if got := ix.Candidates(a, "nobody"); !slices.Equal(got, []string{"a", "b"}) {
			t.Errorf("Candidates(a, nobody) = %v, want [a b]", got)
		}
	})
	t.Run("similar gives the estimate", func(t *testing.T) {
		got := ix.Similar(a, "a")
		if len(got) != 1 || got[0].ID != "b" || got[0].Similarity != a.Similarity(b) || got[0].Similarity != 127.0/128 {
			t.Errorf("Similar(a, a) = %v, want [{b %v}]", got, a.Similarity(b))
		}
		if got := ix.Pairs(); !slices.Equal(got, []minhash.Pair{{A: "a", B: "b", Similarity: 127.0 / 128}}) {
			t.Errorf("Pairs() = %v", got)
		}
	})
	t.Run("adding an id again replaces its signature", func(t *testing.T) {
		ix.Add("b", c)
		if ix.Len() != 3 {
			t.Errorf("Len = %d, want 3", ix.Len())
		}
		if got := ix.Candidates(a, "a"); len(got) != 0 {
			t.Errorf("Candidates(a, a) = %v, want none", got)
		}
		if got := ix.Candidates(c, "c"); !slices.Equal(got, []string{"b"}) {
			t.Errorf("Candidates(c, c) = %v, want [b]", got)
		}
		ix.Add("b", b)
	})
	t.Run("removing an id removes it from every bucket", func(t *testing.T) {
		ix.Remove("b")
		ix.Remove("b")
		ix.Remove("never there")
		if ix.Len() != 2 {
			t.Errorf("Len = %d, want 2", ix.Len())
		}
		if got := ix.Candidates(a, "a"); len(got) != 0 {
			t.Errorf("Candidates(a, a) = %v, want none", got)
		}
		if got := ix.Pairs(); len(got) != 0 {
			t.Errorf("Pairs() = %v, want none", got)
		}
		ix.Add("b2", b) // reuses b's place
		if got := ix.Similar(a, "a"); len(got) != 1 || got[0].ID != "b2" {
			t.Errorf("Similar(a, a) = %v, want b2", got)
		}
	})
	t.Run("the empty signature is kept and matches nothing", func(t *testing.T) {
		empty := minhash.Sign(nil)
		ix.Add("e", empty)
		ix.Add("e2", empty)
		if ix.Len() != 5 {
			t.Errorf("Len = %d, want 5", ix.Len())
		}
		if got := ix.Candidates(empty, "e"); len(got) != 0 {
			t.Errorf("Candidates(empty) = %v, want none", got)
		}
		if got := ix.Candidates(a, "a"); !slices.Equal(got, []string{"b2"}) {
			t.Errorf("Candidates(a, a) = %v, want [b2]", got)
		}
	})
	t.Run("an empty id is an id like another", func(t *testing.T) {
		ix.Add("", a)
		if got := ix.Candidates(a, "a"); !slices.Equal(got, []string{"", "b2"}) {
			t.Errorf("Candidates(a, a) = %v, want [ b2]", got)
		}
		ix.Remove("")
	})
}

func TestSimilarOrder(t *testing.T) {
	base := family(1, 2)[0]
	ix := minhash.NewIndex(0.5)
	rng := rand.New(rand.NewPCG(3, 3))
	for i := range 40 {
		s := base
		for _, p := range rng.Perm(minhash.K)[:rng.IntN(40)] {
			s[p] = uint32(rng.Uint64())
		}
		ix.Add(fmt.Sprintf("f%02d", 39-i), s)
	}
	got := ix.Similar(base, "")
	if len(got) < 10 {
		t.Fatalf("only %d similar", len(got))
	}
	ok := slices.IsSortedFunc(got, func(x, y minhash.Match) int {
		if x.Similarity != y.Similarity {
			if x.Similarity > y.Similarity {
				return -1
			}
			return 1
		}
		if x.ID < y.ID {
			return -1
		}
		return 1
	})
	if !ok {
		t.Errorf("not most similar first, then by id: %v", got)
	}
	if cands := ix.Candidates(base, ""); !slices.IsSorted(cands) {
		t.Errorf("candidates not sorted: %v", cands)
	}
}

// TestIndexAgainstModel runs random adds, replacements and removals on an
// index and checks every answer against a model that compares the bands of
// every stored signature directly: it exercises the bucket lists, the band
// tables' growth and their deletions. Signatures come from a few families
// (so that buckets hold many), some with the empty set's marker in a band
// (never indexed) and some empty.
func TestIndexAgainstModel(t *testing.T) {
	for _, threshold := range []float64{0.5, 0.7, 0.9} {
		t.Run(fmt.Sprintf("threshold %v", threshold), func(t *testing.T) {
			checkAgainstModel(t, threshold)
		})
	}
}

func checkAgainstModel(t *testing.T, threshold float64) {
	rng := rand.New(rand.NewPCG(4, uint64(threshold*100)))
	pool := family(300, 5)
	pool = append(pool, minhash.Sign(nil))
	for i := range 20 {
		s := pool[i]
		s[rng.IntN(minhash.K)] = math.MaxUint32
		pool = append(pool, s)
	}
	ix := minhash.NewIndex(threshold)
	model := map[string]minhash.Signature{}
	shareBand := func(x, y minhash.Signature) bool {
		r := ix.Rows()
		for b := range ix.Bands() {
			bx, by := x[b*r:(b+1)*r], y[b*r:(b+1)*r]
			if slices.Equal(bx, by) && !slices.Contains(bx, math.MaxUint32) {
				return true
			}
		}
		return false
	}
	check := func(step int) {
		t.Helper()
		if ix.Len() != len(model) {
			t.Fatalf("step %d: Len %d, model %d", step, ix.Len(), len(model))
		}
		for range 5 {
			q := pool[rng.IntN(len(pool))]
			self := fmt.Sprintf("id%d", rng.IntN(250))
			var want []string
			for id, s := range model {
				if id != self && shareBand(q, s) {
					want = append(want, id)
				}
			}
			slices.Sort(want)
			if got := ix.Candidates(q, self); !slices.Equal(got, want) {
				t.Fatalf("step %d: Candidates = %v, want %v", step, got, want)
			}
		}
		var want []minhash.Pair
		for a, sa := range model {
			for b, sb := range model {
				if a < b && shareBand(sa, sb) && sa.Similarity(sb) >= threshold {
					want = append(want, minhash.Pair{A: a, B: b, Similarity: sa.Similarity(sb)})
				}
			}
		}
		got := ix.Pairs()
		slices.SortFunc(want, func(x, y minhash.Pair) int {
			for _, c := range []int{cmp.Compare(y.Similarity, x.Similarity), cmp.Compare(x.A, y.A), cmp.Compare(x.B, y.B)} {
				if c != 0 {
					return c
				}
			}
			return 0
		})
		if !slices.Equal(got, want) {
			t.Fatalf("step %d: Pairs gives %d pairs, the model %d", step, len(got), len(want))
		}
	}
	for step := range 3000 {
		id := fmt.Sprintf("id%d", rng.IntN(250))
		if rng.IntN(3) == 0 {
			ix.Remove(id)
			delete(model, id)
		} else {
			s := pool[rng.IntN(len(pool))]
			ix.Add(id, s)
			model[id] = s
		}
		if step%100 == 99 {
			check(step)
		}
	}
	for id := range model {
		ix.Remove(id)
	}
	if ix.Len() != 0 || len(ix.Pairs()) != 0 {
		t.Errorf("after removing everything: Len %d, %d pairs", ix.Len(), len(ix.Pairs()))
	}
}

// TestIndexReadsConcurrently: the methods that only read may run at once
// (the race detector checks it under go test -race).
func TestIndexReadsConcurrently(t *testing.T) {
	sigs := family(200, 6)
	ix := minhash.NewIndex(0.7)
	for i, s := range sigs {
		ix.Add(fmt.Sprint(i), s)
	}
	want := ix.Pairs()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := g; i < len(sigs); i += 4 {
				ix.Candidates(sigs[i], fmt.Sprint(i))
				ix.Similar(sigs[i], fmt.Sprint(i))
			}
			if got := ix.Pairs(); !slices.Equal(got, want) {
				t.Error("Pairs changed")
			}
			_ = ix.Len() + ix.MemoryBytes()
		})
	}
	wg.Wait()
}

func TestMemoryBytes(t *testing.T) {
	ix := minhash.NewIndex(0.7)
	empty := ix.MemoryBytes()
	for i, s := range family(1000, 7) {
		ix.Add(fmt.Sprintf("fork-%04d", i), s)
	}
	perFork := float64(ix.MemoryBytes()-empty) / 1000
	t.Logf("%.0f bytes per fork", perFork)
	if perFork < minhash.K*4 || perFork > 1200 {
		t.Errorf("%.0f bytes per fork: not even the signature, or far more than the design's ~1 KiB", perFork)
	}
}
