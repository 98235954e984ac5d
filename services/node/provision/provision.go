// Package provision carries a node's request for its buckets to the hub
// and the hub's answer. A country's node may not make streams, not even
// its own buckets: a stream's configuration says what it captures and
// where it republishes, and the server checks neither against the
// permissions of whoever makes it (docs/security.md). So the node asks
// (Request), and the hub, which may, makes them (Serve) with the
// configuration the node's code gives.
package provision

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/dpihub/dpihub/events/access"
	"github.com/dpihub/dpihub/events/bus"
)

// provisionError is the header of a reply that says why the hub could not
// make the buckets; a reply without it says they are there.
const provisionError = "Dpihub-Provision-Error"

// Request asks the hub to make, or bring up to date, country cc's
// buckets (access.ProvisionSubject) and waits for its answer. When
// nothing serves the request (no hub, or a test's bare server) the error
// wraps nats.ErrNoResponders.
func Request(ctx context.Context, b *bus.Bus, cc string) error {
	m, err := b.JetStream().Conn().RequestWithContext(ctx, access.ProvisionSubject(cc), nil)
	if err != nil {
		return fmt.Errorf("ask the hub for the buckets of %s: %w", cc, err)
	}
	if why := m.Header.Get(provisionError); why != "" {
		return fmt.Errorf("the hub could not make the buckets of %s: %s", cc, why)
	}
	return nil
}

// Serve answers Request on b's connection, which must
// be allowed to make streams, by calling provision with the country the
// request's subject names (only that country may publish on it). stop
// ends it.
func Serve(b *bus.Bus, provision func(ctx context.Context, cc string) error, log *zap.Logger) (stop func(), err error) {
	if log == nil {
		log = zap.NewNop()
	}
	sub, err := b.JetStream().Conn().Subscribe(access.ProvisionSubjects, func(m *nats.Msg) {
		cc := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
		err := access.Country(cc).Validate()
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err = provision(ctx, cc)
			cancel()
		}
		reply := nats.NewMsg(m.Reply)
		if err != nil {
			log.Warn("node buckets not made", zap.String("country", cc), zap.Error(err))
			reply.Header.Set(provisionError, err.Error())
		} else {
			log.Debug("node buckets made", zap.String("country", cc))
		}
		if err := m.RespondMsg(reply); err != nil && !errors.Is(err, nats.ErrMsgNoReply) {
			log.Warn("answer a node's request for its buckets", zap.String("country", cc), zap.Error(err))
		}
	})
	if err != nil {
		return nil, fmt.Errorf("serve the nodes' requests for buckets: %w", err)
	}
	// Once Serve returns the server knows the subscription: a node that
	// asks right after gets an answer, not "no responders" (the outage
	// test's node, started just after, failed so under load).
	if err := b.JetStream().Conn().Flush(); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("serve the nodes' requests for buckets: %w", err)
	}
	return func() { _ = sub.Unsubscribe() }, nil
}
