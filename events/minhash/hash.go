package minhash

import "math/bits"

// The fixed hash functions and seeds of scheme Version 1. Every producer
// must hash exactly the same way, so none of this may change without a new
// Version (TestGolden fails when it does).
//
// The seeds are words of SHA-512's initial hash value (fractional parts of
// the square roots of the first primes): numbers chosen by nobody.
const (
	seedPair    = 0xbb67ae8584caa73b // pairs of consecutive changed lines
	seedText    = 0xa54ff53a5f1d36f1 // 3-word shingles
	seedSign    = 0x510e527fade682d1 // the one permutation of Sign
	seedDensify = 0x9b05688c2b3e6c1f // the bins an empty bin borrows from
	seedBand    = 0x1f83d9abfb41bd6b // band keys of an Index (in memory only)
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
	domainLine  = 'L'
	domainWord  = 'W'
)

// mix64 is the finaliser of SplitMix64 (Steele, Lea and Flood 2014, with
// Stafford's "Mix13" constants): a bijection of uint64 whose every output
// bit depends on every input bit.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// fnvStart returns the FNV-1a state after the byte domain, so that equal
// text in two domains (a line, a word) hashes differently.
func fnvStart(domain byte) uint64 { return (fnvOffset64 ^ uint64(domain)) * fnvPrime64 }

// fnvString continues FNV-1a over the bytes of s.
func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * fnvPrime64
	}
	return h
}

// pairHash is the shingle of two consecutive changed lines a then b; it is
// not symmetric, so the order of the lines counts.
func pairHash(a, b uint64) uint64 { return mix64(mix64(a^seedPair) + b) }

// tripleHash is the shingle of three consecutive words.
func tripleHash(a, b, c uint64) uint64 { return mix64(mix64(mix64(a^seedText)+b) + c) }

// fastrange maps h onto [0, n) by the high word of h*n (Lemire 2016): as
// good as h % n for a well-mixed h, without a division, and for any n.
func fastrange(h uint64, n int) int {
	hi, _ := bits.Mul64(h, uint64(n))
	return int(hi)
}
