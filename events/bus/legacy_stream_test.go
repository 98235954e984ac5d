package bus_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/events/sign"
)

// testdata/legacy-stream holds the file store of a DPI stream written by
// commit c0ef66a, the last code that signed in the legacy format (see its
// README): one event of every kind and one with non-ASCII text, <>& and
// U+2028 in its data, their times with milliseconds. After the upgrade a
// consumer reads them all as verified, beside events in the published
// format, and dead-letters none.
func TestEventsInTheStreamOfThePreviousCodeStillVerifyAfterTheUpgrade(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("testdata/legacy-stream/store")); err != nil {
		t.Fatal(err)
	}
	tl, err := sign.LoadTrustList("testdata/legacy-stream/trust.json")
	if err != nil {
		t.Fatal(err)
	}
	s := bustest.Server(t, dir, bustest.WithoutAuth())
	_, js := bustest.Connect(t, s)
	b, err := bus.Open(context.Background(), js, bus.Config{MaxAge: -1})
	if err != nil {
		t.Fatal(err)
	}
	legacy := legacyMessages(t, js)
	if len(legacy) != len(events.Catalog())+1 {
		t.Fatalf("the stream holds %d legacy events, want %d", len(legacy), len(events.Catalog())+1)
	}

	cs, now := bustest.Countries(t, "ma")
	tl.Add(now.Keys[0])
	e := newEvent(t, "ma", events.TypeFixPublished)
	if _, err := b.Publisher(cs["ma"].Signer).Publish(context.Background(), e); err != nil {
		t.Fatal(err)
	}

	rec := &recorder{}
	consume(t, b, bus.ConsumerConfig{Name: "after-upgrade", Verifier: verifier(t, tl)}, rec.handle)
	bustest.Eventually(t, 10*time.Second, "every event consumed or dead-lettered", func() bool {
		return rec.len()+len(bustest.DeadLetters(t, js)) >= len(legacy)+1
	})
	if dls := bustest.DeadLetters(t, js); len(dls) != 0 {
		for _, dl := range dls {
			t.Errorf("dead letter after the upgrade: %s: %s", dl.Reason, dl.Detail)
		}
	}
	for _, got := range rec.seen {
		if _, err := events.Decode(got); err != nil {
			t.Errorf("%s %s: %v", got.Type(), got.ID(), err)
		}
	}
}

// legacyMessages returns the messages of the stream in the legacy format
// (an event attribute signedextattrs), checking that they are.
func legacyMessages(t *testing.T, js jetstream.JetStream) []string {
	t.Helper()
	ctx := context.Background()
	st, err := js.Stream(ctx, bus.Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(m.Data), `"signedextattrs":"country"`) {
			t.Fatalf("message %d is not in the legacy format: %s", seq, m.Data)
		}
		out = append(out, string(m.Data))
	}
	return out
}
