package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/bus"
)

// Bucket is the JetStream key-value bucket that holds the subscriptions,
// secrets included: only the hub's admin connection may read it.
const Bucket = "PROPOSAL_WEBHOOKS"

// record is a subscription as stored: with its secret, which nothing but
// the store and the worker that signs with it ever sees.
type record struct {
	Subscription
	Secret string `json:"secret"`
}

// store keeps one record per (project, URL), under a key derived from
// both: creating the key is what makes a second subscription of the same
// URL to the same project impossible, even for two Subscribe calls at
// once, with no second key to keep in step.
type store struct{ kv jetstream.KeyValue }

// openStore opens Bucket, creating it if it is missing, and leaves an
// existing one's settings as they are.
func openStore(ctx context.Context, js jetstream.JetStream) (*store, error) {
	kv, err := js.KeyValue(ctx, Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      Bucket,
			Description: "dpihub proposals: webhook subscriptions (with their secrets)",
			History:     1,
			Storage:     jetstream.FileStorage,
		})
		if errors.Is(err, jetstream.ErrBucketExists) { // made meanwhile by another process
			kv, err = js.KeyValue(ctx, Bucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("webhook subscriptions bucket %s: %w", Bucket, err)
	}
	return &store{kv: kv}, nil
}

// key is the key of the subscription of url to project.
func key(project, url string) string {
	h := sha256.Sum256([]byte(project + " " + url))
	return "sub." + hex.EncodeToString(h[:16])
}

// get returns the subscription of url to project, if there is one.
func (s *store) get(ctx context.Context, project, url string) (record, bool, error) {
	e, err := s.kv.Get(ctx, key(project, url))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return record{}, false, nil
	}
	if err != nil {
		return record{}, false, fmt.Errorf("read webhook subscription: %w", err)
	}
	var r record
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return record{}, false, fmt.Errorf("read webhook subscription %s: %w", e.Key(), err)
	}
	return r, true, nil
}

// create stores r unless its URL is already subscribed to its project,
// which is an events.ErrBadInput naming the subscription that exists.
func (s *store) create(ctx context.Context, r record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("store webhook subscription %s: %w", r.ID, err)
	}
	_, err = s.kv.Create(ctx, key(r.Project, r.URL), b)
	if errors.Is(err, jetstream.ErrKeyExists) {
		if old, ok, gerr := s.get(ctx, r.Project, r.URL); gerr == nil && ok {
			return alreadySubscribed(old)
		}
	}
	if err != nil {
		return fmt.Errorf("store webhook subscription %s: %w", r.ID, err)
	}
	return nil
}

func alreadySubscribed(r record) error {
	return events.Errorf(events.ErrBadInput, "%s is already subscribed to %s as %s", redact(r.URL), r.Project, r.ID)
}

// all returns every stored subscription.
func (s *store) all(ctx context.Context) ([]record, error) {
	rs, err := bus.KVValues[record](ctx, s.kv, "sub.*")
	if err != nil {
		return nil, fmt.Errorf("webhook subscriptions: %w", err)
	}
	return rs, nil
}

// delete removes r, and only r: a later subscription of the same URL to
// the same project stays. Removing what is already gone is not an error.
func (s *store) delete(ctx context.Context, r record) error {
	k := key(r.Project, r.URL)
	e, err := s.kv.Get(ctx, k)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete webhook subscription %s: %w", r.ID, err)
	}
	var cur record
	if json.Unmarshal(e.Value(), &cur) == nil && cur.ID != r.ID {
		return nil
	}
	err = s.kv.Delete(ctx, k, jetstream.LastRevision(e.Revision()))
	if err != nil && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) { // changed meanwhile: a newer subscription
		return fmt.Errorf("delete webhook subscription %s: %w", r.ID, err)
	}
	return nil
}
