package feedbus

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/events/subject"
	"github.com/dpihub/dpihub/services/feed"
)

// RebuildBatch is how many events Rebuild applies in one transaction when
// the store can (see batcher).
const RebuildBatch = 1000

// RebuildOption changes what Rebuild does.
type RebuildOption func(*rebuildOptions)

type rebuildOptions struct {
	refused func(seq uint64, err error)
}

// OnRefused has fn called for each message Rebuild skips because it is
// not a CloudEvent or bus.Admit refuses it (the live consumer
// dead-lettered it).
func OnRefused(fn func(seq uint64, err error)) RebuildOption {
	return func(o *rebuildOptions) { o.refused = fn }
}

type rebuildJob struct {
	msg   jetstream.Msg
	rec   feed.Record
	err   error // why the message was refused
	ready chan struct{}
}

// Rebuild replays stream DPI from its first message to the last one it
// holds when Rebuild starts, into st: with an ordered consumer, decoding,
// verifying against v, validating and authorizing each message as the
// live consumer does (bus.Decode, then bus.Admit with the message, and so
// its stored time, in the context), skipping refused messages and applying the others in
// stream order with their sequence and stored time. Into a fresh store it
// builds the same state as the live projection; into a used one it adds
// what is missing. progress (may be nil) is called now and then with the
// messages handled and the total.
func Rebuild(ctx context.Context, js jetstream.JetStream, st feed.Store, v *sign.Verifier, progress func(done, total uint64), opts ...RebuildOption) error {
	if v == nil {
		return errors.New("rebuild: a Verifier is required")
	}
	var o rebuildOptions
	for _, opt := range opts {
		opt(&o)
	}
	if progress == nil {
		progress = func(uint64, uint64) {}
	}
	s, err := js.Stream(ctx, bus.Stream)
	if err != nil {
		return fmt.Errorf("rebuild: stream %s: %w", bus.Stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return fmt.Errorf("rebuild: stream %s: %w", bus.Stream, err)
	}
	total, last := info.State.Msgs, info.State.LastSeq
	progress(0, total)
	if total == 0 {
		return nil
	}
	cons, err := js.OrderedConsumer(ctx, bus.Stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subject.All},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	iter, err := cons.Messages(jetstream.PullMaxMessages(2 * RebuildBatch))
	if err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Next does not watch ctx: stopping the iterator ends a fetch that
	// waits, whether the caller cancelled or Rebuild returns early.
	go func() {
		<-ctx.Done()
		iter.Stop()
	}()

	// fetch -> workers (decode, verify, validate) -> apply in order.
	work := make(chan *rebuildJob, 4*RebuildBatch)
	order := make(chan *rebuildJob, 4*RebuildBatch)
	var fetchErr error
	go func() {
		defer close(work)
		defer close(order)
		defer iter.Stop()
		for {
			m, err := iter.Next()
			if err != nil {
				fetchErr = err
				return
			}
			md, err := m.Metadata()
			if err != nil {
				fetchErr = fmt.Errorf("metadata: %w", err)
				return
			}
			j := &rebuildJob{msg: m, ready: make(chan struct{})}
			j.rec.Seq, j.rec.Received = md.Sequence.Stream, md.Timestamp
			select {
			case work <- j:
			case <-ctx.Done():
				return
			}
			select {
			case order <- j:
			case <-ctx.Done():
				return
			}
			// Stop at the last message of the snapshot, or earlier if
			// its tail was removed meanwhile.
			if md.Sequence.Stream >= last || md.NumPending == 0 {
				return
			}
		}
	}()
	check := bus.Admit(v)
	var wg sync.WaitGroup
	// As many workers as cores: decoding and verifying is the work.
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for j := range work {
				prepare(ctx, check, j)
				close(j.ready)
			}
		})
	}
	defer wg.Wait()
	defer cancel() // before wg.Wait: it stops the fetch, which ends the workers

	apply := func(rs []feed.Record) error {
		if b, ok := st.(batcher); ok {
			return b.ApplyBatch(ctx, rs)
		}
		for _, r := range rs {
			if err := st.Apply(ctx, r.Event, r.Seq, r.Received); err != nil {
				return err
			}
		}
		return nil
	}
	var (
		batch = make([]feed.Record, 0, RebuildBatch)
		done  uint64
	)
	flush := func() error {
		if len(batch) > 0 {
			if err := apply(batch); err != nil {
				return fmt.Errorf("rebuild: %w", err)
			}
			batch = batch[:0]
		}
		progress(done, total)
		return nil
	}
	for j := range order {
		<-j.ready
		done++
		if j.err != nil {
			if o.refused != nil {
				o.refused(j.rec.Seq, j.err)
			}
		} else {
			batch = append(batch, j.rec)
		}
		if len(batch) == RebuildBatch {
			if err := flush(); err != nil {
				cancel()
				return err
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	if fetchErr != nil {
		return fmt.Errorf("rebuild: after %d of %d messages: %w", done, total, fetchErr)
	}
	return flush()
}

// prepare decodes and admits j's message like the live consumer, keeping
// the verified event.
func prepare(ctx context.Context, check func(bus.Handler) bus.Handler, j *rebuildJob) {
	e, err := bus.Decode(j.msg.Headers(), j.msg.Data())
	if err != nil {
		j.err = &bus.RejectError{Reason: bus.ReasonNotCloudEvent, Err: err}
		return
	}
	mctx := bus.WithMessage(ctx, bus.Message{
		Subject:   j.msg.Subject(),
		Stream:    bus.Stream,
		StreamSeq: j.rec.Seq,
		Time:      j.rec.Received,
	})
	capture := func(_ context.Context, ve event.Event) error {
		j.rec.Event = ve
		j.rec = j.rec.Admit()
		return nil
	}
	j.err = check(capture)(mctx, e)
	j.msg = nil
}
