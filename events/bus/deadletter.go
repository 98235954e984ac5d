package bus

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Dead letters: an event a consumer refuses for good is stored in DPI_DLQ
// on dlq.<consumer>, with its original headers and data and these headers
// saying why. This file holds the whole of it: the reasons, the headers,
// writing an entry and reading entries back.
//
// An event, even a refused one, is kept whole, so that once the cause is
// fixed it can be published again (docs/operations.md). A message that is
// not a CloudEvent at all is junk: it is already in DPI once, and a copy
// would only double what a flood of it costs. It is kept as a bounded
// record instead: the reason, where it was, its size, and its first
// DeadLetterKeep bytes.

// Headers of a dead-letter entry.
const (
	HeaderReason    = "Dpihub-Dlq-Reason"
	HeaderDetail    = "Dpihub-Dlq-Detail"
	HeaderConsumer  = "Dpihub-Dlq-Consumer"
	HeaderSubject   = "Dpihub-Dlq-Subject"
	HeaderStreamSeq = "Dpihub-Dlq-Stream-Seq"
	HeaderDelivered = "Dpihub-Dlq-Deliveries"
	HeaderTime      = "Dpihub-Dlq-Time"
	// HeaderSize is the size in bytes of the original message's data.
	HeaderSize = "Dpihub-Dlq-Original-Size"
	// HeaderCut is "true" on a bounded record: its data is at most the
	// first DeadLetterKeep bytes of the original, and the original's
	// headers are left out unless they were as small.
	HeaderCut = "Dpihub-Dlq-Cut"
)

// DeadLetterKeep is how many bytes of a message that is not a CloudEvent
// its dead letter keeps: enough to see what it was.
const DeadLetterKeep = 1 << 10

// maxDetail is the most bytes of a detail a dead letter keeps.
const maxDetail = 2000

// Dead-letter reasons of the bus itself; the verification reasons of
// package sign are used as they are.
const (
	ReasonNotCloudEvent   = "not-a-cloudevent"
	ReasonSchemaInvalid   = "schema-invalid"
	ReasonInvalidEvent    = "invalid-event"
	ReasonNotAuthorized   = "not-authorized" // events.Authorize refused it; the detail names the rule
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
	// Size is the size of the original data; more than len(Data) when
	// the entry is Cut.
	Size int
	// Cut says the entry is a bounded record of a message that was not a
	// CloudEvent: Data is its beginning, and it cannot be taken again.
	Cut bool
}

// deadLetter stores the original message with the reason: whole when it
// is a CloudEvent, as a bounded record (HeaderCut) when it is not. Its
// msg-id is derived from (consumer, stream sequence), so two reports of
// the same failure (our own and the server's max-deliveries advisory) are
// stored once.
func (b *Bus) deadLetter(ctx context.Context, consumer string, orig *nats.Msg, seq, delivered uint64, reason, detail string) error {
	m := nats.NewMsg(DLQSubjectRoot + "." + consumer)
	whole := isEvent(reason, orig)
	if whole || headerSize(orig.Header) <= DeadLetterKeep {
		for k, vs := range orig.Header {
			// Not the server's headers, nor a sender's claim of what the
			// entry is (a forged Dpihub-Dlq-Cut on an event).
			if strings.HasPrefix(strings.ToLower(k), "nats-") || strings.HasPrefix(strings.ToLower(k), "dpihub-dlq-") {
				continue
			}
			m.Header[k] = append([]string(nil), vs...)
		}
	}
	if len(detail) > maxDetail {
		detail = detail[:maxDetail] + "…"
	}
	m.Data = orig.Data
	m.Header.Set(HeaderSize, strconv.Itoa(len(orig.Data)))
	if !whole {
		m.Data = orig.Data[:min(len(orig.Data), DeadLetterKeep)]
		m.Header.Set(HeaderCut, "true")
	}
	m.Header.Set(HeaderReason, reason)
	m.Header.Set(HeaderDetail, detail)
	m.Header.Set(HeaderConsumer, consumer)
	m.Header.Set(HeaderSubject, orig.Subject)
	m.Header.Set(HeaderStreamSeq, fmt.Sprint(seq))
	m.Header.Set(HeaderDelivered, fmt.Sprint(delivered))
	m.Header.Set(HeaderTime, time.Now().UTC().Format(time.RFC3339Nano))
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
		zap.Uint64("stream_seq", seq), zap.String("reason", reason), zap.String("detail", detail),
		zap.Int("size", len(orig.Data)), zap.Bool("cut", !whole))
	return nil
}

// DeadLetter stores m, which a consumer named consumer took from DPI at
// stream sequence streamSeq and tried deliveries times, in DPI_DLQ with
// reason and detail, exactly as the bus's own consumers do for an event
// they refuse. It is for consumers that settle their messages themselves
// (the proposals service's webhook dispatcher) and still must leave a
// record of what they gave up on; the caller acks or terms m afterwards.
// Two calls for the same (consumer, streamSeq) within DuplicateWindow
// store one entry.
func (b *Bus) DeadLetter(ctx context.Context, consumer string, m *nats.Msg, streamSeq, deliveries uint64, reason, detail string) error {
	return b.deadLetter(ctx, consumer, m, streamSeq, deliveries, reason, detail)
}

// isEvent reports whether a message dead-lettered for reason is a
// CloudEvent, to be kept whole. Every reason but not-a-cloudevent comes
// after the message decoded, except max-deliveries, which the server
// reports for any message its consumer never settled: that one is
// decoded again to know.
func isEvent(reason string, orig *nats.Msg) bool {
	switch reason {
	case ReasonNotCloudEvent:
		return false
	case ReasonMaxDeliveries:
		_, err := Decode(orig.Header, orig.Data)
		return err == nil
	}
	return true
}

// headerSize is about how many bytes h takes on the wire.
func headerSize(h nats.Header) int {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// ParseDeadLetter reads a message of DPI_DLQ.
func ParseDeadLetter(m jetstream.Msg) DeadLetter {
	var seq uint64
	if md, err := m.Metadata(); err == nil {
		seq = md.Sequence.Stream
	}
	return parseDeadLetter(m.Headers(), m.Data(), seq)
}

// DeadLetterOf reads a message of DPI_DLQ got by its sequence
// (jetstream.Stream.GetMsg), as an observer reads them: it may make no
// consumer.
func DeadLetterOf(m *jetstream.RawStreamMsg) DeadLetter {
	return parseDeadLetter(m.Header, m.Data, m.Sequence)
}

func parseDeadLetter(h nats.Header, data []byte, seq uint64) DeadLetter {
	dl := DeadLetter{
		Reason:   h.Get(HeaderReason),
		Detail:   h.Get(HeaderDetail),
		Consumer: h.Get(HeaderConsumer),
		Subject:  h.Get(HeaderSubject),
		Header:   h,
		Data:     data,
		Size:     len(data),
		Cut:      h.Get(HeaderCut) == "true",
		Seq:      seq,
	}
	if n, err := strconv.Atoi(h.Get(HeaderSize)); err == nil {
		dl.Size = n
	}
	fmt.Sscan(h.Get(HeaderStreamSeq), &dl.StreamSeq)
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
