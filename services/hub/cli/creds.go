package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dpihub/dpihub/events/access"
	"github.com/dpihub/dpihub/services/hub"
)

const credsUsage = `usage:
  dpihub creds issue --data DIR (--country CC | --service NAME | --admin | --observer) [--out FILE] [--expires DURATION]
  dpihub creds context --data DIR --server URL [--name dpihub-admin|dpihub-observer] [--nats-tls-ca FILE]

issue writes a .creds file (mode 0600) signed by the hub's authority in DIR/auth:
the hub accepts it at once, without a restart. context writes nats CLI contexts
for the admin and the observer, so that "nats --context dpihub-observer stream ls"
works. See docs/security.md for what each identity may do.
`

func credsCmd(ctx context.Context, env Env, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, credsUsage)
		return errUsage
	}
	switch args[0] {
	case "issue":
		return credsIssue(env, args[1:])
	case "context":
		return credsContext(env, args[1:])
	case "-h", "-help", "--help", "help":
		fmt.Fprint(env.Stdout, credsUsage)
		return errHelp
	}
	fmt.Fprintf(env.Stderr, "dpihub creds: unknown subcommand %q\n%s", args[0], credsUsage)
	return errUsage
}

// loadAuthority loads the authority of the hub whose data is in data; it
// never makes one: credentials of a new authority would not work with the
// hub.
func loadAuthority(data string) (*access.Authority, error) {
	a, err := access.Load(hub.AuthDir(data))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no NATS authority in %s: is --data the hub's? (dpihub serve makes it on its first start)", hub.AuthDir(data))
	}
	return a, err
}

func credsIssue(env Env, args []string) error {
	fs := flags(env, "creds issue")
	data := fs.String("data", "dpihub-data", "the hub's state directory (its authority is in DIR/auth)")
	country := fs.String("country", "", "a country's node: publishes on dpi.<cc>.> only")
	service := fs.String("service", "", "a hub service that runs apart from the hub (feed): publishes on dpi.hub.>, runs the consumer of its name")
	admin := fs.Bool("admin", false, "the admin: may do everything")
	observer := fs.Bool("observer", false, "the observer: reads events and dead letters, changes nothing")
	out := fs.String("out", "", "file to write (default DIR/auth/creds/<identity>.creds)")
	expires := fs.Duration("expires", 0, "how long the credentials are valid (0: until the authority changes)")
	if err := parse(fs, env, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	var ids []access.Identity
	if *country != "" {
		ids = append(ids, access.Country(*country))
	}
	if *service != "" {
		ids = append(ids, access.Service(*service))
	}
	if *admin {
		ids = append(ids, access.Admin)
	}
	if *observer {
		ids = append(ids, access.Observer)
	}
	if len(ids) != 1 {
		fmt.Fprint(env.Stderr, credsUsage)
		return fmt.Errorf("give exactly one of --country, --service, --admin, --observer")
	}
	id := ids[0]
	if err := id.Validate(); err != nil {
		return err
	}
	if *expires < 0 {
		return fmt.Errorf("--expires %s: give a positive duration, or 0 for none", *expires)
	}
	a, err := loadAuthority(*data)
	if err != nil {
		return err
	}
	path := *out
	if path == "" {
		path = hub.CredsFile(*data, id)
	}
	var opts []access.CredsOption
	if *expires > 0 {
		opts = append(opts, access.Expires(time.Now().Add(*expires)))
	}
	if err := a.WriteCreds(path, id, opts...); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "wrote the NATS credentials of %s to %s (mode 0600; give it only to them)\n", id, path)
	return nil
}

// natsContext is a nats CLI context file, as natscli reads it.
type natsContext struct {
	Description string `json:"description"`
	URL         string `json:"url"`
	Creds       string `json:"creds"`
	CA          string `json:"ca,omitempty"`
	InboxPrefix string `json:"inbox_prefix,omitempty"`
}

// contextNames are the nats CLI contexts the hub writes, by identity.
var contextNames = map[string]access.Identity{"dpihub-admin": access.Admin, "dpihub-observer": access.Observer}

func credsContext(env Env, args []string) error {
	fs := flags(env, "creds context")
	data := fs.String("data", "dpihub-data", "the hub's state directory (its authority is in DIR/auth)")
	server := fs.String("server", "nats://127.0.0.1:4222", "NATS URL of the hub, as the nats CLI reaches it")
	name := fs.String("name", "", "write only this context: dpihub-admin or dpihub-observer (default both)")
	ca := fs.String("nats-tls-ca", "", "CA of the hub's NATS TLS certificate, when private (PEM)")
	if err := parse(fs, env, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	names := []string{"dpihub-admin", "dpihub-observer"}
	if *name != "" {
		if _, ok := contextNames[*name]; !ok {
			return fmt.Errorf("--name %q: dpihub-admin or dpihub-observer", *name)
		}
		names = []string{*name}
	}
	a, err := loadAuthority(*data)
	if err != nil {
		return err
	}
	paths, err := writeContexts(env, a, *data, *server, *ca, names)
	if err != nil {
		return err
	}
	for i, n := range names {
		fmt.Fprintf(env.Stdout, "wrote nats context %s (%s): %s\n", n, contextNames[n], paths[i])
	}
	fmt.Fprintf(env.Stdout, "try: nats --context %s stream ls\n", names[len(names)-1])
	return nil
}

// writeContexts writes the nats CLI contexts names for the hub at url
// into the nats CLI's context directory, each naming the hub's credentials
// file of its identity (issued if missing), and returns their paths.
func writeContexts(env Env, a *access.Authority, data, url, ca string, names []string) ([]string, error) {
	dir, err := natsContextDir(env)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if ca != "" {
		if ca, err = filepath.Abs(ca); err != nil {
			return nil, err
		}
	}
	var paths []string
	for _, n := range names {
		id := contextNames[n]
		creds, err := filepath.Abs(hub.CredsFile(data, id))
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(creds); errors.Is(err, os.ErrNotExist) {
			if err := a.WriteCreds(creds, id); err != nil {
				return nil, err
			}
		}
		c := natsContext{Description: "dpihub " + id.String() + " (" + data + ")", URL: url, Creds: creds, CA: ca,
			InboxPrefix: id.InboxPrefix()}
		b, err := json.MarshalIndent(c, "", "  ")
		if err != nil {
			return nil, err
		}
		path := filepath.Join(dir, n+".json")
		if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
			return nil, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// natsContextDir is where the nats CLI looks for contexts:
// $XDG_CONFIG_HOME/nats/context, by default ~/.config/nats/context.
func natsContextDir(env Env) (string, error) {
	if x := env.Getenv("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "nats", "context"), nil
	}
	if h := env.Getenv("HOME"); h != "" {
		return filepath.Join(h, ".config", "nats", "context"), nil
	}
	return "", errors.New("neither XDG_CONFIG_HOME nor HOME is set: no nats CLI context directory")
}
