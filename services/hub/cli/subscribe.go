package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"text/tabwriter"
	"time"
)

// subscribe: dpihub subscribe webhook|list|rm, a maintainer's
// subscriptions to a project's proposals.
func subscribeCmd(ctx context.Context, env Env, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(env.Stderr, "usage: dpihub subscribe webhook|list|rm [flags]")
		return errUsage
	}
	fs := flags(env, "subscribe "+args[0])
	api := apiFlag(fs)
	tokenFile := fs.String("token-file", "", "file of your maintainer token (or the proposals service's)")
	var project, hook *string
	if args[0] == "webhook" {
		project = fs.String("project", "", "the upstream project slug (required)")
		hook = fs.String("url", "", "the receiver's URL (required); it must answer the CloudEvents webhook handshake (OPTIONS)")
	}
	if err := parse(fs, env, args[1:]); err != nil {
		return err
	}
	// The arguments first: a mistake in them is told before any file is read.
	switch args[0] {
	case "webhook", "list":
		if err := noArgs(fs); err != nil {
			return err
		}
	case "rm":
		if fs.NArg() != 1 {
			fmt.Fprintln(env.Stderr, "usage: dpihub subscribe rm [--api URL] --token-file FILE SUBSCRIPTION-ID")
			return errUsage
		}
	}
	token, err := readToken(*tokenFile)
	if err != nil {
		return err
	}
	base := *api + "/api/v1/subscriptions"
	switch args[0] {
	case "webhook":
		if err := noArgs(fs); err != nil {
			return err
		}
		if *project == "" || *hook == "" {
			return fmt.Errorf("--project and --url are required")
		}
		var s struct{ ID, Project, URL, Secret string }
		if err := doJSON(ctx, http.MethodPost, base, token, map[string]string{"project": *project, "url": *hook}, http.StatusCreated, &s); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "subscribed %s to %s as %s\nsecret (shown once; the receiver checks webhook-signature with it): %s\n", s.URL, s.Project, s.ID, s.Secret)
		return nil
	case "list":
		if err := noArgs(fs); err != nil {
			return err
		}
		var page struct {
			Subscriptions []struct {
				ID, Project, URL string
				Created          time.Time
				Delivery         map[string]any
			}
		}
		if err := getJSON(ctx, base, token, &page); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tPROJECT\tURL\tDELIVERED\tPENDING\tLAST ERROR")
		for _, s := range page.Subscriptions {
			d := s.Delivery
			fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%v\t%v\n", s.ID, s.Project, s.URL, d["delivered"], d["pending"], d["last_error"])
		}
		return tw.Flush()
	case "rm":
		if fs.NArg() != 1 {
			fmt.Fprintln(env.Stderr, "usage: dpihub subscribe rm [--api URL] --token-file FILE SUBSCRIPTION-ID")
			return errUsage
		}
		if err := doJSON(ctx, http.MethodDelete, base+"/"+url.PathEscape(fs.Arg(0)), token, nil, http.StatusNoContent, nil); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "unsubscribed %s\n", fs.Arg(0))
		return nil
	}
	fmt.Fprintf(env.Stderr, "dpihub subscribe: unknown %q; webhook, list or rm\n", args[0])
	return errUsage
}
