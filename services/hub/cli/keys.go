package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dpihub/dpihub/events/sign"
)

func keys(ctx context.Context, env Env, args []string) error {
	if len(args) == 0 || args[0] != "gen" {
		fmt.Fprintln(env.Stderr, "usage: dpihub keys gen --country CC [--dir DIR] [--trust FILE] [--valid-for DURATION]")
		return errUsage
	}
	fs := flags(env, "keys gen")
	country := fs.String("country", "", "ISO 3166-1 alpha-2 code, lower case (or hub)")
	dir := fs.String("dir", "keys", "directory for the private key file <country>-<keyid>.key")
	trust := fs.String("trust", "", "trust list to add the public key to, created if missing (default DIR/trust.json)")
	validFor := fs.Duration("valid-for", 0, "validity window from now (0: no end)")
	if err := parse(fs, env, args[1:]); err != nil {
		return err
	}
	if *country == "" {
		return errors.New("--country is required, e.g. --country ma")
	}
	k, err := sign.GenerateKey(*country)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	keyPath := filepath.Join(*dir, fmt.Sprintf("%s-%s.key", k.Country, k.KeyID[len(k.Country)+1:]))
	if err := sign.WritePrivateKey(keyPath, k); err != nil {
		return err
	}
	if *trust == "" {
		*trust = filepath.Join(*dir, "trust.json")
	}
	tl := &sign.TrustList{}
	if _, err := os.Stat(*trust); err == nil {
		if tl, err = sign.LoadTrustList(*trust); err != nil {
			return err
		}
	}
	now := time.Now().UTC().Truncate(time.Second)
	var notAfter time.Time
	if *validFor > 0 {
		notAfter = now.Add(*validFor)
	}
	tl.Add(sign.Trusted(k, now.Add(-time.Minute), notAfter))
	if err := tl.WriteFile(*trust); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "key %s\n  private key: %s (keep it secret)\n  trust list:  %s\n", k.KeyID, keyPath, *trust)
	return nil
}
