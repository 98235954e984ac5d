package minhash

import (
	"cmp"
	"math"
	"slices"
)

// Index is an LSH index of signatures: each signature is cut into Bands
// bands of Rows consecutive positions (Bands*Rows == K), and two signatures
// are candidates when they hold equal values in every position of at least
// one band. A pair of sets of Jaccard similarity J is then a candidate with
// probability 1-(1-J^Rows)^Bands (Probability), however many signatures
// the index holds, and a look-up costs Bands hash probes instead of one
// comparison with every signature.
//
// An Index is not safe for concurrent use: Add and Remove must not run at
// the same time as any other method. The other methods only read, so any
// number of them may run at once.
//
// Memory. Per signature the index keeps the signature itself (512 bytes,
// in slabs of 128 signatures, so growing never copies them), its id (in a
// slice and in a map), and per band a slot of an open-addressing hash table
// (a 1-byte tag and a 4-byte head, at a load factor between 0.55 and 0.8).
// A slot names the bucket's only signature directly; only buckets of two or
// more signatures get a list. With 32 bands that is about 0.9 KiB per
// signature when most buckets hold one (MemoryBytes; BenchmarkCorpus
// measures it), plus 4 bytes per member of a larger bucket.
//
// The band tables key buckets by a hash of the band's values that stays in
// memory; it is not part of the scheme, and changing it needs no Version.
type Index struct {
	threshold   float64
	bands, rows int

	ids     []string         // by internal number; "" when free
	number  map[string]int32 // id -> internal number
	free    []int32          // internal numbers to reuse
	slabs   [][]uint32       // signatures by internal number, slabLen a slab
	tables  []table          // one per band
	buckets [][]int32        // members of the buckets of two or more, any band; nil when free
	bandOf  []uint8          // the band of each bucket
	unused  []int32          // indexes of nil buckets
}

const (
	slabBits = 7
	slabLen  = 1 << slabBits // signatures per slab: 256 KiB, a whole number of pages
	slabMask = slabLen - 1
)

// table maps the values of one band to their bucket. Open addressing with
// linear probing: tags[i] == 0 marks an empty slot, otherwise it holds 8
// bits of the band's hash, so that a probe reads a signature only when the
// tag matches. heads[i] >= 0 is the internal number of the bucket's only
// signature; heads[i] < 0 is ^j for the bucket Index.buckets[j].
type table struct {
	tags  []uint8
	heads []int32
	used  int
}

const (
	maxLoadNum, maxLoadDen = 4, 5 // grow beyond a load factor of 0.8
	grownLoad              = 0.55 // the load factor right after growing
)

// bandMul holds the odd multipliers of the band hash, one per position.
var bandMul = func() (m [K]uint64) {
	for i := range m {
		m[i] = mix64(seedBand+uint64(i)) | 1
	}
	return m
}()

// Match is a signature found similar to the one looked up.
type Match struct {
	ID         string
	Similarity float64 // estimated, Signature.Similarity
}

// Pair is a pair of signatures of an Index found similar to each other.
type Pair struct {
	A, B       string  // A < B
	Similarity float64 // estimated, Signature.Similarity
}

// The least probability with which NewIndex makes a pair at its threshold
// a candidate.
const minCandidateProbability = 0.99

// NewIndex returns an empty index for finding signatures of estimated
// similarity at least threshold (clamped to [0, 1]; NaN counts as 1).
//
// It takes the most rows per band (of 32, 16, 8, 4, 2, 1: Rows must divide
// K) that still make a pair at the threshold a candidate with probability
// at least 0.99: more rows per band mean fewer candidates below the
// threshold, less memory and faster look-ups. For thresholds from 0.61 to
// 0.84, which includes dpihub's 0.7, that is 32 bands of 4 rows, and a pair
// of similarity J is a candidate with probability
//
//	J     0.3    0.5    0.6    0.65   0.7     0.8      0.9
//	P     0.229  0.873  0.988  0.998  0.9998  >0.9999  >0.9999
//
// Other thresholds: 64 bands of 2 rows from 0.27 to 0.6 (P(0.3) = 0.998),
// 16 of 8 from 0.85 to 0.94, 8 of 16 from 0.95 to 0.98, 4 of 32 above,
// 128 of 1 below 0.27.
//
// A candidate is reported when its estimate is at least the threshold. The
// estimate of a pair at exactly J is above or below J about equally often
// (standard error sqrt(J(1-J)/K), 0.04 at 0.7), so to find nearly all pairs
// of true similarity at least J, give a threshold a little below J: 0.65
// finds 95 % or more of the pairs at 0.7 or above
// (TestCorpusRecallAndPrecision, BenchmarkCorpus).
func NewIndex(threshold float64) *Index {
	switch {
	case math.IsNaN(threshold) || threshold > 1:
		threshold = 1
	case threshold < 0:
		threshold = 0
	}
	ix := &Index{threshold: threshold, number: make(map[string]int32)}
	ix.bands, ix.rows = K, 1
	for rows := 32; rows > 1; rows /= 2 {
		if candidateProbability(threshold, K/rows, rows) >= minCandidateProbability {
			ix.bands, ix.rows = K/rows, rows
			break
		}
	}
	ix.tables = make([]table, ix.bands)
	return ix
}

