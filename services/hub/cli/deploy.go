package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/dpihub/dpihub/events/access"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/services/hub/deploy"
)

const deployUsage = `usage:
  dpihub deploy init --countries CC,CC,... --out DIR [--dir-at PATH]
  dpihub deploy add-country --dir DIR --country CC
  dpihub deploy write --dir DIR
  dpihub deploy streams --dir DIR [--server URL] [--wait DURATION]

init writes a multi-country deployment into DIR: the nats-server configurations
of a three-member hub cluster (hub-1..3.conf) and of a leaf site per country
(site-<cc>.conf), the operator and accounts they trust (accounts.conf), the
authority (DIR/auth, secret) and every identity's credentials (DIR/creds).
Host names and ports are those of docker-compose.yml; edit DIR/plan.json and run
add-country or init again to rewrite the configurations. --dir-at is where DIR
is as the servers see it (default /etc/dpihub).
add-country adds a site for CC: its configuration and credentials; run streams
afterwards. write rewrites the configurations from DIR/plan.json (after an edit)
and issues the credentials missing from DIR/creds (after one was removed). streams sets up the hub's and every site's streams through the hub,
as the admin. docs/operations.md walks through it.
`

func deployCmd(ctx context.Context, env Env, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, deployUsage)
		return errUsage
	}
	switch args[0] {
	case "init":
		return deployInit(env, args[1:])
	case "add-country":
		return deployAddCountry(env, args[1:])
	case "streams":
		return deployStreams(ctx, env, args[1:])
	case "write":
		return deployWrite(env, args[1:])
	case "-h", "-help", "--help", "help":
		fmt.Fprint(env.Stdout, deployUsage)
		return errHelp
	}
	fmt.Fprintf(env.Stderr, "dpihub deploy: unknown subcommand %q\n%s", args[0], deployUsage)
	return errUsage
}

func deployInit(env Env, args []string) error {
	fs := flags(env, "deploy init")
	countries := fs.String("countries", "", "the countries, comma-separated ISO 3166-1 alpha-2 codes (ma,ph,lk)")
	out := fs.String("out", "", "the deployment directory to write")
	at := fs.String("dir-at", "/etc/dpihub", "where the deployment directory is as the servers see it")
	if err := parse(fs, env, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *out == "" || *countries == "" {
		return fmt.Errorf("give --countries and --out")
	}
	var cc []string
	for _, c := range strings.Split(*countries, ",") {
		if c = strings.TrimSpace(c); c != "" {
			if err := checkSite(c); err != nil {
				return err
			}
			cc = append(cc, c)
		}
	}
	// A deployment's keys and credentials are made once: writing a new
	// one over it would leave every server and node with credentials
	// that no longer verify.
	if _, err := os.Stat(filepath.Join(*out, deploy.PlanFile)); err == nil {
		return fmt.Errorf("%s holds a deployment already (%s): add a country with dpihub deploy add-country, or give another --out", *out, deploy.PlanFile)
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	plan, err := deploy.DefaultPlan(cc)
	if err != nil {
		return err
	}
	plan.Dir = *at
	if err := deploy.Write(*out, plan); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "wrote a deployment of %d hub members and the sites of %s to %s; keep %s and %s secret\n",
		len(plan.Hub), strings.Join(cc, ", "), *out, filepath.Join(*out, deploy.AuthDir), filepath.Join(*out, deploy.CredsDir))
	return nil
}

// loadPlan parses a deploy command's arguments, which name no operands,
// and loads the plan of the deployment directory *dir (--dir).
func loadPlan(fs *flag.FlagSet, env Env, args []string, dir *string) (deploy.Plan, error) {
	if err := parse(fs, env, args); err != nil {
		return deploy.Plan{}, err
	}
	if err := noArgs(fs); err != nil {
		return deploy.Plan{}, err
	}
	if *dir == "" {
		return deploy.Plan{}, fmt.Errorf("give --dir")
	}
	return deploy.Load(*dir)
}

// checkSite accepts the lower-case ISO 3166-1 alpha-2 code of a country
// (checkCountry), which a site is for; the hub is not a site.
func checkSite(cc string) error {
	if cc == "hub" {
		return fmt.Errorf("hub is not a country: the hub's members come with every deployment")
	}
	if checkCountry(cc) != nil {
		return fmt.Errorf("%q is not the lower-case ISO 3166-1 alpha-2 code of a country (e.g. ma, ph, lk, ke)", cc)
	}
	return nil
}

func deployAddCountry(env Env, args []string) error {
	fs := flags(env, "deploy add-country")
	dir := fs.String("dir", "", "the deployment directory (deploy init --out)")
	cc := fs.String("country", "", "the new country's ISO 3166-1 alpha-2 code")
	plan, err := loadPlan(fs, env, args, dir)
	if err != nil {
		return err
	}
	if *cc == "" {
		return fmt.Errorf("give --country")
	}
	if err := checkSite(*cc); err != nil {
		return err
	}
	if err := plan.AddCountry(*cc); err != nil {
		return err
	}
	if err := deploy.Write(*dir, plan); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "added the site of %s to %s: start it with %s, then run dpihub deploy streams\n",
		*cc, *dir, deploy.ConfigFile("site-"+*cc))
	return nil
}

func deployStreams(ctx context.Context, env Env, args []string) error {
	fs := flags(env, "deploy streams")
	dir := fs.String("dir", "", "the deployment directory (deploy init --out)")
	server := fs.String("server", "", "NATS URL of the hub (default: every member's, from the plan)")
	wait := fs.Duration("wait", 2*time.Minute, "how long to keep trying while the cluster elects its leader and the sites' links come up")
	plan, err := loadPlan(fs, env, args, dir)
	if err != nil {
		return err
	}
	url := *server
	if url == "" {
		url = plan.HubURLs()
	}
	_, opts, err := access.Client(filepath.Join(*dir, deploy.CredsDir, access.Admin.CredsFile()))
	if err != nil {
		return err
	}
	nc, err := nats.Connect(url, append(opts, nats.Name("dpihub deploy streams"), nats.Timeout(5*time.Second))...)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", url, err)
	}
	defer nc.Close()
	// A cluster just started has no JetStream leader for some seconds,
	// and a request then may get no answer at all: try again, each time
	// with its own deadline.
	deadline := time.Now().Add(*wait)
	for {
		actx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err = deploy.ApplyStreams(actx, nc, plan, bus.Config{})
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return err
		}
		fmt.Fprintf(env.Stderr, "not yet, trying again: %s\n", oneLine(err.Error()))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
	fmt.Fprintf(env.Stdout, "streams set up on the hub and at the sites of %s\n", strings.Join(plan.Countries(), ", "))
	return nil
}

func deployWrite(env Env, args []string) error {
	fs := flags(env, "deploy write")
	dir := fs.String("dir", "", "the deployment directory (deploy init --out)")
	plan, err := loadPlan(fs, env, args, dir)
	if err != nil {
		return err
	}
	if err := deploy.Write(*dir, plan); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "rewrote the configurations in %s and issued the credentials missing from %s\n", *dir, filepath.Join(*dir, deploy.CredsDir))
	return nil
}
