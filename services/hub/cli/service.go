package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/dpihub/dpihub/events/access"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/sign"
	dedupsvc "github.com/dpihub/dpihub/services/dedup/service"
	"github.com/dpihub/dpihub/services/proposals/governance"
	propsvc "github.com/dpihub/dpihub/services/proposals/service"
)

const serviceUsage = "usage: dpihub service proposals|dedup --nats URLS --creds FILE --trust FILE --hub-key FILE [--http ADDR]"

// serviceCmd runs one of the hub's services, proposals or dedup, against
// an external hub (a cluster that dpihub deploy set up) as the service's
// own NATS identity, where serve --services runs them beside its embedded
// server. It serves the service's API and /healthz (200 while connected
// to the hub) on --http. The proposals service runs without webhooks: a
// service's credentials may run only the consumer of its name.
func serviceCmd(ctx context.Context, env Env, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(env.Stderr, serviceUsage)
		return errUsage
	}
	name := args[0]
	if name != "proposals" && name != "dedup" {
		fmt.Fprintf(env.Stderr, "dpihub: unknown service %q\n%s\n", name, serviceUsage)
		return errUsage
	}
	fs := flags(env, "service "+name)
	natsURL := fs.String("nats", "nats://127.0.0.1:4222", "the hub's NATS URLs, comma-separated")
	creds := fs.String("creds", "", "the service's NATS credentials (dpihub deploy init writes creds/service-"+name+".creds)")
	ca := fs.String("nats-tls-ca", "", "CA of the hub's NATS TLS certificate, when private (PEM)")
	trustPath := fs.String("trust", "", "trust list: the service acts only on events it verified")
	hubKey := fs.String("hub-key", "", "the hub's private key (country hub), which signs the service's decisions and findings")
	httpAddr := fs.String("http", "127.0.0.1:8080", "address of /healthz and the service's API")
	rulesPath := fs.String("rules", "", "proposals: the projects' rules, a JSON file (default: the built-in rules)")
	propToken := fs.String("proposals-token-file", "", "proposals: file of the operator's bearer token for the API, made on the first start (none: only maintainers' tokens)")
	dedupProjects := fs.String("dedup-projects", "", "dedup: the projects this instance serves, comma-separated (default all)")
	dedupThreshold := fs.Float64("dedup-threshold", 0, "dedup: the similarity from which forks, fixes and proposals are duplicates (default 0.7)")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	if err := parse(fs, env, args[1:]); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *creds == "" || *trustPath == "" || *hubKey == "" {
		return errors.New("--creds, --trust and --hub-key are required")
	}
	id, opts, err := access.ClientOptions(*creds, *ca)
	if err != nil {
		return err
	}
	if id.Role != access.RoleService || id.Name != name {
		return fmt.Errorf("--creds: the credentials are %s's; the %s service needs its own (creds/service-%s.creds)", id, name, name)
	}
	verifier, err := sign.LoadVerifier(*trustPath)
	if err != nil {
		return err
	}
	signer, err := sign.ReadSigner(*hubKey)
	if err != nil {
		return err
	}
	log, err := logger(env, *level)
	if err != nil {
		return err
	}
	defer log.Sync()

	b, nc, err := bus.Dial(ctx, *natsURL, "dpihub-"+name, bus.Config{Logger: log}, opts...)
	if err != nil {
		return err
	}
	defer nc.Drain()

	mux := http.NewServeMux()
	var closeSvc func(context.Context) error
	switch name {
	case "proposals":
		var rules *governance.RuleBook
		if *rulesPath != "" {
			if rules, err = governance.LoadRuleBook(*rulesPath); err != nil {
				return err
			}
		}
		var token string
		if *propToken != "" {
			var made bool
			if token, made, err = access.LoadOrMakeToken(*propToken); err != nil {
				return fmt.Errorf("proposals: %w", err)
			}
			if made {
				log.Info("proposals: the operator's API token is in a new file (keep it secret)", zap.String("file", *propToken))
			}
		}
		p, err := propsvc.Start(ctx, propsvc.Config{Bus: b, Verifier: verifier, Signer: signer, Rules: rules,
			AdminToken: token, Logger: log.Named("proposals")})
		if err != nil {
			return fmt.Errorf("proposals: %w", err)
		}
		closeSvc = p.Close
		mux.Handle("/", p.Handler())
	case "dedup":
		var projects []string
		for _, p := range strings.Split(*dedupProjects, ",") {
			if p = strings.TrimSpace(p); p != "" {
				projects = append(projects, p)
			}
		}
		d, err := dedupsvc.Start(ctx, dedupsvc.Config{Bus: b, Verifier: verifier, Signer: signer,
			Threshold: *dedupThreshold, Projects: projects, Logger: log.Named("dedup")})
		if err != nil {
			return fmt.Errorf("dedup: %w", err)
		}
		closeSvc = d.Close
		mux.Handle("/", d.Handler())
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = closeSvc(sctx)
	}()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if !nc.IsConnected() {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "{\"status\":\"unavailable\",\"service\":%q,\"nats\":%q}\n", name, nc.Status().String())
			return
		}
		fmt.Fprintf(w, "{\"status\":\"ok\",\"service\":%q}\n", name)
	})
	ln, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Info("service started", zap.String("service", name), zap.String("nats", nc.ConnectedUrlRedacted()),
		zap.String("http", ln.Addr().String()))
	<-ctx.Done()
	return nil
}