func candidateProbability(j float64, bands, rows int) float64 {
	return 1 - math.Pow(1-math.Pow(j, float64(rows)), float64(bands))
}

// Threshold returns the threshold the index was made for (after clamping).
func (ix *Index) Threshold() float64 { return ix.threshold }

// Bands returns the number of bands.
func (ix *Index) Bands() int { return ix.bands }

// Rows returns the number of positions per band.
func (ix *Index) Rows() int { return ix.rows }

// Probability returns the probability that two signatures of sets of
// Jaccard similarity j share a band, 1-(1-j^Rows)^Bands: the S-curve of
// the index.
func (ix *Index) Probability(j float64) float64 { return candidateProbability(j, ix.bands, ix.rows) }

// Len returns the number of signatures in the index.
func (ix *Index) Len() int { return len(ix.number) }

// Add puts the signature s under id, replacing the one id had. The empty
// signature is kept (Len counts it) but is nobody's candidate.
func (ix *Index) Add(id string, s Signature) {
	if n, ok := ix.number[id]; ok {
		ix.unlink(n)
		*ix.sig(n) = s
		ix.link(n)
		return
	}
	var n int32
	if k := len(ix.free); k > 0 {
		n, ix.free = ix.free[k-1], ix.free[:k-1]
		ix.ids[n] = id
	} else {
		n = int32(len(ix.ids))
		ix.ids = append(ix.ids, id)
		if int(n)>>slabBits == len(ix.slabs) {
			ix.slabs = append(ix.slabs, make([]uint32, slabLen*K))
		}
	}
	ix.number[id] = n
	*ix.sig(n) = s
	ix.link(n)
}

// Remove removes id's signature; it does nothing when id is not in the
// index.
func (ix *Index) Remove(id string) {
	n, ok := ix.number[id]
	if !ok {
		return
	}
	ix.unlink(n)
	delete(ix.number, id)
	ix.ids[n] = ""
	ix.free = append(ix.free, n)
}

// Candidates returns the ids of the signatures that share at least one band
// with s, except self's (self == "" excludes nothing), sorted. The empty
// signature has no candidates.
func (ix *Index) Candidates(s Signature, self string) []string {
	nums := ix.candidates(&s, self)
	ids := make([]string, len(nums))
	for i, n := range nums {
		ids[i] = ix.ids[n]
	}
	slices.Sort(ids)
	return ids
}

