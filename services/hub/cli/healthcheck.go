package cli

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// healthcheck is what a container's HEALTHCHECK runs: the images are
// FROM scratch, without curl or a shell, so dpihub asks itself.
func healthcheck(ctx context.Context, env Env, args []string) error {
	fs := flags(env, "healthcheck")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the answer")
	if err := parse(fs, env, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(env.Stderr, "usage: dpihub healthcheck [--timeout D] URL (exit 0 when GET URL answers 200)")
		return errUsage
	}
	url := fs.Arg(0)
	cctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}
