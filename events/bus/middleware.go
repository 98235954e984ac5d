package bus

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/sign"
)

// Handler is a consumer's logic. It knows nothing of acks: return nil when
// the event is handled, an error to have it redelivered with back-off, or
// Permanent(err) when retrying cannot help.
type Handler func(ctx context.Context, e event.Event) error

// Middleware wraps a Handler with a cross-cutting concern.
type Middleware func(Handler) Handler

// Chain applies mws around h; the first middleware is the outermost.
func Chain(h Handler, mws ...Middleware) Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// RejectError refuses an event for good: the bus dead-letters it with
// Reason and does not retry.
type RejectError struct {
	Reason string
	Err    error
}

func (e *RejectError) Error() string { return e.Reason + ": " + e.Err.Error() }
func (e *RejectError) Unwrap() error { return e.Err }

// Permanent marks a handler error that retrying cannot fix: the event is
// dead-lettered at once with reason handler-rejected.
func Permanent(err error) error { return &RejectError{Reason: ReasonHandlerRejected, Err: err} }

// Message describes the NATS message an event arrived in. Middleware and
// handlers find it with MessageFrom.
type Message struct {
	Subject      string
	Stream       string
	StreamSeq    uint64
	NumDelivered uint64
	Consumer     string
	// Time is when JetStream stored the message (zero if unknown). It is
	// the same on every delivery and every replay, unlike the time of
	// handling, so projections that record it stay deterministic.
	Time time.Time
}

type msgKey struct{}

// WithMessage returns ctx carrying m.
func WithMessage(ctx context.Context, m Message) context.Context {
	return context.WithValue(ctx, msgKey{}, m)
}

// MessageFrom returns the message the event being handled arrived in.
func MessageFrom(ctx context.Context) (Message, bool) {
	m, ok := ctx.Value(msgKey{}).(Message)
	return m, ok
}

// Admit is what every consumer runs before its handler sees an event, in
// this order: Verify, Validate, Authorize. The live consumers (Consume)
// and a rebuild from the stream admit the same events.
func Admit(v *sign.Verifier) Middleware {
	verify, validate, authorize := Verify(v), Validate(), Authorize()
	return func(next Handler) Handler { return verify(validate(authorize(next))) }
}

// Verify checks the event's signature against v and hands the verified
// event (only signed extensions kept) to next. When the context carries
// the message (MessageFrom), every token of its NATS subject must be the
// event's (sign.CheckSubject), and the key must have been valid when
// JetStream stored it (sign.Verifier.VerifyAt with Message.Time), not at
// the time the event claims; without a stored time the clock decides.
// Refusals are *RejectError with the sign.Reason as reason.
func Verify(v *sign.Verifier) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, e event.Event) error {
			var stored time.Time
			if m, ok := MessageFrom(ctx); ok {
				if m.Subject != "" {
					if err := sign.CheckSubject(m.Subject, e); err != nil {
						return &RejectError{Reason: string(sign.ReasonOf(err)), Err: err}
					}
				}
				stored = m.Time
			}
			ve, err := v.VerifyAt(e, stored)
			if err != nil {
				return &RejectError{Reason: string(sign.ReasonOf(err)), Err: err}
			}
			return next(ctx, ve)
		}
	}
}

// Validate checks the event against the contract (events.Validate):
// schema-invalid when the data breaks its JSON Schema, invalid-event for
// any other breach.
func Validate() Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, e event.Event) error {
			if err := events.Validate(e); err != nil {
				reason := ReasonInvalidEvent
				var ve *events.ValidationError
				if errors.As(err, &ve) && ve.Field == "data" {
					reason = ReasonSchemaInvalid
				}
				return &RejectError{Reason: reason, Err: err}
			}
			return next(ctx, e)
		}
	}
}

// Authorize refuses an event whose sender may not say what it says, by
// the authority table (events.Authorize), with reason not-authorized and
// a detail that names the rule. It runs after Verify, which proves the
// sender, and Validate, which proves the payload.
func Authorize() Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, e event.Event) error {
			if err := events.Authorize(e); err != nil {
				reason := ReasonInvalidEvent
				if _, ok := errors.AsType[*events.AuthorityError](err); ok {
					reason = ReasonNotAuthorized
				}
				return &RejectError{Reason: reason, Err: err}
			}
			return next(ctx, e)
		}
	}
}

// Deduper remembers which events a consumer has handled.
type Deduper interface {
	// Seen reports whether key was marked.
	Seen(ctx context.Context, key string) (bool, error)
	// Mark records key as handled.
	Mark(ctx context.Context, key string) error
}

// Dedupe skips events already handled, by (source, id), and marks an event
// once its handler succeeded. A crash between the handler's success and
// Mark can still repeat one event: handlers that must never repeat keep the
// event id in their own transaction.
func Dedupe(d Deduper) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, e event.Event) error {
			key := DedupeKey(e)
			seen, err := d.Seen(ctx, key)
			if err != nil {
				return fmt.Errorf("dedupe lookup: %w", err)
			}
			if seen {
				return nil
			}
			if err := next(ctx, e); err != nil {
				return err
			}
			if err := d.Mark(ctx, key); err != nil {
				return fmt.Errorf("dedupe mark: %w", err)
			}
			return nil
		}
	}
}

// DedupeKey is the key under which Dedupe remembers an event: hex of
// SHA-256(source, id), safe as a KV key.
func DedupeKey(e event.Event) string {
	h := sha256.Sum256([]byte(e.Source() + "\x00" + e.ID()))
	return hex.EncodeToString(h[:16])
}

// MemoryDeduper remembers the last n keys in memory. It forgets on restart;
// use KVDeduper where a restart must not repeat events.
type MemoryDeduper struct {
	mu   sync.Mutex
	set  map[string]struct{}
	ring []string
	next int
}

// NewMemoryDeduper remembers up to n keys (n <= 0: 100,000).
func NewMemoryDeduper(n int) *MemoryDeduper {
	if n <= 0 {
		n = 100_000
	}
	return &MemoryDeduper{set: make(map[string]struct{}, n), ring: make([]string, n)}
}

// Seen implements Deduper.
func (d *MemoryDeduper) Seen(_ context.Context, key string) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.set[key]
	return ok, nil
}

// Mark implements Deduper.
func (d *MemoryDeduper) Mark(_ context.Context, key string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.set[key]; ok {
		return nil
	}
	if old := d.ring[d.next]; old != "" {
		delete(d.set, old)
	}
	d.ring[d.next] = key
	d.next = (d.next + 1) % len(d.ring)
	d.set[key] = struct{}{}
	return nil
}

// KVDeduper remembers keys in a JetStream key-value bucket, so that a
// restarted consumer does not handle an event twice.
type KVDeduper struct{ kv jetstream.KeyValue }

// NewKVDeduper creates or opens bucket; entries expire after ttl (0: never).
func NewKVDeduper(ctx context.Context, js jetstream.JetStream, bucket string, ttl time.Duration) (*KVDeduper, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket, TTL: ttl, Storage: jetstream.FileStorage})
	if err != nil {
		return nil, fmt.Errorf("dedupe bucket %s: %w", bucket, err)
	}
	return &KVDeduper{kv: kv}, nil
}

// Seen implements Deduper.
func (d *KVDeduper) Seen(ctx context.Context, key string) (bool, error) {
	_, err := d.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Mark implements Deduper.
func (d *KVDeduper) Mark(ctx context.Context, key string) error {
	_, err := d.kv.Put(ctx, key, nil)
	return err
}
