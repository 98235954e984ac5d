package minhash_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/dpihub/dpihub/events/minhash"
)

// pairAt returns two sets of n fresh shingles whose exact Jaccard
// similarity is the least at or above j.
func pairAt(fresh *freshElements, rng *rand.Rand, n int, j float64) (a, b []uint64) {
	a = make([]uint64, n)
	for i := range a {
		a[i] = fresh.next()
	}
	b = slices.Clone(a)
	for _, i := range rng.Perm(n)[:n-sharedCount(n, j)] {
		b[i] = fresh.next()
	}
	slices.Sort(a)
	slices.Sort(b)
	return a, b
}

func TestSignIgnoresOrderAndDuplicates(t *testing.T) {
	var fresh freshElements
	set := make([]uint64, 500)
	for i := range set {
		set[i] = fresh.next()
	}
	want := minhash.Sign(set)
	shuffled := slices.Clone(set)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	doubled := append(slices.Clone(shuffled), set[:200]...)
	for name, in := range map[string][]uint64{"shuffled": shuffled, "with duplicates": doubled} {
		if got := minhash.Sign(in); got != want {
			t.Errorf("%s: another signature", name)
		}
	}
	if want.Similarity(want) != 1 {
		t.Errorf("a signature's similarity to itself is %v", want.Similarity(want))
	}
}

// TestSimilarityEstimatesJaccard: the estimate of one pair lies within 0.1
// of the exact similarity (the standard error is at most 0.044 at K = 128),
// and averaged over 200 pairs within 0.01 (the estimate is unbiased), for
// large sets and for small ones that densification fills.
func TestSimilarityEstimatesJaccard(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	var fresh freshElements
	for _, size := range []int{2000, 40} {
		for _, j := range []float64{0.2, 0.5, 0.8} {
			sum, worst := 0.0, 0.0
			const pairs = 200
			var exact float64
			for i := range pairs {
				a, b := pairAt(&fresh, rng, size, j)
				exact = minhash.Jaccard(a, b)
				est := minhash.Sign(a).Similarity(minhash.Sign(b))
				if i == 0 && math.Abs(est-exact) > 0.1 {
					t.Errorf("%d shingles, J = %.3f: estimate %.3f", size, exact, est)
				}
				sum += est - exact
				worst = max(worst, math.Abs(est-exact))
			}
			t.Logf("%d shingles, J = %.3f: mean error %+.4f, largest %.3f over %d pairs", size, exact, sum/pairs, worst, pairs)
			if math.Abs(sum/pairs) > 0.01 {
				t.Errorf("%d shingles, J = %.3f: mean error %+.4f over %d pairs", size, exact, sum/pairs, pairs)
			}
		}
	}
}

func TestEmptySignature(t *testing.T) {
	empty := minhash.Sign(nil)
	if minhash.Sign([]uint64{}) != empty {
		t.Error("Sign of nil and of an empty slice differ")
	}
	if !empty.IsEmpty() {
		t.Error("IsEmpty is false")
	}
	one := minhash.Sign([]uint64{1})
	if one.IsEmpty() {
		t.Error("the signature of {1} is empty")
	}
	for name, sim := range map[string]float64{
		"with itself":      empty.Similarity(empty),
		"with another set": empty.Similarity(one),
		"the other way":    one.Similarity(empty),
	} {
		if sim != 0 {
			t.Errorf("similarity %s: %v, want 0", name, sim)
		}
	}
	back, err := minhash.FromValues(empty.Values())
	if err != nil || back != empty {
		t.Errorf("FromValues(Values()) of the empty signature: %v", err)
	}
}

func TestFromValues(t *testing.T) {
	s := minhash.Sign([]uint64{1, 2, 3, 4, 5})
	back, err := minhash.FromValues(s.Values())
	if err != nil || back != s {
		t.Fatalf("FromValues(Values()): %v", err)
	}
	v := s.Values()
	v[0]++
	if s.Values()[0] == v[0] {
		t.Error("Values shares the signature's memory")
	}

	partlyEmpty := s.Values()
	partlyEmpty[7] = math.MaxUint32
	for _, tc := range []struct {
		name   string
		values []uint32
	}{
		{"no values", nil},
		{"the 8 values of the sample event", []uint32{12034587, 88120451, 301554672, 4012775190, 27718902, 950113274, 1650023891, 3221004567}},
		{"one value short", s.Values()[:minhash.K-1]},
		{"one value more", append(s.Values(), 1)},
		{"the empty set's marker in some positions", partlyEmpty},
	} {
		t.Run(tc.name+" is refused", func(t *testing.T) {
			_, err := minhash.FromValues(tc.values)
			if !errors.Is(err, minhash.ErrSignature) {
				t.Fatalf("got %v, want an ErrSignature", err)
			}
			t.Log(err)
		})
	}
}

func TestJaccard(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b []uint64
		want float64
	}{
		{"two empty sets", nil, nil, 0},
		{"an empty set and another", nil, []uint64{1}, 0},
		{"equal sets", []uint64{1, 2, 3}, []uint64{1, 2, 3}, 1},
		{"disjoint sets", []uint64{1, 3}, []uint64{2, 4}, 0},
		{"overlapping sets", []uint64{1, 2, 3, 4}, []uint64{3, 4, 5}, 2.0 / 5},
		{"one inside the other", []uint64{1, 2, 3, 4}, []uint64{2, 3}, 0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := minhash.Jaccard(tc.a, tc.b); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if got := minhash.Jaccard(tc.b, tc.a); got != tc.want {
				t.Errorf("swapped: got %v, want %v", got, tc.want)
			}
		})
	}
}
