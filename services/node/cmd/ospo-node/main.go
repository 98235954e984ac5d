// Command ospo-node runs one country's OSPO node: it registers the
// country's forks, publishes its fixes, and assesses every other
// country's fixes against its forks.
//
//	ospo-node -nats nats://127.0.0.1:4222 -country ph -key ph.key \
//	    -trust trust.json -forks forks.json -http 127.0.0.1:8081
//
// Every flag falls back to an environment variable (DPIHUB_NATS,
// DPIHUB_COUNTRY, DPIHUB_KEY, DPIHUB_TRUST, DPIHUB_FORKS, DPIHUB_HTTP,
// DPIHUB_POLL). -forks names a JSON list of forks:
//
//	[{"project":"mosip-id-repository","upstream":"https://github.com/mosip/id-repository",
//	  "dir":"/srv/forks/id-repository","branch":"ph-release-1.2.0"}]
//
// SIGINT or SIGTERM stops the node gracefully.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"

	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/services/node"
	"github.com/dpihub/dpihub/services/node/service"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "ospo-node:", err)
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
	country := flag.String("country", env("DPIHUB_COUNTRY", ""), "country code of this node, e.g. ph (DPIHUB_COUNTRY)")
	keyFile := flag.String("key", env("DPIHUB_KEY", ""), "the country's signing key file (DPIHUB_KEY)")
	trustFile := flag.String("trust", env("DPIHUB_TRUST", ""), "trust list file (DPIHUB_TRUST)")
	forksFile := flag.String("forks", env("DPIHUB_FORKS", ""), "JSON list of forks to register (DPIHUB_FORKS)")
	httpAddr := flag.String("http", env("DPIHUB_HTTP", "127.0.0.1:8081"), "API address; empty: no API (DPIHUB_HTTP)")
	poll := flag.String("poll", env("DPIHUB_POLL", "1m"), "how often forks are re-read (DPIHUB_POLL)")
	flag.Parse()

	pollEvery, err := time.ParseDuration(*poll)
	if err != nil {
		return fmt.Errorf("-poll: %w", err)
	}
	if *country == "" || *keyFile == "" || *trustFile == "" {
		return fmt.Errorf("-country, -key and -trust are required")
	}
	key, err := sign.ReadPrivateKey(*keyFile)
	if err != nil {
		return err
	}
	signer, err := sign.NewSigner(key)
	if err != nil {
		return err
	}
	tl, err := sign.LoadTrustList(*trustFile)
	if err != nil {
		return err
	}
	verifier, err := sign.NewVerifier(tl)
	if err != nil {
		return err
	}
	var forks []node.Fork
	if *forksFile != "" {
		b, err := os.ReadFile(*forksFile)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &forks); err != nil {
			return fmt.Errorf("%s: %w", *forksFile, err)
		}
	}

	log, err := zap.NewProduction()
	if err != nil {
		return err
	}
	defer log.Sync()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	nc, err := nats.Connect(*natsURL, nats.Name("ospo-node-"+*country), nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("connect %s: %w", *natsURL, err)
	}
	defer nc.Drain()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	b, err := bus.Open(ctx, js, bus.Config{Logger: log, Metrics: bus.NewMetrics(reg)})
	if err != nil {
		return err
	}
	return service.Run(ctx, service.Config{
		Country: *country, Bus: b, Signer: signer, Verifier: verifier, Forks: forks,
		HTTPAddr: *httpAddr, Logger: log, Registerer: reg, PollInterval: pollEvery,
	})
}
