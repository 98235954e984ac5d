package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/events/subject"
)

func tail(ctx context.Context, env Env, args []string) error {
	fs := flags(env, "tail")
	server := fs.String("server", "nats://127.0.0.1:4222", "NATS URL of the hub")
	dlq := fs.Bool("dlq", false, "follow the dead-letter stream instead of events")
	asJSON := fs.Bool("json", false, "one JSON object per line")
	filter := fs.String("subject", "", "subject filter, e.g. dpi.*.fix.>; default all")
	all := fs.Bool("all", false, "start from the first stored message instead of new ones")
	n := fs.Int("n", 0, "stop after n messages (0: follow until interrupted)")
	trustPath := fs.String("trust", "", "trust list: verify each event and show the result")
	if err := parse(fs, env, args); err != nil {
		return err
	}
	var v *sign.Verifier
	if *trustPath != "" {
		var err error
		if v, err = sign.LoadVerifier(*trustPath); err != nil {
			return err
		}
	}
	nc, js, err := connect(*server, "dpihub tail")
	if err != nil {
		return err
	}
	defer nc.Close()
	stream, def := bus.Stream, subject.All
	if *dlq {
		stream, def = bus.DLQStream, bus.DLQSubjects
	}
	if *filter == "" {
		*filter = def
	}
	oc := jetstream.OrderedConsumerConfig{FilterSubjects: []string{*filter}, DeliverPolicy: jetstream.DeliverNewPolicy}
	if *all {
		oc.DeliverPolicy = jetstream.DeliverAllPolicy
	}
	c, err := js.OrderedConsumer(ctx, stream, oc)
	if err != nil {
		return fmt.Errorf("follow %s: %w", stream, err)
	}
	for count := 0; *n == 0 || count < *n; {
		m, err := c.Next(jetstream.FetchMaxWait(time.Second))
		if ctx.Err() != nil {
			return nil
		}
		if quiet(err) {
			continue
		}
		if err != nil {
			return err
		}
		count++
		if *dlq {
			printDeadLetter(env.Stdout, bus.ParseDeadLetter(m), *asJSON)
		} else {
			printEvent(env.Stdout, m, v, *asJSON)
		}
	}
	return nil
}

// quiet reports whether err of a consumer's Next only says that no
// message came in time.
func quiet(err error) bool {
	return errors.Is(err, jetstream.ErrNoMessages) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout)
}

func printEvent(w io.Writer, m jetstream.Msg, v *sign.Verifier, asJSON bool) {
	e, err := bus.Decode(m.Headers(), m.Data())
	if err != nil {
		if asJSON {
			_ = json.NewEncoder(w).Encode(map[string]any{"subject": m.Subject(), "error": err.Error()})
		} else {
			fmt.Fprintf(w, "%-40s  not a CloudEvent: %v\n", m.Subject(), err)
		}
		return
	}
	// verification is the refusal reason, or "signed"; empty without a
	// trust list.
	verification, verified := "", false
	if v != nil {
		verification = "signed"
		if err := sign.CheckSubject(m.Subject(), e); err != nil {
			verification = string(sign.ReasonOf(err))
		} else if _, err := v.Verify(e); err != nil {
			verification = string(sign.ReasonOf(err))
		} else {
			verified = true
		}
	}
	if asJSON {
		out := map[string]any{"subject": m.Subject(), "event": json.RawMessage(mustJSON(e))}
		if verification != "" {
			out["verified"] = verified
			out["verification"] = verification
		}
		_ = json.NewEncoder(w).Encode(out)
		return
	}
	cc, _ := e.Extensions()[events.ExtCountry].(string)
	fmt.Fprintf(w, "%s  %-3s %-28s %-24s %s", e.Time().UTC().Format(time.RFC3339), cc,
		events.ShortType(e.Type()), e.Subject(), events.Describe(e))
	switch {
	case verified:
		fmt.Fprintf(w, "  [✓ %s]", verification)
	case verification != "":
		fmt.Fprintf(w, "  [✗ %s]", verification)
	}
	fmt.Fprintln(w)
}

func printDeadLetter(w io.Writer, dl bus.DeadLetter, asJSON bool) {
	if asJSON {
		out := map[string]any{"seq": dl.Seq, "reason": dl.Reason, "detail": dl.Detail, "consumer": dl.Consumer,
			"subject": dl.Subject, "stream_seq": dl.StreamSeq}
		if json.Valid(dl.Data) {
			out["data"] = json.RawMessage(dl.Data)
		} else {
			out["data"] = string(dl.Data)
		}
		_ = json.NewEncoder(w).Encode(out)
		return
	}
	fmt.Fprintf(w, "#%d  %-22s consumer=%s subject=%s: %s\n", dl.Seq, dl.Reason, dl.Consumer, dl.Subject, dl.Detail)
}

func mustJSON(e event.Event) []byte {
	b, err := json.Marshal(e)
	if err != nil {
		return []byte("null")
	}
	return b
}
