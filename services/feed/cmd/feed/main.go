// Command feed runs the coordinator feed: it projects every verified
// dpi.> event into SQLite and serves the JSON API, CSV, Atom, the live
// stream and the web UI.
//
//	feed -nats nats://hub:4222 -creds service-feed.creds -trust trust.json -db feed.db -http 127.0.0.1:8080
//
// Every flag falls back to an environment variable (DPIHUB_NATS,
// DPIHUB_CREDS, DPIHUB_NATS_TLS_CA, DPIHUB_TRUST, DPIHUB_DB, DPIHUB_HTTP).
// -creds is a hub service's NATS credentials (dpihub creds issue --service
// feed): the feed then runs the consumer named after the service, so a
// second feed with a database of its own needs credentials of its own
// (--service feed-2). The feed attaches to the hub's streams and never
// changes them. SIGINT or SIGTERM stops it gracefully.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/dpihub/dpihub/events/access"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/metrics"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/services/feed/service"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "feed:", err)
		os.Exit(1)
	}
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func run() error {
	natsURL := flag.String("nats", env("DPIHUB_NATS", nats.DefaultURL), "NATS server URL (DPIHUB_NATS)")
	trustFile := flag.String("trust", env("DPIHUB_TRUST", ""), "trust list file (DPIHUB_TRUST)")
	db := flag.String("db", env("DPIHUB_DB", "feed.db"), "SQLite file of the projection (DPIHUB_DB)")
	httpAddr := flag.String("http", env("DPIHUB_HTTP", "127.0.0.1:8080"), "API and UI address; empty: none (DPIHUB_HTTP)")
	credsFile := flag.String("creds", env("DPIHUB_CREDS", ""), "a hub service's NATS credentials, from dpihub creds issue --service feed (DPIHUB_CREDS)")
	tlsCA := flag.String("nats-tls-ca", env("DPIHUB_NATS_TLS_CA", ""), "CA of the hub's NATS TLS certificate, when private (DPIHUB_NATS_TLS_CA)")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	id, connOpts, err := access.ClientOptions(*credsFile, *tlsCA)
	if err != nil {
		return err
	}
	if *credsFile != "" && id.Role != access.RoleService && id.Role != access.RoleAdmin {
		return fmt.Errorf("-creds: the credentials are %s's; the feed needs a hub service's (dpihub creds issue --service feed)", id)
	}
	if *trustFile == "" {
		return errors.New("-trust is required: the feed shows only events it verified")
	}
	verifier, err := sign.LoadVerifier(*trustFile)
	if err != nil {
		return err
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

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b, nc, err := bus.Dial(ctx, *natsURL, "dpihub-feed", bus.Config{Logger: log, Metrics: busMetrics}, connOpts...)
	if err != nil {
		return err
	}
	defer nc.Drain()
	return service.Run(ctx, service.Config{
		Bus: b, Verifier: verifier, DBPath: *db, Consumer: id.Consumer(), HTTPAddr: *httpAddr, Logger: log, Registerer: reg,
	})
}
