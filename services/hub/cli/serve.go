package cli

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/dpihub/dpihub/events/access"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/sign"
	dedupsvc "github.com/dpihub/dpihub/services/dedup/service"
	"github.com/dpihub/dpihub/services/feed"
	feedsvc "github.com/dpihub/dpihub/services/feed/service"
	"github.com/dpihub/dpihub/services/hub"
	"github.com/dpihub/dpihub/services/hub/embedded"
	"github.com/dpihub/dpihub/services/node"
	nodesvc "github.com/dpihub/dpihub/services/node/service"
	"github.com/dpihub/dpihub/services/proposals/governance"
	propsvc "github.com/dpihub/dpihub/services/proposals/service"
	"github.com/dpihub/dpihub/services/proposals/webhook"
)

// Services that serve can run in its process.
var knownServices = []string{"feed", "node", "proposals", "dedup"}

func serve(ctx context.Context, env Env, args []string) error {
	fs := flags(env, "serve")
	data := fs.String("data", "dpihub-data", "state directory (JetStream store, feed database); survives restarts")
	name := fs.String("server-name", "dpihub", "stable NATS server name of this site")
	host := fs.String("nats-host", "127.0.0.1", "address NATS clients (services, the nats CLI) connect to")
	port := fs.Int("nats-port", 4222, "NATS client port (-1: any free port)")
	tlsCert := fs.String("nats-tls-cert", "", "PEM certificate of the NATS port (with --nats-tls-key); without TLS beyond loopback, a warning")
	tlsKey := fs.String("nats-tls-key", "", "PEM private key of --nats-tls-cert")
	httpAddr := fs.String("http", "127.0.0.1:8080", "address of /healthz, /metrics and the feed's UI and API")
	services := fs.String("services", "", "services to run in this process, comma-separated: "+strings.Join(knownServices, ", "))
	trustPath := fs.String("trust", "", "trust list: the services verify with it (required with --services) and GET /trust.json publishes it")
	keyPath := fs.String("key", "", "node: the country's private key")
	forksPath := fs.String("forks", "", "node: JSON list of forks [{project, upstream, dir, branch}]")
	nodeHTTP := fs.String("node-http", "127.0.0.1:8081", "node: address of the node's API (beyond loopback: a warning)")
	nodeToken := fs.String("node-token-file", "", "node: file of the bearer token the node API's POST requests need, made on the first start (default <data>/node-<country>.token)")
	poll := fs.Duration("poll", time.Minute, "node: how often forks are re-read")
	hubKey := fs.String("hub-key", "", "proposals, dedup: the hub's private key (country hub), which signs the services' decisions and findings")
	dedupProjects := fs.String("dedup-projects", "", "dedup: the projects this instance serves, comma-separated (default all; instances with disjoint lists split the work)")
	dedupThreshold := fs.Float64("dedup-threshold", 0, "dedup: the similarity from which forks, fixes and proposals are duplicates (default 0.7)")
	rulesPath := fs.String("rules", "", "proposals: the projects' rules, a JSON file (default: the built-in rules, docs/governance.md)")
	propToken := fs.String("proposals-token-file", "", "proposals: file of the operator's bearer token for the proposals API, made on the first start (default <data>/proposals.token)")
	maxAge := fs.Duration("max-age", 0, "how long events are kept (0: 365 days)")
	maxBytes := &byteSize{n: bus.DefaultMaxBytes, max: math.MaxInt64}
	fs.Var(maxBytes, "max-bytes", "how much stream DPI holds before it refuses new events (e.g. 10GiB; -1: no limit)")
	maxMsgSize := &byteSize{n: bus.DefaultMaxMsgSize, max: 1 << 30}
	fs.Var(maxMsgSize, "max-msg-size", "largest message stream DPI stores, headers included (e.g. 4MiB, at most 1GiB; -1: no limit); DPI_DLQ takes 16KiB more")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	site := fs.String("site", "", "run as this country's site of a multi-site deployment: a NATS leaf node of --hub with JetStream in the country's own domain")
	hubURLs := fs.String("hub", "", "with --site: the hub members' leafnode URLs, comma-separated (nats-leaf://hub-1:7422,...)")
	siteCreds := fs.String("site-creds", "", "with --site: the credentials of the site's link to the hub (dpihub deploy init writes creds/site-<cc>.creds)")
	if err := parse(fs, env, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if err := hub.ErrDataDir(*data); err != nil {
		return fmt.Errorf("--data %w", err)
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return errors.New("--nats-tls-cert and --nats-tls-key go together")
	}
	var leaf *embedded.Leaf
	if *site != "" || *hubURLs != "" || *siteCreds != "" {
		if *site == "" || *hubURLs == "" || *siteCreds == "" {
			return errors.New("--site, --hub and --site-creds go together")
		}
		leaf = &embedded.Leaf{Domain: *site, Creds: *siteCreds}
		for _, u := range strings.Split(*hubURLs, ",") {
			if u = strings.TrimSpace(u); u != "" {
				leaf.URLs = append(leaf.URLs, u)
			}
		}
		if err := access.Site(*site).Validate(); err != nil {
			return fmt.Errorf("--site: %w", err)
		}
	}
	var run []string
	for _, s := range strings.Split(*services, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !slices.Contains(knownServices, s) {
			return fmt.Errorf("unknown service %q (known: %s)", s, strings.Join(knownServices, ", "))
		}
		run = append(run, s)
	}
	var verifier *sign.Verifier
	var trust *sign.TrustList
	if len(run) > 0 && *trustPath == "" {
		return errors.New("--trust is required with --services: services act only on verified events")
	}
	if *trustPath != "" {
		var err error
		if trust, err = sign.LoadTrustList(*trustPath); err != nil {
			return err
		}
		if verifier, err = sign.NewVerifier(trust); err != nil {
			return err
		}
	}
	var signer *sign.Signer
	var forks []node.Fork
	if slices.Contains(run, "node") {
		if *keyPath == "" {
			return errors.New("--key is required with --services node")
		}
		var err error
		if signer, err = sign.ReadSigner(*keyPath); err != nil {
			return err
		}
		if *forksPath != "" {
			if forks, err = node.ReadForks(*forksPath); err != nil {
				return fmt.Errorf("--forks: %w", err)
			}
		}
	}
	var hubSigner *sign.Signer
	var rules *governance.RuleBook
	if slices.Contains(run, "proposals") || slices.Contains(run, "dedup") {
		if *hubKey == "" {
			return errors.New("--hub-key is required with --services proposals or dedup: they sign as the hub (dpihub keys gen --country hub)")
		}
		var err error
		if hubSigner, err = sign.ReadSigner(*hubKey); err != nil {
			return err
		}
		if *rulesPath != "" {
			if rules, err = governance.LoadRuleBook(*rulesPath); err != nil {
				return err
			}
		}
	}
	// The proposals service first: the feed shows what its rules say.
	if i := slices.Index(run, "proposals"); i > 0 {
		run = append([]string{"proposals"}, slices.Delete(run, i, i+1)...)
	}
	log, err := logger(env, *level)
	if err != nil {
		return err
	}
	defer log.Sync()

	h, err := hub.Start(ctx, hub.Config{
		DataDir: *data, ServerName: *name, NATSHost: *host, NATSPort: *port,
		HTTPAddr: *httpAddr, MaxAge: *maxAge, MaxBytes: maxBytes.n, MaxMsgSize: int32(maxMsgSize.n),
		Logger: log, Starting: len(run) > 0, NATSTLSCert: *tlsCert, NATSTLSKey: *tlsKey, Site: leaf,
	})
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		h.Close(sctx)
	}()
	if trust != nil {
		// Public keys only: anyone may fetch them to verify the stream.
		if err := h.SetTrustList(trust); err != nil {
			return err
		}
	}
	if h.AuthCreated {
		// The first start: the nats CLI gets a context for the admin and
		// one for the observer (dpihub creds context writes them again).
		names := []string{"dpihub-admin", "dpihub-observer"}
		if paths, err := writeContexts(env, h.Auth, *data, h.NATSURL(), "", names); err != nil {
			log.Info("nats CLI contexts not written; run dpihub creds context", zap.Error(err))
		} else {
			log.Info("nats CLI contexts written: nats --context dpihub-observer stream ls",
				zap.Strings("contexts", names), zap.Strings("files", paths))
		}
	}
	var gov feed.Governance
	for _, s := range run {
		switch s {
		case "proposals":
			tokenFile := *propToken
			if tokenFile == "" {
				tokenFile = filepath.Join(*data, "proposals.token")
			}
			token, made, err := access.LoadOrMakeToken(tokenFile)
			if err != nil {
				return fmt.Errorf("proposals: %w", err)
			}
			if made {
				log.Info("proposals: the operator's API token is in a new file (keep it secret)", zap.String("file", tokenFile))
			}
			p, err := propsvc.Start(ctx, propsvc.Config{Bus: h.Bus, Verifier: verifier, Signer: hubSigner, Rules: rules,
				AdminToken: token, Webhooks: &webhook.Config{}, Logger: log.Named("proposals"), Registerer: h.Registry})
			if err != nil {
				return fmt.Errorf("proposals: %w", err)
			}
			h.OnClose(func(ctx context.Context) { _ = p.Close(ctx) })
			h.MountProposals(p.Handler())
			gov = hub.FeedGovernance(p.Governor())
		case "dedup":
			var projects []string
			for _, p := range strings.Split(*dedupProjects, ",") {
				if p = strings.TrimSpace(p); p != "" {
					projects = append(projects, p)
				}
			}
			d, err := dedupsvc.Start(ctx, dedupsvc.Config{Bus: h.Bus, Verifier: verifier, Signer: hubSigner,
				Threshold: *dedupThreshold, Projects: projects, Logger: log.Named("dedup")})
			if err != nil {
				return fmt.Errorf("dedup: %w", err)
			}
			h.OnClose(func(ctx context.Context) { _ = d.Close(ctx) })
			h.Mount(dedupsvc.Patterns(), d.Handler())
		case "feed":
			f, err := feedsvc.Start(ctx, feedsvc.Config{Bus: h.Bus, Verifier: verifier, Governance: gov,
				DBPath: filepath.Join(*data, "feed.db"), Logger: log.Named("feed"), Registerer: h.Registry})
			if err != nil {
				return fmt.Errorf("feed: %w", err)
			}
			h.OnClose(func(ctx context.Context) { _ = f.Close(ctx) })
			h.AddHealthCheck(hub.HealthCheck{Name: "feed", Check: f.Health})
			h.SetRoot(f.Handler())
		case "node":
			tokenFile := *nodeToken
			if tokenFile == "" {
				tokenFile = filepath.Join(*data, "node-"+signer.Country()+".token")
			}
			n, err := nodesvc.Start(ctx, nodesvc.Config{
				Country: signer.Country(), Bus: h.Bus, Signer: signer, Verifier: verifier, Forks: forks,
				HTTPAddr: *nodeHTTP, TokenFile: tokenFile, Logger: log.Named("node"), Registerer: h.Registry,
				PollInterval: *poll,
			})
			if err != nil {
				return fmt.Errorf("node: %w", err)
			}
			h.OnClose(func(ctx context.Context) { _ = n.Close(ctx) })
		}
		log.Info("service started", zap.String("service", s))
	}
	h.Started()
	<-ctx.Done()
	return nil
}
