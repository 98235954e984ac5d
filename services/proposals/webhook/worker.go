package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// A worker delivers the events of one subscription, one at a time, in
// stream order: its consumer lets the server hand it a single
// unacknowledged message (MaxAckPending 1), and it settles each one,
// delivered, skipped or dead-lettered, before it takes the next. It
// shares nothing with other workers but the HTTP client's connection
// pool, and holds no lock while it waits on a receiver.

// outcome is what became of one message.
type outcome int

const (
	settled     outcome = iota // acknowledged: delivered, skipped or dead-lettered
	interrupted                // the worker is stopping: the message goes back to the server
	unsubscribe                // the receiver answered 410 Gone
)

type worker struct {
	d     *Dispatcher
	store *store
	rec   record
	key   []byte // HMAC key, from rec.Secret
	name  string // the consumer's name
	cons  jetstream.Consumer
	iter  jetstream.MessagesContext
	log   *zap.Logger

	ctx    context.Context // cancelled to stop the worker, in-flight requests included
	cancel context.CancelFunc
	done   chan struct{} // closed when run has returned

	// lastAcked is the stream sequence of the last message settled. The
	// consumer delivers in order, so a message at or below it is a
	// redelivery of one whose ack was lost: acked again, not sent again.
	// Only run uses it.
	lastAcked uint64

	ok, retry, dead, skipped prometheus.Counter

	// gone says the receiver answered 410 and the worker unsubscribed
	// itself; guarded by d.mu.
	gone bool

	mu     sync.Mutex
	counts Status // the counters; Subscription and Pending are filled in by status
}

