package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// KVValues returns the values, decoded from JSON, of the keys of kv that
// match filter (a NATS subject filter over keys, e.g. "fork.*"). Each key
// counts once, though the lister may repeat a key written while it runs;
// a key deleted meanwhile is left out.
func KVValues[T any](ctx context.Context, kv jetstream.KeyValue, filter string) ([]T, error) {
	keys, err := kv.ListKeysFiltered(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", filter, err)
	}
	defer keys.Stop()
	var out []T
	seen := map[string]bool{}
	for k := range keys.Keys() {
		if seen[k] {
			continue
		}
		seen[k] = true
		e, err := kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", k, err)
		}
		var v T
		if err := json.Unmarshal(e.Value(), &v); err != nil {
			return nil, fmt.Errorf("decode %s: %w", k, err)
		}
		out = append(out, v)
	}
	return out, nil
}
