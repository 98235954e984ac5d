// Command ospo-node runs one country's OSPO node: it registers the
// country's forks, publishes its fixes, and assesses every other
// country's fixes against its forks.
//
//	ospo-node -nats nats://hub:4222 -creds country-ph.creds -country ph -key ph.key \
//	    -trust trust.json -forks forks.json -http 127.0.0.1:8081
//
// Every flag falls back to an environment variable (DPIHUB_NATS,
// DPIHUB_CREDS, DPIHUB_NATS_TLS_CA, DPIHUB_COUNTRY, DPIHUB_KEY,
// DPIHUB_TRUST, DPIHUB_FORKS, DPIHUB_HTTP, DPIHUB_TOKEN_FILE,
// DPIHUB_POLL). -creds is the country's NATS credentials (dpihub creds
// issue --country ph); the hub refuses a node without them. The API's POST requests need the
// bearer token kept in -token-file (made on the first start; default
// ospo-node-<country>.token in the working directory). -forks names a
// JSON list of forks:
//
//	[{"project":"mosip-id-repository","upstream":"https://github.com/mosip/id-repository",
//	  "dir":"/srv/forks/id-repository","branch":"ph-release-1.2.0"}]
//
// SIGINT or SIGTERM stops the node gracefully.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/dpihub/dpihub/events/access"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/metrics"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/services/node"
	"github.com/dpihub/dpihub/services/node/service"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.LookupEnv)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ospo-node:", err)
		os.Exit(1)
	}
}

// run runs the node until ctx ends, with flags from args and their
// fallbacks from lookupEnv.
func run(ctx context.Context, args []string, lookupEnv func(string) (string, bool)) error {
	env := func(name, def string) string {
		if v, ok := lookupEnv(name); ok {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("ospo-node", flag.ContinueOnError)
	natsURL := fs.String("nats", env("DPIHUB_NATS", nats.DefaultURL), "NATS server URL (DPIHUB_NATS)")
	credsFile := fs.String("creds", env("DPIHUB_CREDS", ""), "the country's NATS credentials, from dpihub creds issue --country (DPIHUB_CREDS)")
	tlsCA := fs.String("nats-tls-ca", env("DPIHUB_NATS_TLS_CA", ""), "CA of the hub's NATS TLS certificate, when private (DPIHUB_NATS_TLS_CA)")
	country := fs.String("country", env("DPIHUB_COUNTRY", ""), "country code of this node, e.g. ph (DPIHUB_COUNTRY)")
	keyFile := fs.String("key", env("DPIHUB_KEY", ""), "the country's signing key file (DPIHUB_KEY)")
	trustFile := fs.String("trust", env("DPIHUB_TRUST", ""), "trust list file (DPIHUB_TRUST)")
	forksFile := fs.String("forks", env("DPIHUB_FORKS", ""), "JSON list of forks to register (DPIHUB_FORKS)")
	httpAddr := fs.String("http", env("DPIHUB_HTTP", "127.0.0.1:8081"), "API address; empty: no API (DPIHUB_HTTP)")
	tokenFile := fs.String("token-file", env("DPIHUB_TOKEN_FILE", ""),
		"file of the API's bearer token, made on the first start (default ospo-node-<country>.token in the working directory) (DPIHUB_TOKEN_FILE)")
	poll := fs.String("poll", env("DPIHUB_POLL", "1m"), "how often forks are re-read (DPIHUB_POLL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	pollEvery, err := time.ParseDuration(*poll)
	if err != nil {
		return fmt.Errorf("-poll: %w", err)
	}
	if *country == "" || *keyFile == "" || *trustFile == "" {
		return fmt.Errorf("-country, -key and -trust are required")
	}
	if *tokenFile == "" {
		*tokenFile = "ospo-node-" + *country + ".token"
	}
	id, connOpts, err := access.ClientOptions(*credsFile, *tlsCA)
	if err != nil {
		return err
	}
	if id.Role != access.RoleAdmin && id != access.Country(*country) && *credsFile != "" {
		return fmt.Errorf("-creds: the credentials are %s's; node %s needs %s's", id, *country, access.Country(*country))
	}
	signer, err := sign.ReadSigner(*keyFile)
	if err != nil {
		return err
	}
	verifier, err := sign.LoadVerifier(*trustFile)
	if err != nil {
		return err
	}
	var forks []node.Fork
	if *forksFile != "" {
		if forks, err = node.ReadForks(*forksFile); err != nil {
			return err
		}
	}

	log, err := zap.NewProduction()
	if err != nil {
		return err
	}
	defer log.Sync()
	reg := prometheus.NewRegistry()
	if err := metrics.RegisterProcess(reg); err != nil {
		return err
	}
	busMetrics, err := bus.NewMetrics(reg)
	if err != nil {
		return err
	}

	// The hub owns the streams: Dial attaches without changing them.
	b, nc, err := bus.Dial(ctx, *natsURL, "ospo-node-"+*country, bus.Config{Logger: log, Metrics: busMetrics}, connOpts...)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return nil // stopped before it began
		}
		return err
	}
	defer nc.Drain()
	// Run, unlike Start, takes a stop during start-up for a clean stop.
	return service.Run(ctx, service.Config{
		Country: *country, Bus: b, Signer: signer, Verifier: verifier, Forks: forks,
		HTTPAddr: *httpAddr, TokenFile: *tokenFile, Logger: log, Registerer: reg, PollInterval: pollEvery,
	})
}
