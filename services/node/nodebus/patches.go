package nodebus

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/access"
	"github.com/dpihub/dpihub/events/bus"
)

// Patches keeps a country's large diffs in its JetStream object store,
// access.PatchBucket(cc), objects named by the diff's SHA-256, and reads
// any country's. It implements node.DiffStore: it moves bytes and checks
// nothing. Only the country writes its bucket (docs/security.md).
type Patches struct {
	js     jetstream.JetStream
	bucket string // the country's
	obj    jetstream.ObjectStore
}

// OpenPatches creates (or updates) country cc's bucket and opens it. It
// needs a connection that may make streams, the hub's: a country's node
// uses BindPatches once the hub has made the bucket (package provision).
func OpenPatches(ctx context.Context, b *bus.Bus, cc string) (*Patches, error) {
	obj, err := b.JetStream().CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      access.PatchBucket(cc),
		Description: "dpihub: diffs of " + cc + "'s fixes too large to travel inline, named by SHA-256",
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("object store %s: %w", access.PatchBucket(cc), err)
	}
	return &Patches{js: b.JetStream(), bucket: access.PatchBucket(cc), obj: obj}, nil
}

// BindPatches opens country cc's bucket as it is.
func BindPatches(ctx context.Context, b *bus.Bus, cc string) (*Patches, error) {
	obj, err := b.JetStream().ObjectStore(ctx, access.PatchBucket(cc))
	if err != nil {
		return nil, fmt.Errorf("object store %s: %w", access.PatchBucket(cc), err)
	}
	return &Patches{js: b.JetStream(), bucket: access.PatchBucket(cc), obj: obj}, nil
}

// Get reads the object ref names, from whichever country's bucket it
// names.
func (p *Patches) Get(ctx context.Context, ref events.DiffRef) ([]byte, error) {
	store := p.obj
	if ref.Bucket != p.bucket {
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
	ref := &events.DiffRef{Bucket: p.bucket, Object: name, SHA256: name, Size: int64(len(diff))}
	if info, err := p.obj.GetInfo(ctx, name); err == nil && info.Size == uint64(len(diff)) {
		return ref, nil
	}
	if _, err := p.obj.Put(ctx, jetstream.ObjectMeta{Name: name, Description: "diff of a dpihub fix"}, bytes.NewReader(diff)); err != nil {
		return nil, fmt.Errorf("store diff %s: %w", name, err)
	}
	return ref, nil
}
