package cli

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dpihub/dpihub/events/access"
	"github.com/dpihub/dpihub/events/bus"
)

// hubFlags are the flags of every command that connects to the hub: where
// it is, as whom, and the CA of its TLS certificate. Like every flag they
// fall back to DPIHUB_SERVER, DPIHUB_CREDS and DPIHUB_NATS_TLS_CA.
type hubFlags struct {
	server, creds, ca *string
}

func addHubFlags(fs *flag.FlagSet) hubFlags {
	return hubFlags{
		server: fs.String("server", "nats://127.0.0.1:4222", "NATS URL of the hub"),
		creds:  fs.String("creds", "", "NATS credentials of who you act as (a .creds file: dpihub creds issue; the hub refuses a client without)"),
		ca:     fs.String("nats-tls-ca", "", "CA of the hub's NATS TLS certificate, when private (PEM)"),
	}
}

// connect connects to the hub as the identity of the credentials.
func (f hubFlags) connect(name string) (*nats.Conn, jetstream.JetStream, access.Identity, error) {
	id, opts, err := access.ClientOptions(*f.creds, *f.ca)
	if err != nil {
		return nil, nil, access.Identity{}, err
	}
	nc, err := nats.Connect(*f.server, append([]nats.Option{nats.Name(name), nats.Timeout(5 * time.Second)}, opts...)...)
	if err != nil {
		hint := "is dpihub serve running?"
		if *f.creds == "" {
			hint = "give --creds: the hub refuses clients without credentials"
		}
		return nil, nil, access.Identity{}, fmt.Errorf("connect to %s: %w (%s)", *f.server, err, hint)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, access.Identity{}, err
	}
	return nc, js, id, nil
}

// attach connects to the hub and opens its bus without changing its
// streams, as cc's identity (or the admin's): credentials of another
// identity could not publish what cc signs. close releases the
// connection.
func (f hubFlags) attach(ctx context.Context, name, cc string) (b *bus.Bus, close func(), err error) {
	nc, js, id, err := f.connect(name)
	if err != nil {
		return nil, nil, err
	}
	if *f.creds != "" && id.Role != access.RoleAdmin && id != access.Country(cc) {
		nc.Close()
		return nil, nil, fmt.Errorf("--creds: the credentials are %s's; events signed by %s need %s's", id, cc, access.Country(cc))
	}
	if b, err = bus.Open(ctx, js, bus.Config{Attach: true}); err != nil {
		nc.Close()
		return nil, nil, err
	}
	return b, nc.Close, nil
}
