package prophttp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/problem"
	"github.com/dpihub/dpihub/events/subject"
)

// keepAlive is how often an idle stream sends a comment, so that proxies
// keep it open.
const keepAlive = 15 * time.Second

// stream serves a project's proposal events as server-sent events: each
// event is the message body as stored (the CloudEvent, with its
// signature, for the receiver to verify), its id the stream sequence. A
// client that reconnects with Last-Event-ID (or ?after=SEQ) resumes after
// that event; without either it gets the events from now on (after=0:
// from the beginning). Events the hub's checks refuse are not sent.
func (h *Handler) stream(w http.ResponseWriter, r *http.Request) {
	slug := r.PathValue("slug")
	if !events.ValidProject(slug) {
		h.fail(w, r, events.Errorf(events.ErrBadInput, "%q is not a project slug", slug))
		return
	}
	after, fromNow, err := resumeFrom(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		h.fail(w, r, errors.New("the response cannot stream"))
		return
	}
	select {
	case h.streams <- struct{}{}:
		defer func() { <-h.streams }()
	default:
		w.Header().Set("Retry-After", "10")
		problem.Write(w, r, problem.New(http.StatusServiceUnavailable, problem.TypeInternal, errStreamsFull.Error()+": try again later"))
		return
	}
	cc := jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject.Filter("", "proposal", "", slug)}, DeliverPolicy: jetstream.DeliverNewPolicy}
	if !fromNow {
		cc.DeliverPolicy, cc.OptStartSeq = jetstream.DeliverByStartSequencePolicy, after+1
	}
	ctx := r.Context()
	cons, err := h.cfg.JetStream.OrderedConsumer(ctx, bus.Stream, cc)
	if err != nil {
		h.fail(w, r, fmt.Errorf("stream %s: %w", slug, err))
		return
	}
	iter, err := cons.Messages()
	if err != nil {
		h.fail(w, r, fmt.Errorf("stream %s: %w", slug, err))
		return
	}
	defer iter.Stop()
	stop := context.AfterFunc(ctx, iter.Stop)
	defer stop()

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "retry: 3000\n\n")
	fl.Flush()

	msgs := make(chan jetstream.Msg)
	go func() {
		defer close(msgs)
		for {
			m, err := iter.Next()
			if err != nil {
				return
			}
			select {
			case msgs <- m:
			case <-ctx.Done():
				return
			}
		}
	}()
	admit := bus.Admit(h.cfg.Verifier)
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
			fl.Flush()
		case m, ok := <-msgs:
			if !ok {
				return
			}
			typ, ok := h.admitted(ctx, admit, m)
			if !ok {
				continue
			}
			md, _ := m.Metadata()
			if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", md.Sequence.Stream, events.ShortType(typ), m.Data()); err != nil {
				return
			}
			fl.Flush()
		}
	}
}

// admitted checks a message as every consumer does and returns its type.
func (h *Handler) admitted(ctx context.Context, admit bus.Middleware, m jetstream.Msg) (string, bool) {
	md, err := m.Metadata()
	if err != nil {
		return "", false
	}
	e, err := bus.Decode(m.Headers(), m.Data())
	if err != nil {
		return "", false
	}
	msg := bus.Message{Subject: m.Subject(), Stream: bus.Stream, StreamSeq: md.Sequence.Stream, Time: md.Timestamp}
	var typ string
	err = admit(func(_ context.Context, e event.Event) error { typ = e.Type(); return nil })(bus.WithMessage(ctx, msg), e)
	if err != nil {
		h.cfg.Logger.Debug("stream: event refused, not sent", zap.Uint64("seq", md.Sequence.Stream), zap.Error(err))
		return "", false
	}
	return typ, true
}

// resumeFrom reads where a stream starts: after the Last-Event-ID header's
// sequence, else ?after=, else from now.
func resumeFrom(r *http.Request) (after uint64, fromNow bool, err error) {
	v := r.Header.Get("Last-Event-ID")
	if v == "" {
		v = r.URL.Query().Get("after")
	}
	if v == "" {
		return 0, true, nil
	}
	after, err = strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, false, events.Errorf(events.ErrBadInput, "resume after %q: a stream sequence, a whole number", v)
	}
	return after, false, nil
}
