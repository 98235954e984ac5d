package cli

import (
	"context"
	"fmt"

	"github.com/dpihub/dpihub/services/hub/demo"
)

func demoCmd(ctx context.Context, env Env, args []string) error {
	fs := flags(env, "demo")
	httpAddr := fs.String("http", "127.0.0.1:8080", "coordinator HTTP address")
	natsPort := fs.Int("nats-port", -1, "NATS client port for dpihub tail and the nats CLI (-1: any free port)")
	exit := fs.Bool("exit", false, "exit after the story instead of serving until Ctrl-C")
	countries := fs.Int("countries", 3, fmt.Sprintf("countries of the demo: above 3, a campaign's history of that many countries (at most %d) follows the story", demo.MaxCountries))
	if err := parse(fs, env, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *countries < 3 || *countries > demo.MaxCountries {
		fmt.Fprintf(fs.Output(), "demo: --countries %d: give 3 (the story alone) to %d (see demo -h)\n", *countries, demo.MaxCountries)
		return errUsage
	}
	_, err := demo.Run(ctx, demo.Config{Out: env.Stdout, HTTPAddr: *httpAddr, NATSPort: *natsPort, Exit: *exit, Countries: *countries})
	return err
}
