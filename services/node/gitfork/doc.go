// Package gitfork reads a country's fork with the git command line: its
// head, its merge-base with upstream, how far ahead and behind it is, the
// patch-ids of its own commits (Snapshot), and one of its commits as a fix
// ready to publish (Fix). Mbox turns a received fix back into what
// `git am` takes.
//
// git runs with a pinned configuration and environment, so that neither
// the operator's nor the fork's settings change a published diff or a
// patch-id. The repository is only read, never changed.
package gitfork
