// Package patchid computes patch-ids exactly as `git patch-id` (git 2.39.5)
// prints them, for both the stable (--stable) and the default (unstable)
// algorithm.
//
// A patch-id is a SHA-1 over the diff text with all whitespace removed and
// with line numbers, "index" lines and everything outside the diff (commit
// headers, messages, mail signatures) ignored, so that the same change has the
// same id wherever it was applied. The stable variant hashes every file
// separately and adds the 20-byte digests, so reordering the files of a patch
// does not change its id.
//
// The package does not parse diffs into a model: it replays, line by line,
// the small state machine of git's builtin/patch-id.c, including its quirks
// (a binary file swallows the next file's "diff" line, a pure rename is hashed
// together with the file that follows it, a combined diff ends the patch at
// its "@@@" line, a line beginning with 40 hex digits starts a new commit).
// Matching git byte for byte is the point; the comparison tests run the real
// git binary on the same input.
package patchid
