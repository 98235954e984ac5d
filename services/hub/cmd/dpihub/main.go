// Command dpihub is the dpihub hub and operator CLI: dpihub serve runs an
// embedded NATS with JetStream and the hub services in one process; dpihub
// demo plays the story; see dpihub help.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/dpihub/dpihub/services/hub/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}, os.Args[1:])
	stop()
	os.Exit(code)
}