// Similar returns the candidates of s (as Candidates) whose estimated
// similarity to s is at least the index's threshold, most similar first,
// then by id.
func (ix *Index) Similar(s Signature, self string) []Match {
	var out []Match
	for _, n := range ix.candidates(&s, self) {
		if sim := float64(equalPositions(&s, ix.sig(n))) / K; sim >= ix.threshold {
			out = append(out, Match{ID: ix.ids[n], Similarity: sim})
		}
	}
	slices.SortFunc(out, func(a, b Match) int {
		if c := cmp.Compare(b.Similarity, a.Similarity); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out
}

// Pairs returns every pair of signatures in the index that share a band
// and whose estimated similarity is at least the threshold, most similar
// first, then by ids: what calling Similar for every signature finds, each
// pair once, without a look-up per signature. It reads only the buckets of
// two or more, so its cost grows with the number of pairs that share a
// band, not with the number of all pairs.
func (ix *Index) Pairs() []Pair {
	var out []Pair
	for i, members := range ix.buckets {
		band := int(ix.bandOf[i])
		for j, a := range members {
			for _, b := range members[j+1:] {
				sa, sb := ix.sig(a), ix.sig(b)
				if ix.firstSharedBand(sa, sb) != band {
					continue // found in an earlier band
				}
				sim := float64(equalPositions(sa, sb)) / K
				if sim < ix.threshold {
					continue
				}
				p := Pair{A: ix.ids[a], B: ix.ids[b], Similarity: sim}
				if p.B < p.A {
					p.A, p.B = p.B, p.A
				}
				out = append(out, p)
			}
		}
	}
	slices.SortFunc(out, func(p, q Pair) int {
		if c := cmp.Compare(q.Similarity, p.Similarity); c != 0 {
			return c
		}
		if c := cmp.Compare(p.A, q.A); c != 0 {
			return c
		}
		return cmp.Compare(p.B, q.B)
	})
	return out
}

// MemoryBytes estimates the memory the index holds, in bytes: signatures,
// band tables, bucket lists, the bytes of its ids and its id map (at 40
// bytes an entry, what a Go map of string to int32 takes at its average
// load). BenchmarkCorpus compares it with what the Go heap grows by.
func (ix *Index) MemoryBytes() int {
	const mapEntry, sliceHeader = 40, 24
	n := len(ix.slabs) * slabLen * K * 4
	for _, t := range ix.tables {
		n += cap(t.tags) + 4*cap(t.heads)
	}
	n += sliceHeader*cap(ix.buckets) + cap(ix.bandOf)
	for _, b := range ix.buckets {
		n += 4 * cap(b)
	}
	n += 16*cap(ix.ids) + 4*cap(ix.free) + 4*cap(ix.unused) + mapEntry*len(ix.number)
	for id := range ix.number {
		n += len(id)
	}
	return n
}

// candidates returns the internal numbers of s's candidates, sorted.
func (ix *Index) candidates(s *Signature, self string) []int32 {
	skip := int32(-1)
	if n, ok := ix.number[self]; ok && self != "" {
		skip = n
	}
	var out []int32
	for b := range ix.bands {
		h, ok := ix.bandHash(s, b)
		if !ok {
			continue
		}
		slot, found := ix.lookup(b, h, s)
		if !found {
			continue
		}
		head := ix.tables[b].heads[slot]
		if head >= 0 {
			if head != skip {
				out = append(out, head)
			}
			continue
		}
		for _, n := range ix.buckets[^head] {
			if n != skip {
				out = append(out, n)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// firstSharedBand returns the first band in which a and b hold equal values
// and no empty set's marker, or -1.
func (ix *Index) firstSharedBand(a, b *Signature) int {
	for band := range ix.bands {
		lo, hi := band*ix.rows, (band+1)*ix.rows
		if slices.Equal(a[lo:hi], b[lo:hi]) && !slices.Contains(a[lo:hi], emptyValue) {
			return band
		}
	}
	return -1
}

// sig returns the signature stored under internal number n.
func (ix *Index) sig(n int32) *Signature {
	off := int(n&slabMask) * K
	return (*Signature)(ix.slabs[n>>slabBits][off : off+K])
}

// member returns a signature of the bucket a table slot heads.
func (ix *Index) member(head int32) *Signature {
	if head < 0 {
		head = ix.buckets[^head][0]
	}
	return ix.sig(head)
}

// bandHash returns the hash of band b of s, and false when the band holds
// the empty set's marker (such a band is never indexed). A multilinear
// hash: the signature's values are uniform already, and lookup compares
// the values themselves, so it needs to spread, not to resist anyone.
func (ix *Index) bandHash(s *Signature, b int) (uint64, bool) {
	lo := b * ix.rows
	rows := s[lo : lo+ix.rows]
	mul := bandMul[lo : lo+ix.rows]
	h := uint64(seedBand)
	for i, v := range rows {
		if v == emptyValue {
			return 0, false
		}
		h += uint64(v) * mul[i]
	}
	return h, true
}

// tagOf is the tag of a band hash: 8 bits that fastrange, which uses the
// high bits, does not.
func tagOf(h uint64) uint8 {
	if t := uint8(h >> 24); t != 0 {
		return t
	}
	return 1
}

// lookup finds the slot of band b's table that holds the bucket of s's
// values in band b (hash h): found, or the empty slot where it would go.
// The table must have an empty slot.
func (ix *Index) lookup(b int, h uint64, s *Signature) (slot int, found bool) {
	t := &ix.tables[b]
	m := len(t.tags)
	if m == 0 {
		return -1, false
	}
	lo, hi := b*ix.rows, (b+1)*ix.rows
	want := s[lo:hi]
	tag := tagOf(h)
	for i := fastrange(h, m); ; {
		switch t.tags[i] {
		case 0:
			return i, false
		case tag:
			if slices.Equal(ix.member(t.heads[i])[lo:hi], want) {
				return i, true
			}
		}
		if i++; i == m {
			i = 0
		}
	}
}

// link puts n, whose signature is stored, in its bucket of every band.
func (ix *Index) link(n int32) {
	s := ix.sig(n)
	for b := range ix.bands {
		h, ok := ix.bandHash(s, b)
		if !ok {
			continue
		}
		t := &ix.tables[b]
		if (t.used+1)*maxLoadDen > len(t.tags)*maxLoadNum {
			ix.grow(b)
		}
		slot, found := ix.lookup(b, h, s)
		switch head := t.heads[slot]; {
		case !found:
			t.tags[slot], t.heads[slot] = tagOf(h), n
			t.used++
		case head >= 0:
			t.heads[slot] = ^ix.newBucket(b, head, n)
		default:
			ix.buckets[^head] = append(ix.buckets[^head], n)
		}
	}
}

// newBucket returns the index of a new bucket list of band of a and b.
func (ix *Index) newBucket(band int, a, b int32) int32 {
	members := []int32{a, b}
	if k := len(ix.unused); k > 0 {
		i := ix.unused[k-1]
		ix.unused = ix.unused[:k-1]
		ix.buckets[i], ix.bandOf[i] = members, uint8(band)
		return i
	}
	ix.buckets = append(ix.buckets, members)
	ix.bandOf = append(ix.bandOf, uint8(band))
	return int32(len(ix.buckets) - 1)
}

// unlink takes n, whose signature is still stored, out of every bucket.
func (ix *Index) unlink(n int32) {
	s := ix.sig(n)
	for b := range ix.bands {
		h, ok := ix.bandHash(s, b)
		if !ok {
			continue
		}
		t := &ix.tables[b]
		slot, _ := ix.lookup(b, h, s)
		head := t.heads[slot]
		if head >= 0 { // n alone
			ix.deleteSlot(b, slot)
			continue
		}
		members := ix.buckets[^head]
		i := slices.Index(members, n)
		members[i] = members[len(members)-1]
		members = members[:len(members)-1]
		if len(members) > 1 {
			ix.buckets[^head] = members
			continue
		}
		t.heads[slot] = members[0]
		ix.buckets[^head] = nil
		ix.unused = append(ix.unused, ^head)
	}
}

// deleteSlot empties a slot of band b's table and moves back the entries
// after it that probing would no longer reach (backward-shift deletion, so
// no tombstones accumulate).
func (ix *Index) deleteSlot(b, slot int) {
	t := &ix.tables[b]
	m := len(t.tags)
	i := slot
	for j := (i + 1) % m; t.tags[j] != 0; j = (j + 1) % m {
		h, _ := ix.bandHash(ix.member(t.heads[j]), b)
		home := fastrange(h, m)
		// The entry at j stays unless the gap at i lies cyclically
		// between its home and j.
		if i <= j && i < home && home <= j || i > j && (i < home || home <= j) {
			continue
		}
		t.tags[i], t.heads[i] = t.tags[j], t.heads[j]
		i = j
	}
	t.tags[i], t.heads[i] = 0, 0
	t.used--
}

// grow rehashes band b's table to a load factor of grownLoad.
func (ix *Index) grow(b int) {
	t := &ix.tables[b]
	m := max(8, int(float64(t.used+1)/grownLoad))
	tags, heads := make([]uint8, m), make([]int32, m)
	for i, tag := range t.tags {
		if tag == 0 {
			continue
		}
		h, _ := ix.bandHash(ix.member(t.heads[i]), b)
		j := fastrange(h, m)
		for tags[j] != 0 {
			if j++; j == m {
				j = 0
			}
		}
		tags[j], heads[j] = tag, t.heads[i]
	}
	t.tags, t.heads = tags, heads
}
