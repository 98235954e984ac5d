package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/services/node/kv"
	"github.com/dpihub/dpihub/services/node/nodebus"
	"github.com/dpihub/dpihub/services/node/provision"
)

// A node keeps its state in a KV bucket and its large diffs in an object
// store, both its country's own. The hub makes them: a country may not
// make streams (docs/security.md).

// Provision makes, or brings up to date, country cc's buckets on b. It
// needs a connection that may make streams: the hub's.
func Provision(ctx context.Context, b *bus.Bus, cc string) error {
	if _, err := kv.Open(ctx, b.JetStream(), cc); err != nil {
		return err
	}
	_, err := nodebus.OpenPatches(ctx, b, cc)
	return err
}

// ServeProvisioning makes the buckets of every node that asks, on b's
// connection (the hub's, which may make streams), until stop is called.
func ServeProvisioning(b *bus.Bus, log *zap.Logger) (stop func(), err error) {
	return provision.Serve(b, func(ctx context.Context, cc string) error { return Provision(ctx, b, cc) }, log)
}

// OpenBuckets opens country cc's buckets, once the hub has made them or
// brought them up to date. Where nothing answers the request (a test's
// bare server, a connection of the admin's without a hub), it makes them
// itself, which only a connection that may make streams can.
func OpenBuckets(ctx context.Context, b *bus.Bus, cc string) (*kv.Store, *nodebus.Patches, error) {
	err := provision.Request(ctx, b, cc)
	if errors.Is(err, nats.ErrNoResponders) {
		if perr := Provision(ctx, b, cc); perr != nil {
			return nil, nil, fmt.Errorf("%w; making them here failed too (a country's credentials may not): %w", err, perr)
		}
		err = nil
	}
	if err != nil {
		return nil, nil, err
	}
	store, err := kv.Bind(ctx, b.JetStream(), cc)
	if err != nil {
		return nil, nil, err
	}
	patches, err := nodebus.BindPatches(ctx, b, cc)
	if err != nil {
		return nil, nil, err
	}
	return store, patches, nil
}
