package bus

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Dead letters: an event a consumer refuses for good is stored in DPI_DLQ
// on dlq.<consumer>, with its original headers and data and these headers
// saying why. This file holds the whole of it: the reasons, the headers,
// writing an entry and reading entries back.

// Headers of a dead-letter entry.
const (
	HeaderReason    = "Dpihub-Dlq-Reason"
	HeaderDetail    = "Dpihub-Dlq-Detail"
	HeaderConsumer  = "Dpihub-Dlq-Consumer"
	HeaderSubject   = "Dpihub-Dlq-Subject"
	HeaderStreamSeq = "Dpihub-Dlq-Stream-Seq"
	HeaderDelivered = "Dpihub-Dlq-Deliveries"
	HeaderTime      = "Dpihub-Dlq-Time"
)

// Dead-letter reasons of the bus itself; the verification reasons of
// package sign are used as they are.
const (
	ReasonNotCloudEvent   = "not-a-cloudevent"
	ReasonSchemaInvalid   = "schema-invalid"
	ReasonInvalidEvent    = "invalid-event"
	ReasonHandlerRejected = "handler-rejected"
	ReasonMaxDeliveries   = "max-deliveries"
)

// DeadLetter is one entry of the dead-letter stream.
type DeadLetter struct {
	Reason    string
	Detail    string
	Consumer  string
	Subject   string // the original subject
	StreamSeq uint64 // the original stream sequence (0 if unknown)
	Header    nats.Header
	Data      []byte
	Seq       uint64 // sequence in DPI_DLQ
}

// deadLetter stores the original message with the reason. Its msg-id is
// derived from (consumer, stream sequence), so two reports of the same
// failure (our own and the server's max-deliveries advisory) are stored
// once.
func (b *Bus) deadLetter(ctx context.Context, consumer string, orig *nats.Msg, seq, delivered uint64, reason, detail string) error {
	m := nats.NewMsg(DLQSubjectRoot + "." + consumer)
	for k, vs := range orig.Header {
		if len(k) >= 5 && (k[:5] == "Nats-" || k[:5] == "nats-") {
			continue
		}
		m.Header[k] = append([]string(nil), vs...)
	}
	if len(detail) > 2000 {
		detail = detail[:2000] + "…"
	}
	m.Header.Set(HeaderReason, reason)
	m.Header.Set(HeaderDetail, detail)
	m.Header.Set(HeaderConsumer, consumer)
	m.Header.Set(HeaderSubject, orig.Subject)
	m.Header.Set(HeaderStreamSeq, fmt.Sprint(seq))
	m.Header.Set(HeaderDelivered, fmt.Sprint(delivered))
	m.Header.Set(HeaderTime, time.Now().UTC().Format(time.RFC3339Nano))
	m.Data = orig.Data
	id := fmt.Sprintf("dlq:%s:%d", consumer, seq)
	if seq == 0 {
		id = "" // no stable identity: store every report
	}
	opts := []jetstream.PublishOpt{jetstream.WithExpectStream(DLQStream)}
	if id != "" {
		opts = append(opts, jetstream.WithMsgID(id))
	}
	if _, err := b.js.PublishMsg(ctx, m, opts...); err != nil {
		return fmt.Errorf("dead-letter %s seq %d (%s): %w", consumer, seq, reason, err)
	}
	b.metrics.DeadLettered.WithLabelValues(consumer, reason).Inc()
	b.log.Warn("dead-lettered",
		zap.String("consumer", consumer), zap.String("subject", orig.Subject),
		zap.Uint64("stream_seq", seq), zap.String("reason", reason), zap.String("detail", detail))
	return nil
}

// ParseDeadLetter reads a message of DPI_DLQ.
func ParseDeadLetter(m jetstream.Msg) DeadLetter {
	h := m.Headers()
	dl := DeadLetter{
		Reason:   h.Get(HeaderReason),
		Detail:   h.Get(HeaderDetail),
		Consumer: h.Get(HeaderConsumer),
		Subject:  h.Get(HeaderSubject),
		Header:   h,
		Data:     m.Data(),
	}
	fmt.Sscan(h.Get(HeaderStreamSeq), &dl.StreamSeq)
	if md, err := m.Metadata(); err == nil {
		dl.Seq = md.Sequence.Stream
	}
	return dl
}

// ReadDeadLetters returns every entry of DPI_DLQ, oldest first.
func ReadDeadLetters(ctx context.Context, js jetstream.JetStream) ([]DeadLetter, error) {
	s, err := js.Stream(ctx, DLQStream)
	if err != nil {
		return nil, fmt.Errorf("read dead letters: %w", err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("read dead letters: %w", err)
	}
	if info.State.Msgs == 0 {
		return nil, nil
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, fmt.Errorf("read dead letters: %w", err)
	}
	out := make([]DeadLetter, 0, info.State.Msgs)
	for range info.State.Msgs {
		m, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			return out, fmt.Errorf("read dead letters: %w", err)
		}
		out = append(out, ParseDeadLetter(m))
	}
	return out, nil
}
