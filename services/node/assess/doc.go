// Package assess decides what one fix (a patch, one commit as
// `git format-patch` writes it) means for one fork of a project: the change
// is already there (present), it applies cleanly (applies), some of its
// hunks fail (conflicts), or the files it changes are not in the fork at all
// (not-applicable).
//
// The fork is read offline through the git command line, never changed:
// commits are searched by stable patch-id (package patchid, the same ids as
// `git patch-id --stable`) and by the `cherry-pick -x` trailer, and the
// patch is applied in memory to the fork's blobs with the rules of
// `git apply --check`, so that each failing hunk can be named. Tests hold
// every verdict against the git command line itself.
package assess
