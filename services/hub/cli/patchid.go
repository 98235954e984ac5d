package cli

import (
	"bufio"
	"context"
	"fmt"
	"os"

	"github.com/dpihub/dpihub/services/node/assess"
	"github.com/dpihub/dpihub/services/node/patchid"
)

func patchID(ctx context.Context, env Env, args []string) error {
	fs := flags(env, "patch-id")
	stable := fs.Bool("stable", false, "git patch-id --stable: per-file hashes summed, independent of file order")
	fs.Bool("unstable", false, "git patch-id --unstable (the default; accepted for drop-in use)")
	verbatim := fs.Bool("verbatim", false, "git patch-id --verbatim: keep whitespace (implies --stable)")
	if err := parse(fs, env, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(env.Stderr, "usage: dpihub patch-id [--stable|--unstable|--verbatim] < patch")
		return errUsage
	}
	w := bufio.NewWriterSize(env.Stdout, 64<<10)
	if err := patchid.Write(w, env.Stdin, patchid.Options{Stable: *stable || *verbatim, Verbatim: *verbatim}); err != nil {
		return err
	}
	return w.Flush()
}

func fix(ctx context.Context, env Env, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "assess":
			return fixAssess(ctx, env, args[1:])
		case "publish":
			return fixPublish(ctx, env, args[1:])
		case "export":
			return fixExport(ctx, env, args[1:])
		}
	}
	fmt.Fprintln(env.Stderr, "usage: dpihub fix assess|publish|export ...")
	fmt.Fprintln(env.Stderr, "  fix assess  --repo DIR [--ref REF] --patch FILE      assess a patch against a fork (JSON)")
	fmt.Fprintln(env.Stderr, "  fix publish --key FILE --project SLUG --repo DIR COMMIT|RANGE   publish commits as fixes")
	fmt.Fprintln(env.Stderr, "  fix export  --node URL ID                            a received fix as a git am mbox")
	return errUsage
}

func fixAssess(ctx context.Context, env Env, args []string) error {
	fs := flags(env, "fix assess")
	repo := fs.String("repo", ".", "the fork's git repository")
	ref := fs.String("ref", "HEAD", "the fork's branch or commit")
	patchPath := fs.String("patch", "", "the fix, one commit as git format-patch writes it (- for stdin)")
	if err := parse(fs, env, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *patchPath == "" {
		return fmt.Errorf("--patch is required")
	}
	patch, err := readArg(env, *patchPath)
	if err != nil {
		return err
	}
	if _, err := os.Stat(*repo); err != nil {
		return fmt.Errorf("--repo %s: %w", *repo, err)
	}
	res, err := assess.Assess(ctx, *repo, *ref, patch)
	if err != nil {
		return err
	}
	return assess.WriteJSON(env.Stdout, res)
}
