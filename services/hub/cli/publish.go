package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/sign"
)

func publish(ctx context.Context, env Env, args []string) error {
	fs := flags(env, "publish")
	hub := addHubFlags(fs)
	keyPath := fs.String("key", "", "the country's private key file (from dpihub keys gen)")
	typ := fs.String("type", "", "event type, e.g. org.dpihub.proposal.submitted.v1")
	project := fs.String("project", "", "upstream project slug, e.g. mosip-id-repository")
	service := fs.String("service", "cli", "service part of the event source")
	if err := parse(fs, env, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(env.Stderr, "usage: dpihub publish --key FILE --type TYPE --project SLUG PAYLOAD.json (or - for stdin)")
		return errUsage
	}
	spec, ok := events.Lookup(*typ)
	if !ok {
		return fmt.Errorf("unknown event type %q (see docs/events.md)", *typ)
	}
	raw, err := readArg(env, fs.Arg(0))
	if err != nil {
		return err
	}
	p := spec.New()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(p); err != nil {
		return fmt.Errorf("payload %s is not a %s: %w", fs.Arg(0), spec.Type, err)
	}
	// One payload per event: a second value after it is a mistake, not
	// something to drop.
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		if err == nil {
			return fmt.Errorf("payload %s has data after its JSON object: %.40s", fs.Arg(0), extra)
		}
		return fmt.Errorf("payload %s has data after its JSON object: %w", fs.Arg(0), err)
	}
	signer, err := sign.ReadSigner(*keyPath)
	if err != nil {
		return err
	}
	e, err := events.New(events.Source{Country: signer.Country(), Service: *service}, *project, p)
	if err != nil {
		return err
	}
	b, closeConn, err := hub.attach(ctx, "dpihub publish", signer.Country())
	if err != nil {
		return err
	}
	defer closeConn()
	ack, err := b.Publisher(signer).Publish(ctx, e)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "published %s %s as stream seq %d (signed with %s)\n", e.Type(), e.ID(), ack.Sequence, signer.KeyID())
	return nil
}

func readArg(env Env, name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(env.Stdin)
	}
	b, err := os.ReadFile(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: no such file", name)
	}
	return b, err
}
