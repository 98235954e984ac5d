package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/dpihub/dpihub/services/hub"
)

func serve(ctx context.Context, env Env, args []string) error {
	fs := flags(env, "serve")
	data := fs.String("data", "dpihub-data", "state directory (JetStream store); survives restarts")
	name := fs.String("server-name", "dpihub", "stable NATS server name of this site")
	host := fs.String("nats-host", "127.0.0.1", "address NATS clients (services, the nats CLI) connect to")
	port := fs.Int("nats-port", 4222, "NATS client port (-1: any free port)")
	httpAddr := fs.String("http", "127.0.0.1:8080", "address of /healthz and /metrics")
	services := fs.String("services", "", "comma-separated services to run in this process (none are available yet beyond the fabric itself)")
	maxAge := fs.Duration("max-age", 0, "how long events are kept (0: 365 days)")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	if err := parse(fs, env, args); err != nil {
		return err
	}
	if s := strings.TrimSpace(*services); s != "" {
		return fmt.Errorf("unknown service(s) %q: this build runs the event fabric only", s)
	}
	log, err := logger(env, *level)
	if err != nil {
		return err
	}
	defer log.Sync()
	return hub.Run(ctx, hub.Config{
		DataDir: *data, ServerName: *name, NATSHost: *host, NATSPort: *port,
		HTTPAddr: *httpAddr, MaxAge: *maxAge, Logger: log,
	})
}
