// Package minhash is the fingerprint scheme that every producer (the
// country nodes, dpihub dedup scan) and the dedup service share, to find
// forks, fixes and proposals that duplicate each other.
//
// A fingerprint is a MinHash signature of a set of shingles:
//
//   - a fork's or a fix's changes: DiffShingles of the diff (for a fork, its
//     own changes since its merge-base with upstream), or LineShingles of
//     its changed lines: every added or removed line, white space
//     normalised, and every pair of consecutive changed lines of a hunk;
//   - a proposal's prose: TextShingles, every three consecutive words.
//
// Sign turns a set into a Signature of K values; Similarity of two
// signatures estimates the Jaccard similarity of their sets (Jaccard gives
// the exact value when both sets are at hand). A signature travels in
// events as Values (fork.snapshot's "minhash") and comes back with
// FromValues. Everything that makes a signature (normalisation, shingles,
// hashes, seeds, K) is fixed by Version: two producers of one Version
// always compute the same signature for the same input, and signatures of
// two Versions are never compared.
//
// An Index finds the similar pairs among many signatures by LSH banding
// without comparing every pair: Similar for one signature, Pairs for all.
// Which pairs of forks really duplicate each other is for the dedup service
// to say, with the exact Jaccard of their changes and the shared patch-ids;
// this package only finds them.
package minhash
