package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/dpihub/dpihub/events"
)

// Limits of a fix's diff.
const (
	// InlineLimit is the largest diff sent inside a fix.published event;
	// a larger diff goes to the DiffStore and the event carries its
	// reference.
	InlineLimit = events.MaxInlineDiff
	// MaxDiffSize is the largest diff a node fetches from the DiffStore.
	MaxDiffSize = 256 << 20
	// maxStoredInline is the largest diff kept inside a received fix in
	// the Store; a larger one is kept in the DiffStore.
	maxStoredInline = 64 << 10
)

// DiffStore keeps diffs too large to travel or be kept inline, named by
// their SHA-256. It only moves bytes: the node checks what it gets.
type DiffStore interface {
	// Get returns the bytes ref names.
	Get(ctx context.Context, ref events.DiffRef) ([]byte, error)
	// Put stores diff, unless it is there already, and returns its
	// reference.
	Put(ctx context.Context, diff []byte) (*events.DiffRef, error)
}

// diff returns the fix's diff, inline or fetched from the DiffStore, and
// checks that it is a patch that hashes to the fix's patch-id. Errors for
// a diff that can never be right wrap ErrMalformedFix.
func (n *Node) diff(ctx context.Context, fp events.FixPublished) ([]byte, error) {
	var diff []byte
	if fp.DiffRef == nil {
		diff = []byte(fp.Diff)
	} else {
		var err error
		if diff, err = n.fetch(ctx, *fp.DiffRef); err != nil {
			return nil, err
		}
	}
	if _, err := n.git.Files(diff); err != nil {
		return nil, fmt.Errorf("%w: its diff is not a patch: %v", ErrMalformedFix, err)
	}
	id, ok, err := n.git.PatchID(diff)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: patch-id of its diff: %v", ErrMalformedFix, err)
	case !ok:
		return nil, fmt.Errorf("%w: its diff holds no change git would hash (not a unified diff)", ErrMalformedFix)
	case id != fp.PatchID:
		return nil, fmt.Errorf("%w: its diff hashes to patch-id %s, the event says %s", ErrMalformedFix, id, fp.PatchID)
	}
	return diff, nil
}

// fetch reads a diff from the DiffStore and checks its size and SHA-256
// against the reference.
func (n *Node) fetch(ctx context.Context, ref events.DiffRef) ([]byte, error) {
	if ref.Size > MaxDiffSize {
		return nil, fmt.Errorf("%w: diff of %d bytes exceeds the %d limit", ErrMalformedFix, ref.Size, MaxDiffSize)
	}
	data, err := n.diffs.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != ref.SHA256 || int64(len(data)) != ref.Size {
		return nil, fmt.Errorf("%w: diff %s/%s has %d bytes with sha256 %s, the reference says %d bytes with %s",
			ErrMalformedFix, ref.Bucket, ref.Object, len(data), got, ref.Size, ref.SHA256)
	}
	return data, nil
}
