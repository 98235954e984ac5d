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
	hub := addHubFlags(fs)
	dlq := fs.Bool("dlq", false, "follow the dead-letter stream instead of events")
	asJSON := fs.Bool("json", false, "one JSON object per line")
	filter := fs.String("subject", "", "subject filter, e.g. dpi.*.fix.>; default all")
	all := fs.Bool("all", false, "start from the first stored message instead of new ones")
	n := fs.Int("n", 0, "stop after n messages (0: follow until interrupted)")
	trustPath := fs.String("trust", "", "trust list: verify each event and show the result")
	if err := parse(fs, env, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	var v *sign.Verifier
	if *trustPath != "" {
		var err error
		if v, err = sign.LoadVerifier(*trustPath); err != nil {
			return err
		}
	}
	nc, js, _, err := hub.connect("dpihub tail")
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
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("follow %s: %w", stream, err)
	}
	from := s.CachedInfo().State.LastSeq + 1
	if *all {
		from = 1
	}
	count := 0
	return follow(ctx, s, *filter, from, func(m *jetstream.RawStreamMsg) bool {
		if *dlq {
			printDeadLetter(env.Stdout, bus.DeadLetterOf(m), *asJSON)
		} else {
			printEvent(env.Stdout, m.Subject, m.Header, m.Data, v, *asJSON)
		}
		count++
		return *n == 0 || count < *n
	})
}

// followPoll is how often follow looks for a message that is not there
// yet.
const followPoll = 500 * time.Millisecond

// follow hands f every message of stream s on filter from sequence from
// on, until f returns false or ctx ends. It reads them one by one by
// sequence, as an observer may: it makes no consumer (the observer's
// credentials may not), and it holds no subscription on the stream's
// subjects either (docs/security.md: a live subscription there is what a
// consumer's misdirected deliveries would need); it looks again every
// followPoll when there is nothing new.
func follow(ctx context.Context, s jetstream.Stream, filter string, from uint64, f func(*jetstream.RawStreamMsg) bool) error {
	for seq := from; ; {
		m, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(filter))
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, jetstream.ErrMsgNotFound):
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(followPoll):
			}
			continue
		case err != nil:
			return fmt.Errorf("follow %s: %w", s.CachedInfo().Config.Name, err)
		}
		if !f(m) {
			return nil
		}
		seq = m.Sequence + 1
	}
}

func printEvent(w io.Writer, subj string, h nats.Header, data []byte, v *sign.Verifier, asJSON bool) {
	e, err := bus.Decode(h, data)
	if err != nil {
		if asJSON {
			_ = json.NewEncoder(w).Encode(map[string]any{"subject": subj, "error": err.Error()})
		} else {
			fmt.Fprintf(w, "%-40s  not a CloudEvent: %v\n", subj, err)
		}
		return
	}
	// verification is the refusal reason, or "signed"; empty without a
	// trust list.
	verification, verified := "", false
	if v != nil {
		verification = "signed"
		if err := sign.CheckSubject(subj, e); err != nil {
			verification = string(sign.ReasonOf(err))
		} else if _, err := v.Verify(e); err != nil {
			verification = string(sign.ReasonOf(err))
		} else {
			verified = true
		}
	}
	if asJSON {
		out := map[string]any{"subject": subj, "event": json.RawMessage(mustJSON(e))}
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
		if dl.Cut {
			out["cut"], out["size"] = true, dl.Size
		}
		_ = json.NewEncoder(w).Encode(out)
		return
	}
	cut := ""
	if dl.Cut {
		cut = fmt.Sprintf(" (cut: first %d of %d bytes kept)", len(dl.Data), dl.Size)
	}
	fmt.Fprintf(w, "#%d  %-22s consumer=%s subject=%s%s: %s\n", dl.Seq, dl.Reason, dl.Consumer, dl.Subject, cut, dl.Detail)
}

func mustJSON(e event.Event) []byte {
	b, err := json.Marshal(e)
	if err != nil {
		return []byte("null")
	}
	return b
}
