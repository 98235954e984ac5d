package minhash_test

import (
	"encoding/binary"
	"hash/fnv"
	"slices"
	"testing"

	"github.com/dpihub/dpihub/events/minhash"
)

// golden pins what each Version of the scheme computes, for inputs that
// never change. Every producer and the dedup service must agree on these
// numbers, so a failure here means the scheme changed: if that was meant,
// bump Version and add its values below (keep the old ones, they are what
// signatures of that version in events hold); if not, undo the change.
// There is no -update: the values were written once, by Version 1's code,
// when it was released.
var golden = map[int]struct {
	smallFirst8 [8]uint32 // Sign of {1, ..., 10}: densification at work
	smallSum    uint64    // FNV-1a of all K values, big-endian
	largeFirst8 [8]uint32 // Sign of {i*i : i < 1000}
	largeSum    uint64
	diff        []uint64 // DiffShingles of goldenDiff
	text        []uint64 // TextShingles of goldenText
}{
	1: {
		smallFirst8: [8]uint32{338710096, 4166492230, 3170818029, 1337360657, 2016530827, 3394584273, 1467549906, 338710096},
		smallSum:    0x16d831f088964f75,
		largeFirst8: [8]uint32{985184118, 259864708, 610780616, 97459123, 236923890, 249643823, 315947987, 257780663},
		largeSum:    0x9f579da0c2f7c125,
		diff:        []uint64{0x22ae8c3f8a6f6580, 0x8481a969f335298c, 0xbfbd3190ed13c721},
		text:        []uint64{0xa4342ae41469f90, 0x4e7c3f7260cf51dc, 0xb53e08b743634697, 0xcc1a4015587784cc},
	},
}

const (
	goldenDiff = "@@ -1,2 +1,2 @@\n-\tif (x) {\n+\tif (x != nil) {\n \treturn\n"
	goldenText = "Support offline enrolment for biometric devices"
)

func signatureSum(s minhash.Signature) uint64 {
	h := fnv.New64a()
	for _, v := range s {
		h.Write(binary.BigEndian.AppendUint32(nil, v))
	}
	return h.Sum64()
}

func TestGolden(t *testing.T) {
	want, ok := golden[minhash.Version]
	if !ok {
		t.Fatalf("no golden values for Version %d: add them to golden_test.go", minhash.Version)
	}
	var small, large []uint64
	for i := range uint64(1000) {
		large = append(large, i*i)
		if i >= 1 && i <= 10 {
			small = append(small, i)
		}
	}
	changed := func(what string) {
		t.Helper()
		t.Errorf("%s differs from Version %d's golden value: the scheme changed, so Version must change too (see golden_test.go)", what, minhash.Version)
	}
	s := minhash.Sign(small)
	if [8]uint32(s[:8]) != want.smallFirst8 || signatureSum(s) != want.smallSum {
		changed("the signature of a small set")
		t.Logf("got %d..., sum %#x", s[:8], signatureSum(s))
	}
	s = minhash.Sign(large)
	if [8]uint32(s[:8]) != want.largeFirst8 || signatureSum(s) != want.largeSum {
		changed("the signature of a large set")
		t.Logf("got %d..., sum %#x", s[:8], signatureSum(s))
	}
	if got := minhash.DiffShingles(goldenDiff); !slices.Equal(got, want.diff) {
		changed("the shingles of a diff")
		t.Logf("got %#x", got)
	}
	if got := minhash.TextShingles(goldenText); !slices.Equal(got, want.text) {
		changed("the shingles of a text")
		t.Logf("got %#x", got)
	}
	if minhash.K != 128 {
		changed("K")
	}
}
