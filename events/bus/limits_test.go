package bus_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/events/subject"
)

// The limits on the streams, and what happens to a message that breaks
// them: an oversized one is refused at publish, junk under the limit is
// kept once in DPI and dead-lettered as a bounded record.

// payloadServer is an embedded nats-server with JetStream that takes
// messages of up to payload bytes (nats-server's default is 1 MiB; the
// hub's embedded server takes more).
func payloadServer(t testing.TB, payload int32) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		ServerName: "dpihub-limits", Host: "127.0.0.1", Port: server.RANDOM_PORT,
		JetStream: true, StoreDir: t.TempDir(), MaxPayload: payload, NoSigs: true, NoLog: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready in 10s")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return bustest.Connect(t, s)
}

func openBus(t testing.TB, js jetstream.JetStream, cfg bus.Config) *bus.Bus {
	t.Helper()
	b, err := bus.Open(context.Background(), js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func streamInfo(t testing.TB, js jetstream.JetStream, name string) *jetstream.StreamInfo {
	t.Helper()
	s, err := js.Stream(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func TestOpenLimitsBothStreams(t *testing.T) {
	tests := []struct {
		name                      string
		cfg                       bus.Config
		maxBytes                  int64
		maxMsgSize, dlqMaxMsgSize int32
	}{
		{"the zero config takes the documented defaults", bus.Config{},
			10 << 30, 4 << 20, 4<<20 + bus.DLQHeaderRoom},
		{"the config's limits are set, the dead letters' follow", bus.Config{MaxBytes: 1 << 30, MaxMsgSize: 1 << 20},
			1 << 30, 1 << 20, 1<<20 + bus.DLQHeaderRoom},
		{"negative limits are none", bus.Config{MaxBytes: -5, MaxMsgSize: -5}, -1, -1, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, js := bustest.Connect(t, bustest.Server(t, ""))
			openBus(t, js, tt.cfg)
			dpi, dlq := streamInfo(t, js, bus.Stream).Config, streamInfo(t, js, bus.DLQStream).Config
			if dpi.MaxBytes != tt.maxBytes || dpi.MaxMsgSize != tt.maxMsgSize || dpi.Discard != jetstream.DiscardNew {
				t.Errorf("%s: max bytes %d, max msg size %d, discard %v; want %d, %d, new",
					bus.Stream, dpi.MaxBytes, dpi.MaxMsgSize, dpi.Discard, tt.maxBytes, tt.maxMsgSize)
			}
			if dlq.MaxBytes != bus.DLQMaxBytes || dlq.MaxMsgSize != tt.dlqMaxMsgSize || dlq.Discard != jetstream.DiscardOld {
				t.Errorf("%s: max bytes %d, max msg size %d, discard %v; want %d, %d, old",
					bus.DLQStream, dlq.MaxBytes, dlq.MaxMsgSize, dlq.Discard, bus.DLQMaxBytes, tt.dlqMaxMsgSize)
			}
		})
	}
}

// largestFix is the largest fix.published a node sends: an inline diff of
// events.MaxInlineDiff bytes and a commit message at the schema's limit,
// title, author and references too, all made of characters that JSON
// writes as six bytes each (control characters, <, >, &).
func largestFix() events.FixPublished {
	escaped := func(n int) string { return strings.Repeat("<>&\x01", n/4+1)[:n] }
	refs := make([]string, 100)
	for i := range refs {
		refs[i] = fmt.Sprintf("%03d", i) + strings.Repeat("<", 509)
	}
	files := make([]string, 1000)
	for i := range files {
		files[i] = fmt.Sprintf("src/%04d/", i) + strings.Repeat("&", 50)
	}
	return events.FixPublished{
		FixID: "ma-0123456789ab", Title: "x" + strings.Repeat("<", 255), Message: "x" + escaped(65535),
		Author: events.Person{Name: "x" + strings.Repeat(">", 255)},
		Commit: strings.Repeat("a", 40), UpstreamBase: strings.Repeat("b", 40), PatchID: strings.Repeat("c", 40),
		Files: files, Diff: "x" + escaped(events.MaxInlineDiff-1),
		References: &events.References{Fixes: refs},
	}
}

func TestTheLargestLegitimateEventFitsTheStream(t *testing.T) {
	// The server takes what the dead-letter stream may need, as the hub's
	// embedded server does.
	_, js := payloadServer(t, bus.DLQMaxMsgSize(bus.DefaultMaxMsgSize))
	b := openBus(t, js, bus.Config{})
	cs, _ := bustest.Countries(t, "ma")
	fp := largestFix()
	if len(fp.Diff) != events.MaxInlineDiff {
		t.Fatalf("diff of %d bytes", len(fp.Diff))
	}
	e, err := events.New(events.Source{Country: "ma", Service: "node"}, project, fp)
	if err != nil {
		t.Fatal(err)
	}
	m := signedMsg(t, cs["ma"].Signer, e, nil)
	size := m.Size() - len(m.Subject)
	t.Logf("the largest fix.published takes %d bytes (%.2f MiB) with its headers; the limit is %d", size, float64(size)/(1<<20), bus.DefaultMaxMsgSize)
	if size < 6*events.MaxInlineDiff {
		t.Fatalf("the event takes %d bytes: its diff was not escaped, the case is not the worst", size)
	}
	// Room for what the publisher adds (message id, expected stream).
	if size > bus.DefaultMaxMsgSize-1024 {
		t.Fatalf("the largest legitimate event takes %d bytes, the stream takes %d", size, bus.DefaultMaxMsgSize)
	}
	if _, err := b.Publisher(cs["ma"].Signer).Publish(context.Background(), e); err != nil {
		t.Fatalf("the largest legitimate event was refused: %v", err)
	}
	if n := streamInfo(t, js, bus.Stream).State.Msgs; n != 1 {
		t.Fatalf("%s holds %d messages", bus.Stream, n)
	}
}

func TestAnOversizedMessageIsRefusedAtPublishAndStoredNowhere(t *testing.T) {
	cs, _ := bustest.Countries(t, "ma")
	bigFix := func(diff int) event.Event {
		fp := largestFix()
		fp.Message, fp.References, fp.Files = "", nil, []string{"src/app.go"}
		fp.Diff = "x" + strings.Repeat("a", diff-1) // within the schema's 1 MiB
		e, err := events.New(events.Source{Country: "ma", Service: "node"}, project, fp)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	t.Run("7 MiB of junk on a server that takes it: the stream refuses it", func(t *testing.T) {
		_, js := payloadServer(t, 8<<20)
		openBus(t, js, bus.Config{})
		m := nats.NewMsg("dpi.ma.fix.published." + project)
		m.Data = bytes.Repeat([]byte{0xff}, 7<<20)
		_, err := js.PublishMsg(context.Background(), m)
		if !errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum) {
			t.Fatalf("publish of 7 MiB: %v, want the stream's refusal", err)
		}
		for _, name := range []string{bus.Stream, bus.DLQStream} {
			if st := streamInfo(t, js, name).State; st.Msgs != 0 || st.Bytes != 0 {
				t.Errorf("%s holds %d messages, %d bytes", name, st.Msgs, st.Bytes)
			}
		}
	})
	t.Run("the publisher names the size and the stream's limit", func(t *testing.T) {
		_, js := payloadServer(t, 8<<20)
		b := openBus(t, js, bus.Config{MaxMsgSize: 64 << 10})
		_, err := b.Publisher(cs["ma"].Signer).Publish(context.Background(), bigFix(100<<10))
		if !errors.Is(err, bus.ErrMsgTooLarge) || !errors.Is(err, events.ErrBadInput) ||
			!strings.Contains(err.Error(), "stream DPI takes at most 65536") {
			t.Fatalf("err = %v, want ErrMsgTooLarge naming the limit", err)
		}
		err = b.Publisher(cs["ma"].Signer).PublishBatch(context.Background(), []event.Event{bigFix(100 << 10)})
		var pe *bus.PublishError
		if !errors.As(err, &pe) || len(pe.Failed) != 1 {
			t.Fatalf("batch: %v", err)
		}
		for _, ferr := range pe.Failed {
			if !errors.Is(ferr, bus.ErrMsgTooLarge) {
				t.Fatalf("batch: %v, want ErrMsgTooLarge", ferr)
			}
		}
		if n := streamInfo(t, js, bus.Stream).State.Msgs; n != 0 {
			t.Errorf("%s holds %d messages", bus.Stream, n)
		}
	})
	t.Run("a publisher attached to the hub's streams names their limit", func(t *testing.T) {
		_, js := payloadServer(t, 8<<20)
		openBus(t, js, bus.Config{MaxMsgSize: 64 << 10})
		b := openBus(t, js, bus.Config{Attach: true})
		_, err := b.Publisher(cs["ma"].Signer).Publish(context.Background(), bigFix(100<<10))
		if !errors.Is(err, bus.ErrMsgTooLarge) || !strings.Contains(err.Error(), "takes at most 65536") {
			t.Fatalf("err = %v, want ErrMsgTooLarge naming the limit", err)
		}
	})
	t.Run("a message above the server's payload is refused by the client, named too", func(t *testing.T) {
		_, js := payloadServer(t, 1<<20)
		b := openBus(t, js, bus.Config{MaxMsgSize: -1})
		_, err := b.Publisher(cs["ma"].Signer).Publish(context.Background(), bigFix(1<<20))
		if !errors.Is(err, bus.ErrMsgTooLarge) || !strings.Contains(err.Error(), "the NATS server takes at most 1048576") {
			t.Fatalf("err = %v, want ErrMsgTooLarge naming the server's limit", err)
		}
	})
}

func TestJunkIsStoredOnceAndDeadLetteredAsABoundedRecord(t *testing.T) {
	tests := []struct {
		name    string
		cfg     bus.Config
		payload int32
		size    int
	}{
		{"the largest junk the default stream takes", bus.Config{}, bus.DLQMaxMsgSize(0), bus.DefaultMaxMsgSize},
		{"7 MiB of junk on a stream raised to take it", bus.Config{MaxMsgSize: 8 << 20}, bus.DLQMaxMsgSize(8 << 20), 7 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, js := payloadServer(t, tt.payload)
			b := openBus(t, js, tt.cfg)
			_, tl := bustest.Countries(t, "ma")
			junk := bytes.Repeat([]byte("junk"), tt.size/4)
			m := nats.NewMsg("dpi.ma.fix.published." + project)
			m.Data = junk
			bustest.PublishRaw(t, js, m)
			consume(t, b, bus.ConsumerConfig{Name: "strict", Verifier: verifier(t, tl)}, (&recorder{}).handle)
			bustest.Eventually(t, 20*time.Second, "the junk is dead-lettered", func() bool {
				return streamInfo(t, js, bus.DLQStream).State.Msgs == 1
			})
			dl := bustest.DeadLetters(t, js)[0]
			if dl.Reason != bus.ReasonNotCloudEvent || dl.Subject != m.Subject || dl.StreamSeq != 1 || !dl.Cut ||
				dl.Size != len(junk) || !bytes.Equal(dl.Data, junk[:bus.DeadLetterKeep]) {
				t.Errorf("dead letter: reason %q subject %q seq %d cut %v size %d, %d bytes kept",
					dl.Reason, dl.Subject, dl.StreamSeq, dl.Cut, dl.Size, len(dl.Data))
			}
			dpi, dlq := streamInfo(t, js, bus.Stream).State.Bytes, streamInfo(t, js, bus.DLQStream).State.Bytes
			t.Logf("%d bytes of junk: %s holds %d bytes, %s %d", len(junk), bus.Stream, dpi, bus.DLQStream, dlq)
			if dlq > 4<<10 || dpi+dlq > uint64(len(junk))+8<<10 {
				t.Fatalf("%d bytes of junk are stored as %d bytes in %s and %d in %s: more than one copy and a bounded record",
					len(junk), dpi, bus.Stream, dlq, bus.DLQStream)
			}
		})
	}
}

func TestAFloodOfJunkDoesNotStopTheConsumer(t *testing.T) {
	_, js := bustest.Connect(t, bustest.Server(t, ""))
	b := bustest.Open(t, js)
	cs, tl := bustest.Countries(t, "ma")
	rec := &recorder{}
	consume(t, b, bus.ConsumerConfig{Name: "strict", Verifier: verifier(t, tl)}, rec.handle)
	const floods = 80
	for i := range floods {
		m := nats.NewMsg(fmt.Sprintf("dpi.ma.fix.published.junk-%d", i))
		if i%2 == 1 { // structured mode in name only
			m.Header.Set("Content-Type", bus.ContentTypeStructured)
		}
		m.Data = bytes.Repeat([]byte{byte(i)}, 64<<10)
		bustest.PublishRaw(t, js, m)
	}
	good := newEvent(t, "ma", events.TypeFixAdopted)
	if _, err := b.Publisher(cs["ma"].Signer).Publish(context.Background(), good); err != nil {
		t.Fatal(err)
	}
	bustest.Eventually(t, 20*time.Second, "the good event after the junk is handled", func() bool { return rec.len() == 1 })
	if got := rec.ids(); got[0] != good.ID() {
		t.Fatalf("handled %v", got)
	}
	bustest.Eventually(t, 10*time.Second, "every junk message is dead-lettered", func() bool {
		return streamInfo(t, js, bus.DLQStream).State.Msgs == floods
	})
	for _, dl := range bustest.DeadLetters(t, js) {
		if !dl.Cut || len(dl.Data) != bus.DeadLetterKeep || dl.Size != 64<<10 || dl.Reason != bus.ReasonNotCloudEvent {
			t.Fatalf("dead letter %d: cut %v, %d of %d bytes, reason %s", dl.Seq, dl.Cut, len(dl.Data), dl.Size, dl.Reason)
		}
	}
	if dlq := streamInfo(t, js, bus.DLQStream).State.Bytes; dlq > floods*(bus.DeadLetterKeep+1024) {
		t.Fatalf("%s holds %d bytes for %d bounded records", bus.DLQStream, dlq, floods)
	}
}

// TestARefusedEventIsDeadLetteredWholeAndCanBeTakenAgain follows
// docs/operations.md: an event refused for a key missing from the trust
// list is kept whole; once the key is trusted, publishing the entry again
// on its original subject gets it handled.
func TestARefusedEventIsDeadLetteredWholeAndCanBeTakenAgain(t *testing.T) {
	_, js := bustest.Connect(t, bustest.Server(t, ""))
	b := bustest.Open(t, js)
	_, tl := bustest.Countries(t, "ma")
	stranger, strangerTL := bustest.Countries(t, "lk")
	v := verifier(t, tl)
	rec := &recorder{}
	consume(t, b, bus.ConsumerConfig{Name: "strict", Verifier: v}, rec.handle)
	e := newEvent(t, "lk", events.TypeFixAdopted)
	orig := signedMsg(t, stranger["lk"].Signer, e, nil)
	bustest.PublishRaw(t, js, orig)
	bustest.Eventually(t, 10*time.Second, "the event is dead-lettered", func() bool {
		return streamInfo(t, js, bus.DLQStream).State.Msgs == 1
	})
	dl := bustest.DeadLetters(t, js)[0]
	if dl.Reason != string(sign.ReasonUnknownKey) || dl.Cut || dl.Size != len(orig.Data) || !bytes.Equal(dl.Data, orig.Data) {
		t.Fatalf("dead letter: reason %s, cut %v, %d of %d bytes; want the whole event", dl.Reason, dl.Cut, len(dl.Data), dl.Size)
	}

	tl.Add(strangerTL.Keys[0])
	if err := v.SetTrustList(tl); err != nil {
		t.Fatal(err)
	}
	again := nats.NewMsg(dl.Subject)
	for k, vs := range dl.Header {
		if !strings.HasPrefix(k, "Nats-") { // the entry's own id and stream
			again.Header[k] = vs
		}
	}
	again.Data = dl.Data
	if s, err := subject.Of(e); err != nil || s.String() != dl.Subject {
		t.Fatalf("the entry's subject %q is not the event's (%v)", dl.Subject, err)
	}
	bustest.PublishRaw(t, js, again)
	bustest.Eventually(t, 10*time.Second, "the event taken again is handled", func() bool { return rec.len() == 1 })
	if got := rec.ids()[0]; got != e.ID() {
		t.Fatalf("handled %s, want %s", got, e.ID())
	}
}