func newWorker(d *Dispatcher, st *store, r record, cons jetstream.Consumer) (*worker, error) {
	key, err := secretKey(r.Secret)
	if err != nil {
		return nil, fmt.Errorf("webhook %s: %w", r.ID, err)
	}
	// The server sends one message at a time (MaxAckPending 1) whatever
	// a pull asks for; asking for many at once leaves a pull waiting when
	// the worker acks, and spares a pull request per message.
	iter, err := cons.Messages(jetstream.PullMaxMessages(64))
	if err != nil {
		return nil, fmt.Errorf("webhook %s: consume: %w", r.ID, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &worker{
		d:      d,
		store:  st,
		rec:    r,
		key:    key,
		name:   consumerName(r.ID),
		cons:   cons,
		iter:   iter,
		log:    d.log.With(zap.String("subscription", r.ID), zap.String("project", r.Project), zap.String("url", redact(r.URL))),
		ctx:    ctx,
		cancel: cancel,
		done:   make(chan struct{}),

		ok:      d.m.deliveries.WithLabelValues(r.ID, resultOK),
		retry:   d.m.deliveries.WithLabelValues(r.ID, resultRetry),
		dead:    d.m.deliveries.WithLabelValues(r.ID, resultDead),
		skipped: d.m.deliveries.WithLabelValues(r.ID, resultSkipped),
	}, nil
}

// stop stops the worker and waits for it.
func (w *worker) stop() {
	w.cancel()
	<-w.done
}

// run takes messages until the worker is stopped or unsubscribed.
func (w *worker) run() {
	defer close(w.done)
	var held jetstream.Msg // the message a stop interrupted
	for held == nil {
		m, err := w.iter.Next(jetstream.NextContext(w.ctx))
		if err != nil {
			if w.ctx.Err() != nil {
				break
			}
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) || errors.Is(err, jetstream.ErrConsumerDeleted) {
				// The connection closed, or someone deleted the consumer.
				w.log.Error("webhook deliveries stopped until the dispatcher restarts", zap.Error(err))
				break
			}
			w.log.Warn("webhook fetch failed", zap.Error(err))
			if !w.sleep(nil, time.Second) {
				break
			}
			continue
		}
		switch w.handle(m) {
		case interrupted:
			held = m
		case unsubscribe:
			w.iter.Stop()
			w.d.gone(w)
			return
		}
	}
	w.release(held)
}

// release ends the consumption and hands back to the server, for prompt
// redelivery after a restart, the message in hand and any the iterator
// still buffers. The pull is drained first, so that the server does not
// send the handed-back message straight back to this worker.
func (w *worker) release(held jetstream.Msg) {
	w.iter.Drain()
	for {
		m, err := w.iter.Next(jetstream.NextMaxWait(5 * time.Second))
		if err != nil {
			break
		}
		_ = m.Nak()
	}
	w.iter.Stop()
	if held != nil {
		_ = held.Nak()
	}
}

// handle admits one message and delivers it.
func (w *worker) handle(m jetstream.Msg) outcome {
	md, err := m.Metadata()
	if err != nil { // not from a JetStream consumer: cannot happen
		w.log.Error("webhook message without metadata", zap.Error(err))
		_ = m.Term()
		return settled
	}
	seq := md.Sequence.Stream
	if seq <= w.lastAcked {
		w.ack(m, seq)
		return settled
	}
	ad := w.d.admissions.of(m, w.name, seq, md.NumDelivered, md.Timestamp)
	if ad.err != nil {
		w.skip(m, seq, ad.err)
		return settled
	}
	body, err := ad.body(m)
	if err != nil { // admitted, so decodable: cannot happen
		w.skip(m, seq, err)
		return settled
	}
	return w.deliver(m, seq, messageID(w.rec.ID, ad.ref), body)
}

// skip settles a message that is not delivered because it was not
// admitted. The hub's other consumers dead-letter such a message already;
// a subscription only counts it.
func (w *worker) skip(m jetstream.Msg, seq uint64, err error) {
	w.log.Debug("webhook skips an event that was not admitted", zap.Uint64("stream_seq", seq), zap.String("reason", reason(err)))
	w.ack(m, seq)
	w.skipped.Inc()
	w.mu.Lock()
	w.counts.Skipped++
	w.mu.Unlock()
}

// deliver posts body until the receiver accepts it, the worker stops, or
// the retries run out (then it is dead-lettered).
func (w *worker) deliver(m jetstream.Msg, seq uint64, id string, body []byte) outcome {
	var first time.Time // of the first failure
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			_ = m.InProgress() // the first attempt ends well within AckWait
		}
		code, err := w.post(id, body)
		switch {
		case w.ctx.Err() != nil:
			return interrupted
		case err == nil:
			w.ack(m, seq)
			w.delivered()
			return settled
		case code == http.StatusGone:
			return unsubscribe
		}
		now := w.d.cfg.Now()
		if first.IsZero() {
			first = now
		}
		w.failed(err, now)
		if w.d.cfg.MaxAttempts > 0 && attempt >= w.d.cfg.MaxAttempts || now.Sub(first) >= w.d.cfg.GiveUpAfter {
			detail := fmt.Sprintf("webhook %s to %s: %d attempts over %v failed; the last: %v",
				w.rec.ID, redact(w.rec.URL), attempt, now.Sub(first).Round(time.Millisecond), err)
			return w.giveUp(m, seq, attempt, detail)
		}
		w.retry.Inc()
		wait := min(w.d.backoff(attempt), first.Add(w.d.cfg.GiveUpAfter).Sub(now))
		w.log.Debug("webhook attempt failed, will retry", zap.Uint64("stream_seq", seq), zap.Int("attempt", attempt),
			zap.Duration("wait", wait), zap.Error(err))
		if !w.sleep(m, wait) {
			return interrupted
		}
	}
}

// post makes one attempt and returns the status code (0 when there was no
// answer) and, unless it was 2xx, why the attempt failed.
func (w *worker) post(id string, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(w.ctx, w.d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.rec.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	ts := strconv.FormatInt(w.d.cfg.Now().Unix(), 10)
	req.Header.Set("Content-Type", ContentType)
	req.Header.Set("Origin", w.d.cfg.Origin) // the CloudEvents webhook spec asks for it once the handshake is done
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set(HeaderID, id)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, signature(w.key, id, ts, body))
	start := time.Now()
	resp, err := w.d.client.Do(req)
	w.d.m.seconds.Observe(time.Since(start).Seconds())
	if err != nil {
		return 0, attemptError(err, w.d.cfg.Timeout)
	}
	discard(resp)
	if resp.StatusCode/100 == 2 {
		return resp.StatusCode, nil
	}
	if resp.StatusCode/100 == 3 {
		return resp.StatusCode, fmt.Errorf("the receiver answered %s (redirects are not followed)", resp.Status)
	}
	return resp.StatusCode, fmt.Errorf("the receiver answered %s", resp.Status)
}

