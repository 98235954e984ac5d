package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dpihub/dpihub/events/bus"
)

func connect(url, name string) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect(url, nats.Name(name), nats.Timeout(5*time.Second))
	if err != nil {
		return nil, nil, fmt.Errorf("connect to %s: %w (is dpihub serve running?)", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// attach connects to the hub at url and opens its bus without changing
// its streams. close releases the connection.
func attach(ctx context.Context, url, name string) (b *bus.Bus, close func(), err error) {
	nc, js, err := connect(url, name)
	if err != nil {
		return nil, nil, err
	}
	if b, err = bus.Open(ctx, js, bus.Config{Attach: true}); err != nil {
		nc.Close()
		return nil, nil, err
	}
	return b, nc.Close, nil
}
