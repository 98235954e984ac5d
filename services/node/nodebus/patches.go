package nodebus

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/bus"
)

// DefaultPatchBucket is the object store bucket of large diffs, shared by
// all countries; objects are named by the diff's SHA-256.
const DefaultPatchBucket = "DPI_PATCHES"

// Patches keeps large diffs in the JetStream object store. It implements
// node.DiffStore: it moves bytes and checks nothing.
type Patches struct {
	js  jetstream.JetStream
	obj jetstream.ObjectStore
}

// OpenPatches creates (or opens) the DefaultPatchBucket.
func OpenPatches(ctx context.Context, b *bus.Bus) (*Patches, error) {
	obj, err := b.JetStream().CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      DefaultPatchBucket,
		Description: "dpihub: diffs of fixes too large to travel inline, named by SHA-256",
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("object store %s: %w", DefaultPatchBucket, err)
	}
	return &Patches{js: b.JetStream(), obj: obj}, nil
}

// Get reads the object ref names, from whichever bucket it names.
func (p *Patches) Get(ctx context.Context, ref events.DiffRef) ([]byte, error) {
	store := p.obj
	if ref.Bucket != DefaultPatchBucket {
		s, err := p.js.ObjectStore(ctx, ref.Bucket)
		if err != nil {
			return nil, fmt.Errorf("open object store %s: %w", ref.Bucket, err)
		}
		store = s
	}
	data, err := store.GetBytes(ctx, ref.Object)
	if err != nil {
		return nil, fmt.Errorf("fetch diff %s/%s: %w", ref.Bucket, ref.Object, err)
	}
	return data, nil
}

// Put stores diff under its SHA-256, unless it is there already.
func (p *Patches) Put(ctx context.Context, diff []byte) (*events.DiffRef, error) {
	sum := sha256.Sum256(diff)
	name := hex.EncodeToString(sum[:])
	ref := &events.DiffRef{Bucket: DefaultPatchBucket, Object: name, SHA256: name, Size: int64(len(diff))}
	if info, err := p.obj.GetInfo(ctx, name); err == nil && info.Size == uint64(len(diff)) {
		return ref, nil
	}
	if _, err := p.obj.Put(ctx, jetstream.ObjectMeta{Name: name, Description: "diff of a dpihub fix"}, bytes.NewReader(diff)); err != nil {
		return nil, fmt.Errorf("store diff %s: %w", name, err)
	}
	return ref, nil
}
