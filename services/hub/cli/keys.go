package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/text/language"

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
	if err := noArgs(fs); err != nil {
		return err
	}
	if *country == "" {
		return errors.New("--country is required, e.g. --country ma")
	}
	if err := checkCountry(*country); err != nil {
		return err
	}
	if *validFor < 0 {
		return fmt.Errorf("--valid-for %v is negative: give a duration from now, or 0 for no end", *validFor)
	}
	if *trust == "" {
		*trust = filepath.Join(*dir, "trust.json")
	}
	// Everything is checked before the private key is written: a failed
	// run leaves no key that no trust list knows.
	tl := &sign.TrustList{}
	if _, err := os.Stat(*trust); err == nil {
		if tl, err = sign.LoadTrustList(*trust); err != nil {
			return err
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("--trust: %w", err)
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
	now := time.Now().UTC().Truncate(time.Second)
	var notAfter time.Time
	if *validFor > 0 {
		notAfter = now.Add(*validFor)
	}
	tl.Add(sign.Trusted(k, now.Add(-time.Minute), notAfter))
	if err := tl.WriteFile(*trust); err != nil {
		_ = os.Remove(keyPath)
		return err
	}
	fmt.Fprintf(env.Stdout, "key %s\n  private key: %s (keep it secret)\n  trust list:  %s\n", k.KeyID, keyPath, *trust)
	return nil
}

// checkCountry accepts the hub's pseudo-country "hub" and the lower-case
// ISO 3166-1 alpha-2 code of a country, as x/text/language keeps the list
// (CLDR): codes that are not assigned (xx), name no country (zz, eu) or
// were replaced (uk: gb, dd: de) are refused.
func checkCountry(cc string) error {
	if cc == "hub" {
		return nil
	}
	if len(cc) == 2 && cc == strings.ToLower(cc) {
		if r, err := language.ParseRegion(cc); err == nil && r.IsCountry() && strings.EqualFold(r.Canonicalize().String(), cc) {
			return nil
		}
	}
	return fmt.Errorf("--country %q is not the lower-case ISO 3166-1 alpha-2 code of a country (e.g. ma, ph, lk, ke) or hub", cc)
}