// attemptError says why a request got no answer, without the method and
// URL that the client's errors start with.
func attemptError(err error, timeout time.Duration) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no answer within %v", timeout)
	}
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}

// discard reads what is left of a response's body, up to 64 KiB, so that
// its connection can carry the next request, and closes it.
func discard(resp *http.Response) {
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	resp.Body.Close()
}

// giveUp dead-letters the message and acks it. If the dead-letter stream
// cannot take it, the message is kept and the dead letter tried again: an
// event is never dropped without a record.
func (w *worker) giveUp(m jetstream.Msg, seq uint64, attempts int, detail string) outcome {
	orig := &nats.Msg{Subject: m.Subject(), Header: m.Headers(), Data: m.Data()}
	for try := 1; ; try++ {
		err := w.d.b.DeadLetter(w.ctx, w.name, orig, seq, uint64(attempts), ReasonUndeliverable, detail)
		if err == nil {
			break
		}
		if w.ctx.Err() != nil {
			return interrupted
		}
		w.log.Error("webhook dead-letter failed; keeping the event", zap.Uint64("stream_seq", seq), zap.Error(err))
		_ = m.InProgress()
		if !w.sleep(m, w.d.backoff(try)) {
			return interrupted
		}
	}
	w.ack(m, seq)
	w.dead.Inc()
	w.mu.Lock()
	w.counts.DeadLettered++
	w.mu.Unlock()
	w.log.Warn("webhook gave up on an event", zap.Uint64("stream_seq", seq), zap.String("detail", detail))
	return settled
}

// ack acknowledges a settled message. It need not wait for the server's
// confirmation: with one message in hand at most, the server sends the
// next only once it has the ack, and a stopping worker drains its
// subscription, which flushes the connection, before it lets go.
func (w *worker) ack(m jetstream.Msg, seq uint64) {
	if err := m.Ack(); err != nil {
		w.log.Warn("webhook ack failed", zap.Uint64("stream_seq", seq), zap.Error(err))
	}
	w.lastAcked = seq
}

// sleep waits for d, telling the server every third of AckWait that m
// (if any) is still in hand. It returns false if the worker was stopped.
func (w *worker) sleep(m jetstream.Msg, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	tick := time.NewTicker(w.d.ackWait / 3)
	defer tick.Stop()
	for {
		select {
		case <-w.ctx.Done():
			return false
		case <-t.C:
			return true
		case <-tick.C:
			if m != nil {
				_ = m.InProgress()
			}
		}
	}
}

// backoff is the wait after the attempt-th failure: InitialBackoff doubled
// attempt-1 times, at most MaxBackoff, of which the second half is random
// so that receivers that failed together are not retried together.
func (d *Dispatcher) backoff(attempt int) time.Duration {
	b := d.cfg.InitialBackoff
	for i := 1; i < attempt && b < d.cfg.MaxBackoff; i++ {
		b *= 2
	}
	b = min(b, d.cfg.MaxBackoff)
	half := b / 2
	return half + rand.N(b-half+1)
}

func (w *worker) delivered() {
	w.ok.Inc()
	now := w.d.cfg.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.counts.Delivered++
	w.counts.ConsecutiveFailures = 0
	w.counts.LastDeliveredAt = now
}

func (w *worker) failed(err error, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.counts.FailedAttempts++
	w.counts.ConsecutiveFailures++
	w.counts.LastError = err.Error()
	w.counts.LastErrorAt = at
}

// status returns the subscription with its counters and the consumer's
// pending count.
func (w *worker) status(ctx context.Context) (Status, error) {
	var pending uint64
	info, err := w.cons.Info(ctx)
	switch {
	case err == nil:
		pending = info.NumPending + uint64(info.NumAckPending)
	case !errors.Is(err, jetstream.ErrConsumerNotFound): // not found: removed meanwhile
		return Status{}, fmt.Errorf("webhook %s: consumer info: %w", w.rec.ID, err)
	}
	w.mu.Lock()
	s := w.counts
	w.mu.Unlock()
	s.Subscription = w.rec.Subscription
	s.Pending = pending
	return s, nil
}
