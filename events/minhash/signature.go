package minhash

import (
	"errors"
	"fmt"
)

// Version is the version of the scheme: normalisation, shingles, hash
// functions, seeds, K and how Sign fills a signature. Signatures of two
// versions are not comparable, and the dedup service refuses a signature of
// another version. Any change to any of these must come with a new Version
// (and new golden values in golden_test.go, which fails otherwise).
const Version = 1

// K is the length of a signature: the number of bins of Sign's one
// permutation. The standard error of Similarity is about
// sqrt(J(1-J)/K): 0.044 at J = 0.5, 0.040 at 0.7, 0.027 at 0.9.
const K = 128

// emptyValue fills every position of the empty set's signature. Sign never
// puts it in a signature of a non-empty set, so a position holding it
// matches nothing.
const emptyValue = ^uint32(0)

// maxBorrowAttempts bounds the search of an empty bin for a bin to borrow
// from; TestDensifyReachesEveryBin proves that for every bin the sequence
// reaches all K bins within this many attempts, so the bound is never what
// ends the search.
const maxBorrowAttempts = 2048

// ErrSignature is wrapped by FromValues's errors: the values are not a
// signature of this Version.
var ErrSignature = errors.New("minhash: not a signature")

// Signature is a MinHash signature of K values. The zero value is not a
// signature; use Sign or FromValues.
type Signature [K]uint32

// Sign returns the signature of a set of shingles (in any order, duplicates
// allowed: they change nothing).
//
// It uses one-permutation hashing: each shingle x is hashed once,
// h = mix64(x ^ seed); the top 7 bits of h choose one of K bins and the next
// 32 bits are its value; a bin keeps the least value it gets. A bin that no
// shingle reached (likely when the set has fewer than a few hundred
// elements) borrows the value of a non-empty bin found by optimal
// densification (Shrivastava 2017): bin i tries bins
// mix64((i<<32 | attempt) ^ seed') >> 57 for attempt = 1, 2, ... and takes
// the first that was non-empty before densification. Two sets that agree on
// which bins are empty therefore borrow alike, and the fraction of equal
// positions stays an unbiased estimate of their Jaccard similarity. The
// seeds are fixed, so every producer computes the same signature for the
// same set.
//
// The empty set (nil or empty shingles) gives the empty signature, which is
// similar to nothing: Similarity 0 with any signature, itself included.
func Sign(shingles []uint64) Signature {
	var s Signature
	for i := range s {
		s[i] = emptyValue
	}
	for _, x := range shingles {
		h := mix64(x ^ seedSign)
		v := uint32(h >> 25)
		if v == emptyValue {
			v--
		}
		if bin := h >> 57; v < s[bin] {
			s[bin] = v
		}
	}
	if len(shingles) > 0 {
		densify(&s)
	}
	return s
}

// densify fills the empty bins of a signature of a non-empty set.
func densify(s *Signature) {
	var full [K / 64]uint64 // bins non-empty before densification
	empty := 0
	for i, v := range s {
		if v != emptyValue {
			full[i/64] |= 1 << (i % 64)
		} else {
			empty++
		}
	}
	if empty == 0 {
		return
	}
	for i := range s {
		if full[i/64]&(1<<(i%64)) != 0 {
			continue
		}
		s[i] = s[borrow(i, &full)]
	}
}

// borrow returns the bin that the empty bin i copies: the first non-empty
// bin of i's sequence. full has at least one bit set.
func borrow(i int, full *[K / 64]uint64) int {
	for attempt := uint64(1); attempt <= maxBorrowAttempts; attempt++ {
		j := borrowCandidate(i, attempt)
		if full[j/64]&(1<<(j%64)) != 0 {
			return j
		}
	}
	// Unreachable (see maxBorrowAttempts); kept so that Sign is total.
	for j := (i + 1) % K; ; j = (j + 1) % K {
		if full[j/64]&(1<<(j%64)) != 0 {
			return j
		}
	}
}

// borrowCandidate is the bin that empty bin i tries at the given attempt.
func borrowCandidate(i int, attempt uint64) int {
	return int(mix64((uint64(i)<<32|attempt)^seedDensify) >> 57)
}

// IsEmpty reports whether s is the signature of the empty set.
func (s Signature) IsEmpty() bool {
	for _, v := range s {
		if v != emptyValue {
			return false
		}
	}
	return true
}

// Similarity estimates the Jaccard similarity of the two sets that s and o
// are signatures of: the fraction of the K positions where they hold equal
// values. Positions of the empty signature count as unequal to everything,
// so Similarity is 0 when either is empty.
func (s Signature) Similarity(o Signature) float64 {
	return float64(equalPositions(&s, &o)) / K
}

// equalPositions counts the positions where a and b hold the same value,
// not counting the empty set's marker.
func equalPositions(a, b *Signature) int {
	n := 0
	for i := range a {
		if a[i] == b[i] && a[i] != emptyValue {
			n++
		}
	}
	return n
}

// Values returns the signature as the K values that events carry
// (fork.snapshot's "minhash"); the slice is a copy.
func (s Signature) Values() []uint32 { return append([]uint32(nil), s[:]...) }

// FromValues returns the signature carried as v in an event. It refuses
// (with an error wrapping ErrSignature) a length other than K, the mark of
// another Version or of a truncated signature, and values that Sign cannot
// produce: some but not all positions holding the empty set's marker
// 4294967295.
func FromValues(v []uint32) (Signature, error) {
	var s Signature
	if len(v) != K {
		return s, fmt.Errorf("%w: %d values, want %d (scheme version %d)", ErrSignature, len(v), K, Version)
	}
	copy(s[:], v)
	empty := 0
	for _, x := range v {
		if x == emptyValue {
			empty++
		}
	}
	if empty != 0 && empty != K {
		return Signature{}, fmt.Errorf("%w: %d of %d values are %d, which only the empty set's signature holds, in all of them",
			ErrSignature, empty, K, emptyValue)
	}
	return s, nil
}

// Jaccard returns the exact Jaccard similarity |a ∩ b| / |a ∪ b| of two
// sets given as sorted slices without duplicates (as the Shingles functions
// return them); 0 when both are empty, as Similarity says of two empty
// signatures. On other input the result means nothing, but Jaccard does not
// fail.
func Jaccard(a, b []uint64) float64 {
	inter, i, j := 0, 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			inter++
			i++
			j++
		}
	}
	union := len(a) + len(b) - inter
	if union <= 0 {
		return 0
	}
	return float64(inter) / float64(union)
}
