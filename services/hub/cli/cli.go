// Package cli is the dpihub command line: serve, demo, publish, tail,
// keys gen, creds issue|context, patch-id, fix assess|publish|export,
// feed rebuild.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Env is what a command reads and writes; tests give their own.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

type command struct {
	summary string
	run     func(ctx context.Context, env Env, args []string) error
}

var commands map[string]command

func init() {
	commands = map[string]command{
		"serve":       {"run the hub: embedded NATS with JetStream, /healthz, /metrics, services", serve},
		"demo":        {"run the demo story on a throw-away embedded hub", demoCmd},
		"publish":     {"publish a JSON payload file as a signed event", publish},
		"tail":        {"follow events or dead letters", tail},
		"keys":        {"keys gen: make a country's signing key and trust-list entry", keys},
		"patch-id":    {"print patch-ids exactly as git patch-id does (stdin)", patchID},
		"feed":        {"feed rebuild: replay the stream into a new feed database, with a progress bar", feedCmd},
		"fix":         {"fix assess|publish|export: assess a patch, publish commits as fixes, export a fix as an mbox", fix},
		"creds":       {"creds issue|context: NATS credentials of a country, a service, the admin or the observer; nats CLI contexts", credsCmd},
		"proposal":    {"proposal submit|endorse|object|comment|withdraw|list|show: roadmap proposals under their project's rules", proposalCmd},
		"subscribe":   {"subscribe webhook|list|rm: a maintainer's webhooks for a project's proposals", subscribeCmd},
		"dedup":       {"dedup scan|report: forks and fixes that duplicate each other; what to upstream", dedupCmd},
		"deploy":      {"deploy init|add-country|streams: a hub cluster and a leaf site per country (NATS configurations, credentials, streams)", deployCmd},
		"service":     {"service proposals|dedup: run one of the hub's services against an external hub (dpihub deploy), as its own NATS identity", serviceCmd},
		"healthcheck": {"healthcheck URL: exit 0 when GET URL answers 200 (a container's HEALTHCHECK; the images have no curl)", healthcheck},
		"version":     {"print the module version and the VCS revision and time this binary was built from", version},
	}
}

// errUsage is returned after usage has been printed.
var errUsage = errors.New("usage")

// errHelp is returned after help was printed on request (-h): exit 0.
var errHelp = errors.New("help")

// Main runs the command line and returns the exit code: 0 on success, 1 on
// an error (one line on stderr), 2 on a usage error.
func Main(ctx context.Context, env Env, args []string) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if len(args) == 0 {
		usage(env.Stderr)
		return 2
	}
	if args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		// Asked for: the answer, on stdout.
		usage(env.Stdout)
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "dpihub: unknown command %q (try dpihub help)\n", args[0])
		return 2
	}
	err := c.run(ctx, env, args[1:])
	switch {
	case err == nil:
		return 0
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		// Interrupted (Ctrl-C, SIGTERM), even in the middle of start-up:
		// a clean stop, not a failure.
		return 0
	case errors.Is(err, errHelp):
		return 0
	case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
		return 2
	default:
		fmt.Fprintf(env.Stderr, "dpihub %s: %s\n", args[0], oneLine(err.Error()))
		return 1
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func usage(w io.Writer) {
	fmt.Fprintln(w, "dpihub: the event hub where countries share fixes and plans for open source DPI")
	fmt.Fprintln(w, "\nusage: dpihub <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nEvery flag can also be set by environment: --nats-port is DPIHUB_NATS_PORT.")
}

// flags makes a flag set whose errors and usage go to env.Stderr.
func flags(env Env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet("dpihub "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	return fs
}

// parse parses args, then fills every flag not given on the command line
// from DPIHUB_<FLAG> (upper case, dashes as underscores). Flags may follow
// positional arguments (fix assess PATCH --repo DIR): they are parsed, never
// left among the arguments; after "--" everything is an argument. fs.Args()
// is then the positional arguments. Help asked for (-h) goes to stdout; a
// flag it does not know is a usage error: one line on stderr.
func parse(fs *flag.FlagSet, env Env, args []string) error {
	out := fs.Output()
	fs.SetOutput(io.Discard)
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			fs.SetOutput(out)
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(env.Stdout)
				fs.Usage()
				return errHelp
			}
			fmt.Fprintf(out, "%s: %v (see %s -h)\n", fs.Name(), err, fs.Name())
			return errUsage
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if consumed := args[:len(args)-len(rest)]; len(consumed) > 0 && consumed[len(consumed)-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional, args = append(positional, rest[0]), rest[1:]
	}
	// Leaves fs.Args() as the positional arguments, flags set as parsed.
	_ = fs.Parse(append([]string{"--"}, positional...))
	fs.SetOutput(out)
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		key := "DPIHUB_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := env.Getenv(key); v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %v", key, v, e)
			}
		}
	})
	return err
}

// noArgs refuses the arguments left after the flags, for a command that
// takes none: a usage error, one line on stderr.
func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected arguments %q (see %s -h)\n", fs.Name(), fs.Args(), fs.Name())
		return errUsage
	}
	return nil
}

// logger builds the zap logger of long-running commands: JSON lines on
// stderr at level (debug, info, warn, error).
func logger(env Env, level string) (*zap.Logger, error) {
	var lvl zapcore.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	core := zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(env.Stderr), lvl)
	return zap.New(core), nil
}

// version prints "dpihub <module version> <vcs.revision> <vcs.time>" from
// the build information; a piece the build did not record is "(devel)"
// (go run, go test, a build outside version control).
func version(_ context.Context, env Env, args []string) error {
	fs := flags(env, "version")
	if err := parse(fs, env, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, versionLine())
	return nil
}

func versionLine() string {
	v, rev, at := "(devel)", "(devel)", "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && s.Value != "":
				rev = s.Value
			case s.Key == "vcs.time" && s.Value != "":
				at = s.Value
			}
		}
	}
	return fmt.Sprintf("dpihub %s %s %s", v, rev, at)
}
