package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/dpihub/dpihub/events/bus"
)

// The workers of a project's subscriptions all take the same events, at
// about the same time. Decoding an event and admitting it (signature,
// contract, authority) costs more than posting it, and gives the same
// answer for every subscription: the stored message, its stored time and
// the trust list decide. So the first worker to take a message admits it
// and the others wait for its answer, which is kept for the last
// admissionsKept stream sequences. A worker far behind the others (its
// receiver is down) finds the answer gone and admits the message itself.
// A new trust list (sign.Verifier.SetTrustList) decides for the messages
// admitted after it; the workers that take a message shortly after the
// first get the first one's answer, as if they had all taken it together.

// admissionsKept is how many answers are kept: some hundred KB.
const admissionsKept = 4096

// admission is the answer for one stored message.
type admission struct {
	ready  chan struct{} // closed once the fields below are set
	stored time.Time     // the message's stored time, which tells two messages of one sequence apart
	ref    string        // the event's source "#" id, from which webhook-ids are made
	binary bool          // the message is in binary mode: its data is not the event
	err    error         // why the event was not admitted; nil if it was
}

// admissions keeps the answers, by stream sequence.
type admissions struct {
	admit bus.Handler
	log   *zap.Logger

	mu    sync.Mutex
	bySeq map[uint64]*admission
	ring  [admissionsKept]uint64 // the sequences kept, oldest replaced first
	next  int
}

func newAdmissions(admit bus.Handler, log *zap.Logger) *admissions {
	return &admissions{admit: admit, log: log, bySeq: make(map[uint64]*admission, admissionsKept)}
}

// of returns the answer for message m of consumer (stream sequence seq,
// stored at stored), admitting it if no other worker has.
func (a *admissions) of(m jetstream.Msg, consumer string, seq, delivered uint64, stored time.Time) *admission {
	a.mu.Lock()
	ad, ok := a.bySeq[seq]
	if !ok || !ad.stored.Equal(stored) {
		ad = &admission{ready: make(chan struct{}), stored: stored}
		if old := a.ring[a.next]; old != 0 {
			delete(a.bySeq, old)
		}
		a.ring[a.next] = seq
		a.next = (a.next + 1) % admissionsKept
		a.bySeq[seq] = ad
		ok = false
	}
	a.mu.Unlock()
	if ok {
		<-ad.ready // admission is CPU work: it always ends
		return ad
	}
	ad.ref, ad.binary, ad.err = a.decide(m, consumer, seq, delivered, stored)
	close(ad.ready)
	if ad.err != nil {
		a.log.Info("webhooks skip an event that was not admitted", zap.Uint64("stream_seq", seq),
			zap.String("subject", m.Subject()), zap.String("reason", reason(ad.err)), zap.Error(ad.err))
	}
	return ad
}

// decide decodes and admits m as every consumer of the hub does.
func (a *admissions) decide(m jetstream.Msg, consumer string, seq, delivered uint64, stored time.Time) (ref string, binary bool, err error) {
	e, err := bus.Decode(m.Headers(), m.Data())
	if err != nil {
		return "", false, err
	}
	ctx := bus.WithMessage(context.Background(), bus.Message{
		Subject: m.Subject(), Stream: bus.Stream, StreamSeq: seq, NumDelivered: delivered,
		Consumer: consumer, Time: stored,
	})
	if err := a.admit(ctx, e); err != nil {
		return "", false, err
	}
	return bus.MsgID(e), !isStructured(m), nil
}

// isStructured reports whether m is in structured mode, as bus.Decode
// decides: dpihub publishes so.
func isStructured(m jetstream.Msg) bool {
	const prefix = "application/cloudevents"
	ct := m.Headers().Get("Content-Type")
	return len(ct) >= len(prefix) && strings.EqualFold(ct[:len(prefix)], prefix)
}

// body returns the body of a delivery of admitted message m: its own bytes
// when it is in structured mode, so that the receiver gets exactly what was
// signed and stored; the event encoded in structured mode when it came in
// binary mode (which the admission kept no copy of: such a body may be
// megabytes, and is rare).
func (ad *admission) body(m jetstream.Msg) ([]byte, error) {
	if !ad.binary {
		return m.Data(), nil
	}
	e, err := bus.Decode(m.Headers(), m.Data())
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode event %s in structured mode: %w", e.ID(), err)
	}
	return b, nil
}

// reason is the dead-letter reason the bus gives an event refused with
// err.
func reason(err error) string {
	if rej, ok := errors.AsType[*bus.RejectError](err); ok {
		return rej.Reason
	}
	return bus.ReasonNotCloudEvent
}
