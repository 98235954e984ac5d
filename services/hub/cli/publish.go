package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/cloudevents/sdk-go/v2/event"

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
	e, seq, signer, err := signAndPublish(ctx, hub, "dpihub publish", *keyPath, *service, *project, p)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "published %s %s as stream seq %d (signed with %s)\n", e.Type(), e.ID(), seq, signer.KeyID())
	return nil
}

// signAndPublish builds payload p's event as the country of the key at
// keyPath, from service, about project, and publishes it signed through
// the hub (name is the connection's): what publish and the proposal
// commands do. It returns the event, its stream sequence and the signer.
func signAndPublish(ctx context.Context, hub hubFlags, name, keyPath, service, project string, p events.Payload) (event.Event, uint64, *sign.Signer, error) {
	signer, err := sign.ReadSigner(keyPath)
	if err != nil {
		return event.Event{}, 0, nil, err
	}
	e, err := events.New(events.Source{Country: signer.Country(), Service: service}, project, p)
	if err != nil {
		return event.Event{}, 0, nil, err
	}
	b, closeConn, err := hub.attach(ctx, name, signer.Country())
	if err != nil {
		return event.Event{}, 0, nil, err
	}
	defer closeConn()
	ack, err := b.Publisher(signer).Publish(ctx, e)
	if err != nil {
		return event.Event{}, 0, nil, err
	}
	return e, ack.Sequence, signer, nil
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
