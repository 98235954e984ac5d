package feedbus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/services/feed"
)

// RefusalPoll is how often FollowRefusals looks for a dead letter that
// is not there yet.
const RefusalPoll = 500 * time.Millisecond

// FollowRefusals adds every entry of the dead-letter stream (DPI_DLQ) to
// log, from the first on, and then each new one as it comes, until ctx
// ends. It reads them by sequence, as an observer does (bus.DeadLetterOf):
// it makes no consumer, so a feed needs only the right to read the
// stream's messages. It returns ctx's end, or the error that stopped it
// (no such stream, no permission).
func FollowRefusals(ctx context.Context, js jetstream.JetStream, log *feed.RefusalLog) error {
	s, err := js.Stream(ctx, bus.DLQStream)
	if err != nil {
		return fmt.Errorf("follow refusals: %w", err)
	}
	for seq := uint64(1); ; {
		m, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(bus.DLQSubjects))
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, jetstream.ErrMsgNotFound):
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(RefusalPoll):
			}
			continue
		case err != nil:
			return fmt.Errorf("follow refusals at %d: %w", seq, err)
		}
		log.Add(RefusalOf(bus.DeadLetterOf(m)))
		seq = m.Sequence + 1
	}
}

// RefusalOf is a dead letter as the feed shows it: the country is the
// one of the subject it was published on (dpi.<cc>.…), which the
// transport confines each country to; the type and source are read from
// the event when it is one.
func RefusalOf(dl bus.DeadLetter) feed.Refusal {
	r := feed.Refusal{Seq: dl.Seq, Reason: dl.Reason, Detail: dl.Detail, Subject: dl.Subject,
		Consumer: dl.Consumer, StreamSeq: dl.StreamSeq}
	if t, err := time.Parse(time.RFC3339Nano, dl.Header.Get(bus.HeaderTime)); err == nil {
		r.Time = t
	}
	if tok := strings.Split(dl.Subject, "."); len(tok) > 1 && events.ValidCountry(tok[1]) {
		r.Country = tok[1]
	}
	if !dl.Cut {
		if e, err := bus.Decode(dl.Header, dl.Data); err == nil {
			r.Type, r.Source = e.Type(), e.Source()
		}
	}
	return r
}
