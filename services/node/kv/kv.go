// Package kv keeps a node's state in a JetStream key-value bucket: the
// registered forks and the received fixes with their assessments.
//
// Why a KV bucket rather than memory rebuilt from the stream: the node's
// state is not only a projection of events it consumes. Forks registered
// through the API carry local facts (the repository directory, the
// upstream ref) that no event holds, and rebuilding assessments from the
// stream would mean re-running git for every fix ever received at each
// start. The bucket lives in the same JetStream as the durable consumer, so
// the consumer's position and the state it produced survive a restart
// together; a lost bucket is rebuilt by deleting the consumer and replaying
// (handlers are idempotent by fix id). The bucket is per country
// ("NODE_<cc>"), so several country nodes can share one server.
package kv

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dpihub/dpihub/events/access"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/services/node"
)

// Bucket returns the bucket name of country cc's node.
func Bucket(cc string) string { return access.NodeBucket(cc) }

// Store implements node.Store on a JetStream KV bucket. It is safe for
// concurrent use; a read-modify-write of one fix is the caller's to
// serialise.
type Store struct{ kv jetstream.KeyValue }

var _ node.Store = (*Store)(nil)

// Open creates (or updates) the bucket of country cc and opens it. It
// needs a connection that may make streams, the hub's: a country's node
// uses Bind once the hub has made the bucket.
func Open(ctx context.Context, js jetstream.JetStream, cc string) (*Store, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      Bucket(cc),
		Description: "dpihub node state of " + cc + ": forks and received fixes",
		Storage:     jetstream.FileStorage,
		History:     1,
	})
	if err != nil {
		return nil, fmt.Errorf("node state bucket %s: %w", Bucket(cc), err)
	}
	return &Store{kv: kv}, nil
}

// Bind opens the bucket of country cc as it is.
func Bind(ctx context.Context, js jetstream.JetStream, cc string) (*Store, error) {
	kv, err := js.KeyValue(ctx, Bucket(cc))
	if err != nil {
		return nil, fmt.Errorf("node state bucket %s: %w", Bucket(cc), err)
	}
	return &Store{kv: kv}, nil
}

// key makes a KV key from an id of any characters: the prefix and the
// hex of a hash (KV keys allow few characters; fix ids allow ':').
func key(prefix, id string) string {
	h := sha256.Sum256([]byte(id))
	return prefix + "." + hex.EncodeToString(h[:16])
}

func (s *Store) put(ctx context.Context, k string, v any) error {
	// Without HTML escaping: a diff full of "<" would otherwise grow six
	// times and could pass the server's message size.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	if _, err := s.kv.Put(ctx, k, buf.Bytes()); err != nil {
		return fmt.Errorf("store %s: %w", k, err)
	}
	return nil
}

func list[T any](ctx context.Context, s *Store, prefix string) ([]T, error) {
	return bus.KVValues[T](ctx, s.kv, prefix+".*")
}

// PutFork implements node.Store.
func (s *Store) PutFork(ctx context.Context, f node.ForkState) error {
	return s.put(ctx, key("fork", f.Key()), f)
}

// Forks implements node.Store; forks come sorted by key.
func (s *Store) Forks(ctx context.Context) ([]node.ForkState, error) {
	fs, err := list[node.ForkState](ctx, s, "fork")
	sort.Slice(fs, func(i, j int) bool { return fs[i].Key() < fs[j].Key() })
	return fs, err
}

// PutFix implements node.Store.
func (s *Store) PutFix(ctx context.Context, f node.ReceivedFix) error {
	return s.put(ctx, key("fix", f.ID), f)
}

// Fix implements node.Store.
func (s *Store) Fix(ctx context.Context, id string) (node.ReceivedFix, error) {
	e, err := s.kv.Get(ctx, key("fix", id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return node.ReceivedFix{}, fmt.Errorf("fix %s: %w", id, node.ErrNotFound)
	}
	if err != nil {
		return node.ReceivedFix{}, fmt.Errorf("read fix %s: %w", id, err)
	}
	var f node.ReceivedFix
	if err := json.Unmarshal(e.Value(), &f); err != nil {
		return node.ReceivedFix{}, fmt.Errorf("decode fix %s: %w", id, err)
	}
	return f, nil
}

// Fixes implements node.Store; fixes come newest first.
func (s *Store) Fixes(ctx context.Context) ([]node.ReceivedFix, error) {
	fs, err := list[node.ReceivedFix](ctx, s, "fix")
	sort.Slice(fs, func(i, j int) bool {
		if !fs[i].ReceivedAt.Equal(fs[j].ReceivedAt) {
			return fs[i].ReceivedAt.After(fs[j].ReceivedAt)
		}
		return fs[i].ID < fs[j].ID
	})
	return fs, err
}
