package access_test

// Each test runs a real nats-server that trusts an authority, as the hub
// does, and connects over TCP as one identity. A refused request is
// checked three ways: it fails, the server reports a permissions
// violation for its subject, and the admin sees that nothing changed.
// Take a permission away from the table and the test of what it protects
// fails on the last check.

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dpihub/dpihub/events/access"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/bus/bustest"
)

// refuseWait bounds a request the server is expected to drop: a refused
// request gets no reply, so it ends on this timeout. The violation and the
// admin's view then say whether it was refused or merely slow.
const refuseWait = 300 * time.Millisecond

// hubWithStreams is a server with DPI and DPI_DLQ made by the admin, and
// the admin's connection.
func hubWithStreams(t *testing.T) (*server.Server, *client) {
	t.Helper()
	srv := bustest.Server(t, "")
	admin := connectAs(t, srv, access.Admin)
	bustest.Open(t, admin.js)
	return srv, admin
}

// client is a connection as one identity that remembers the permission
// violations the server reported to it.
type client struct {
	t          *testing.T
	id         access.Identity
	nc         *nats.Conn
	js         jetstream.JetStream
	mu         sync.Mutex
	violations []string
}

func connectAs(t *testing.T, srv *server.Server, id access.Identity) *client {
	t.Helper()
	c := &client{t: t, id: id}
	c.nc, c.js = bustest.ConnectAs(t, srv, id, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		if errors.Is(err, nats.ErrPermissionViolation) {
			c.mu.Lock()
			c.violations = append(c.violations, err.Error())
			c.mu.Unlock()
		}
	}))
	return c
}

// refused checks that op fails and that the server reported a violation
// for subject.
func (c *client) refused(what, subject string, op func(ctx context.Context) error) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), refuseWait)
	defer cancel()
	if err := op(ctx); err == nil {
		c.t.Fatalf("%s could %s", c.id, what)
	}
	bustest.Eventually(c.t, 10*time.Second, c.id.String()+" told it may not publish on "+subject, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return slices.ContainsFunc(c.violations, func(v string) bool { return strings.Contains(v, `"`+subject+`"`) })
	})
}

// allowed checks that op succeeds.
func (c *client) allowed(what string, op func(ctx context.Context) error) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := op(ctx); err != nil {
		c.t.Fatalf("%s could not %s: %v", c.id, what, err)
	}
}

func (c *client) publish(subject string) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := c.js.Publish(ctx, subject, []byte("{}"))
		return err
	}
}

// lastSeq is the last sequence of stream as the admin sees it.
func (c *client) lastSeq(stream string) uint64 {
	c.t.Helper()
	return c.info(stream).State.LastSeq
}

func (c *client) info(stream string) *jetstream.StreamInfo {
	c.t.Helper()
	s, err := c.js.Stream(context.Background(), stream)
	if err != nil {
		c.t.Fatalf("stream %s: %v", stream, err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		c.t.Fatal(err)
	}
	return info
}

func TestAnAnonymousClientCannotConnect(t *testing.T) {
	srv := bustest.Server(t, "")
	nc, err := nats.Connect(srv.ClientURL(), nats.MaxReconnects(0))
	if err == nil {
		nc.Close()
		t.Fatal("a client without credentials connected")
	}
	if !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("anonymous connect: %v, want an authorization violation", err)
	}
}

func TestCredentialsOfAnotherAuthorityCannotConnect(t *testing.T) {
	srv := bustest.Server(t, "")
	other, err := access.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []access.Identity{access.Admin, access.Country("ma")} {
		path := filepath.Join(t.TempDir(), "other.creds")
		if err := other.WriteCreds(path, id); err != nil {
			t.Fatal(err)
		}
		_, opts, err := access.Client(path)
		if err != nil {
			t.Fatal(err)
		}
		nc, err := nats.Connect(srv.ClientURL(), append(opts, nats.MaxReconnects(0))...)
		if err == nil {
			nc.Close()
			t.Fatalf("%s of another authority connected", id)
		}
		if !errors.Is(err, nats.ErrAuthorization) {
			t.Fatalf("%s of another authority: %v, want an authorization violation", id, err)
		}
	}
}

func TestExpiredCredentialsCannotConnect(t *testing.T) {
	srv := bustest.Server(t, "")
	creds, err := bustest.Authority(t).Creds(access.Observer, access.Expires(time.Now().Add(-time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := access.Identify(creds); err == nil {
		t.Fatal("Identify accepted expired credentials")
	}
	path := filepath.Join(t.TempDir(), "expired.creds")
	if err := os.WriteFile(path, creds, 0o600); err != nil {
		t.Fatal(err)
	}
	// What the server says, not what Identify says, is what protects.
	nc, err := nats.Connect(srv.ClientURL(), nats.UserCredentials(path), nats.MaxReconnects(0))
	if err == nil {
		nc.Close()
		t.Fatal("expired credentials connected")
	}
}

func TestACountryPublishesOnlyOnItsOwnSubjects(t *testing.T) {
	srv, admin := hubWithStreams(t)
	ma := connectAs(t, srv, access.Country("ma"))
	before := admin.lastSeq(bus.Stream)
	ma.refused("publish on Philippine subjects", "dpi.ph.fix.published.x", ma.publish("dpi.ph.fix.published.x"))
	ma.refused("publish on hub subjects", "dpi.hub.fork.duplicate-detected.x", ma.publish("dpi.hub.fork.duplicate-detected.x"))
	var ack *jetstream.PubAck
	ma.allowed("publish on its own subjects", func(ctx context.Context) (err error) {
		ack, err = ma.js.Publish(ctx, "dpi.ma.fix.published.x", []byte("{}"))
		return err
	})
	// Stored once, right after what was there: the refused ones took no
	// sequence.
	if ack.Sequence != before+1 {
		t.Fatalf("own event stored as seq %d, want %d: something else was stored", ack.Sequence, before+1)
	}
}

func TestACountryCannotChangeOrEmptyTheStreams(t *testing.T) {
	srv, admin := hubWithStreams(t)
	ma := connectAs(t, srv, access.Country("ma"))
	admin.allowed("publish", admin.publish("dpi.ma.fix.published.x"))
	admin.allowed("publish", admin.publish("dlq.node-ph"))
	for _, name := range []string{bus.Stream, bus.DLQStream} {
		cfg := admin.info(name).Config
		msgs := admin.info(name).State.Msgs
		shrunk := cfg
		shrunk.MaxMsgs = 5
		ma.refused("shrink "+name, "$JS.API.STREAM.UPDATE."+name, func(ctx context.Context) error {
			_, err := ma.js.UpdateStream(ctx, shrunk)
			return err
		})
		ma.refused("purge "+name, "$JS.API.STREAM.PURGE."+name, func(ctx context.Context) error {
			s, err := ma.js.Stream(ctx, name) // stream info is allowed
			if err != nil {
				return err
			}
			return s.Purge(ctx)
		})
		ma.refused("delete a message of "+name, "$JS.API.STREAM.MSG.DELETE."+name, func(ctx context.Context) error {
			s, err := ma.js.Stream(ctx, name)
			if err != nil {
				return err
			}
			return s.DeleteMsg(ctx, 1)
		})
		ma.refused("delete "+name, "$JS.API.STREAM.DELETE."+name, func(ctx context.Context) error {
			return ma.js.DeleteStream(ctx, name)
		})
		after := admin.info(name)
		if after.Config.MaxMsgs != cfg.MaxMsgs || after.State.Msgs != msgs {
			t.Fatalf("%s after the country's attempts: max msgs %d, %d msgs; was %d, %d", name, after.Config.MaxMsgs, after.State.Msgs, cfg.MaxMsgs, msgs)
		}
	}
	ma.refused("make a stream", "$JS.API.STREAM.CREATE.EVIL", func(ctx context.Context) error {
		_, err := ma.js.CreateStream(ctx, jetstream.StreamConfig{Name: "EVIL", Subjects: []string{"evil.>"}})
		return err
	})
	if _, err := admin.js.Stream(context.Background(), "EVIL"); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("stream EVIL: %v, want not found", err)
	}
}

func TestACountryCannotTouchAnotherCountrysConsumerOrBuckets(t *testing.T) {
	srv, admin := hubWithStreams(t)
	ma, ph := connectAs(t, srv, access.Country("ma")), connectAs(t, srv, access.Country("ph"))
	ctx := context.Background()
	phConsumer := jetstream.ConsumerConfig{Durable: access.NodeConsumer("ph"), FilterSubject: "dpi.*.fix.published.*",
		AckPolicy: jetstream.AckExplicitPolicy, MaxDeliver: 5}
	ph.allowed("make its consumer", func(ctx context.Context) error {
		_, err := ph.js.CreateOrUpdateConsumer(ctx, bus.Stream, phConsumer)
		return err
	})
	var phKV jetstream.KeyValue
	admin.allowed("make ph's bucket", func(ctx context.Context) (err error) {
		_, err = admin.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: access.NodeBucket("ph"), History: 1})
		return err
	})
	ph.allowed("open its bucket", func(ctx context.Context) (err error) {
		phKV, err = ph.js.KeyValue(ctx, access.NodeBucket("ph"))
		return err
	})
	ph.allowed("write its bucket", func(ctx context.Context) error {
		_, err := phKV.Put(ctx, "fork.main", []byte("ph"))
		return err
	})

	ma.refused("delete ph's consumer", "$JS.API.CONSUMER.DELETE.DPI.node-ph", func(ctx context.Context) error {
		return ma.js.DeleteConsumer(ctx, bus.Stream, "node-ph")
	})
	ma.refused("rewrite ph's consumer", "$JS.API.CONSUMER.CREATE.DPI.node-ph.dpi.*.fix.published.*", func(ctx context.Context) error {
		c := phConsumer
		c.MaxDeliver = 1
		_, err := ma.js.CreateOrUpdateConsumer(ctx, bus.Stream, c)
		return err
	})
	ma.refused("fetch from ph's consumer", "$JS.API.CONSUMER.MSG.NEXT.DPI.node-ph", func(ctx context.Context) error {
		_, err := ma.nc.RequestWithContext(ctx, "$JS.API.CONSUMER.MSG.NEXT.DPI.node-ph", []byte(`{"batch":1}`))
		return err
	})
	ma.refused("make a consumer of any name", "$JS.API.CONSUMER.CREATE.DPI.spy", func(ctx context.Context) error {
		_, err := ma.js.CreateOrUpdateConsumer(ctx, bus.Stream, jetstream.ConsumerConfig{Name: "spy"})
		return err
	})
	c, err := admin.js.Consumer(ctx, bus.Stream, "node-ph")
	if err != nil || c.CachedInfo().Config.MaxDeliver != 5 {
		t.Fatalf("ph's consumer after ma's attempts: %v", err)
	}

	ma.refused("write ph's bucket", "$KV.NODE_PH.fork.main", ma.publish("$KV.NODE_PH.fork.main"))
	ma.refused("rewrite ph's bucket", "$JS.API.STREAM.UPDATE.KV_NODE_PH", func(ctx context.Context) error {
		_, err := ma.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: access.NodeBucket("ph"), History: 5})
		return err
	})
	ma.refused("make lk's bucket", "$JS.API.STREAM.CREATE.KV_NODE_LK", func(ctx context.Context) error {
		_, err := ma.js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: access.NodeBucket("lk")})
		return err
	})
	ma.refused("write ph's diffs", "$O.DPI_PATCHES_PH.C.x", ma.publish("$O.DPI_PATCHES_PH.C.x"))
	if e, err := phKV.Get(ctx, "fork.main"); err != nil || string(e.Value()) != "ph" || e.Revision() != 1 {
		t.Fatalf("ph's bucket after ma's attempts: %v", err)
	}
	if _, err := admin.js.KeyValue(ctx, access.NodeBucket("lk")); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Fatalf("bucket NODE_LK: %v, want not found", err)
	}
}

// A stream's configuration says what it captures and where it
// republishes, and the server checks neither against the permissions of
// whoever makes it: a country that could make its own bucket could have
// it republish onto another country's subjects. So it may make none.
func TestACountryCannotMakeAStreamNotEvenItsOwnBucket(t *testing.T) {
	srv, admin := hubWithStreams(t)
	ma := connectAs(t, srv, access.Country("ma"))
	for _, name := range []string{"KV_" + access.NodeBucket("ma"), "OBJ_" + access.PatchBucket("ma")} {
		ma.refused("make stream "+name, "$JS.API.STREAM.CREATE."+name, func(ctx context.Context) error {
			_, err := ma.js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{"$KV.NODE_MA.>"},
				RePublish: &jetstream.RePublish{Source: "$KV.NODE_MA.x", Destination: "dpi.ph.fix.published.x"}})
			return err
		})
		if _, err := admin.js.Stream(context.Background(), name); !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Fatalf("stream %s: %v, want not found", name, err)
		}
	}
	admin.allowed("make ma's bucket", func(ctx context.Context) error {
		_, err := admin.js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: access.NodeBucket("ma")})
		return err
	})
	ma.refused("change its bucket", "$JS.API.STREAM.UPDATE.KV_NODE_MA", func(ctx context.Context) error {
		_, err := ma.js.UpdateStream(ctx, jetstream.StreamConfig{Name: "KV_NODE_MA", Subjects: []string{"$KV.NODE_MA.>", "_INBOX_ph.>"}})
		return err
	})
	if subs := admin.info("KV_NODE_MA").Config.Subjects; len(subs) != 1 {
		t.Fatalf("ma's bucket captures %v", subs)
	}
}

func TestACountryDeadLettersOnlyForItsOwnConsumer(t *testing.T) {
	srv, admin := hubWithStreams(t)
	ma := connectAs(t, srv, access.Country("ma"))
	before := admin.lastSeq(bus.DLQStream)
	ma.refused("dead-letter for ph's node", "dlq.node-ph", ma.publish("dlq.node-ph"))
	ma.refused("dead-letter for the feed", "dlq.feed", ma.publish("dlq.feed"))
	var ack *jetstream.PubAck
	ma.allowed("dead-letter for its own node", func(ctx context.Context) (err error) {
		ack, err = ma.js.Publish(ctx, "dlq.node-ma", []byte("{}"))
		return err
	})
	if ack.Sequence != before+1 {
		t.Fatalf("own dead letter stored as seq %d, want %d", ack.Sequence, before+1)
	}
}

// What a country's node does, each step as its identity: its consumer,
// its state, its large diffs and another country's, its dead letters.
// services/node runs the real node the same way.
func TestACountryCanDoWhatItsNodeDoes(t *testing.T) {
	srv, admin := hubWithStreams(t)
	ma, ph := connectAs(t, srv, access.Country("ma")), connectAs(t, srv, access.Country("ph"))
	admin.allowed("publish a fix", admin.publish("dpi.ma.fix.published.x"))

	// The hub makes the buckets (access.ProvisionSubject); the node opens
	// them.
	admin.allowed("make the buckets", func(ctx context.Context) error {
		_, err := admin.js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: access.PatchBucket("ma")})
		if err == nil {
			_, err = admin.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: access.NodeBucket("ph"), History: 1})
		}
		return err
	})
	var maDiffs jetstream.ObjectStore
	diff := []byte(strings.Repeat("+ a line of a large diff\n", 20_000)) // 500 KB: four chunks
	ma.allowed("open its object store", func(ctx context.Context) (err error) {
		maDiffs, err = ma.js.ObjectStore(ctx, access.PatchBucket("ma"))
		return err
	})
	for range 2 { // the second put replaces the first, purging its chunks
		ma.allowed("store a diff", func(ctx context.Context) error { _, err := maDiffs.PutBytes(ctx, "d1", diff); return err })
	}
	ph.allowed("read ma's diff", func(ctx context.Context) error {
		obj, err := ph.js.ObjectStore(ctx, access.PatchBucket("ma"))
		if err != nil {
			return err
		}
		got, err := obj.GetBytes(ctx, "d1")
		if err == nil && string(got) != string(diff) {
			err = errors.New("not the diff ma stored")
		}
		return err
	})

	var kv jetstream.KeyValue
	ph.allowed("open its bucket", func(ctx context.Context) (err error) {
		kv, err = ph.js.KeyValue(ctx, access.NodeBucket("ph"))
		return err
	})
	ph.allowed("write, read and list its bucket", func(ctx context.Context) error {
		if _, err := kv.Put(ctx, "fork.a", []byte("1")); err != nil {
			return err
		}
		if _, err := kv.Get(ctx, "fork.a"); err != nil {
			return err
		}
		keys, err := kv.ListKeysFiltered(ctx, "fork.*")
		if err != nil {
			return err
		}
		for range keys.Keys() {
		}
		return nil
	})

	ph.allowed("run its consumer", func(ctx context.Context) error {
		c, err := ph.js.CreateOrUpdateConsumer(ctx, bus.Stream, jetstream.ConsumerConfig{Durable: "node-ph",
			FilterSubject: "dpi.*.fix.published.*", AckPolicy: jetstream.AckExplicitPolicy})
		if err != nil {
			return err
		}
		if _, err := ph.js.Consumer(ctx, bus.Stream, "node-ph"); err != nil {
			return err
		}
		b, err := c.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return err
		}
		for m := range b.Messages() {
			if err := m.DoubleAck(ctx); err != nil {
				return err
			}
		}
		if err := b.Error(); err != nil {
			return err
		}
		if _, err := ph.js.Publish(ctx, "dlq.node-ph", []byte("{}")); err != nil {
			return err
		}
		s, err := ph.js.Stream(ctx, bus.Stream)
		if err != nil {
			return err
		}
		if _, err := s.GetMsg(ctx, 1); err != nil { // what bus.Consume reads on a max-deliveries advisory
			return err
		}
		return ph.js.DeleteConsumer(ctx, bus.Stream, "node-ph")
	})
	sub, err := ph.nc.SubscribeSync("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.DPI.node-ph")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(ma.nc.Flush(), ph.nc.Flush()); err != nil {
		t.Fatal(err)
	}
	// The one thing refused on the way: ph cannot delete the consumer
	// nats.go made to read ma's diff; the server drops it once idle.
	for _, c := range []*client{ma, ph} {
		c.mu.Lock()
		for _, v := range c.violations {
			if !strings.Contains(v, "$JS.API.CONSUMER.DELETE.OBJ_DPI_PATCHES_MA.") {
				t.Errorf("%s: %s", c.id, v)
			}
		}
		c.mu.Unlock()
	}
}

func TestAServiceOwnsOnlyTheConsumerOfItsName(t *testing.T) {
	srv, admin := hubWithStreams(t)
	feed := connectAs(t, srv, access.Service("feed"))
	admin.allowed("publish", admin.publish("dpi.ma.fix.published.x"))
	feed.allowed("publish on hub subjects", feed.publish("dpi.hub.fork.duplicate-detected.x"))
	feed.refused("publish on a country's subjects", "dpi.ma.fix.published.y", feed.publish("dpi.ma.fix.published.y"))
	feed.allowed("run its consumer", func(ctx context.Context) error {
		c, err := feed.js.CreateOrUpdateConsumer(ctx, bus.Stream, jetstream.ConsumerConfig{Durable: "feed", AckPolicy: jetstream.AckExplicitPolicy})
		if err != nil {
			return err
		}
		b, err := c.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return err
		}
		for m := range b.Messages() {
			if err := m.DoubleAck(ctx); err != nil {
				return err
			}
		}
		return b.Error()
	})
	feed.allowed("dead-letter for its consumer", feed.publish("dlq.feed"))
	feed.refused("dead-letter for a node", "dlq.node-ma", feed.publish("dlq.node-ma"))
	feed.refused("make a consumer of another name", "$JS.API.CONSUMER.CREATE.DPI.node-ma", func(ctx context.Context) error {
		_, err := feed.js.CreateOrUpdateConsumer(ctx, bus.Stream, jetstream.ConsumerConfig{Durable: "node-ma", AckPolicy: jetstream.AckExplicitPolicy})
		return err
	})
	feed.refused("delete the stream", "$JS.API.STREAM.DELETE.DPI", func(ctx context.Context) error { return feed.js.DeleteStream(ctx, bus.Stream) })
	if _, err := admin.js.Consumer(context.Background(), bus.Stream, "node-ma"); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Fatalf("consumer node-ma: %v, want not found", err)
	}
}

func TestTheObserverReadsButCannotWrite(t *testing.T) {
	srv, admin := hubWithStreams(t)
	obs := connectAs(t, srv, access.Observer)
	admin.allowed("publish", admin.publish("dpi.ma.fix.published.x"))
	admin.allowed("publish", admin.publish("dlq.node-ph"))
	ctx := context.Background()

	live, err := obs.nc.SubscribeSync("dpi.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := obs.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	obs.allowed("list the streams", func(ctx context.Context) error {
		var names []string
		for n := range obs.js.StreamNames(ctx).Name() {
			names = append(names, n)
		}
		if !slices.Contains(names, bus.Stream) || !slices.Contains(names, bus.DLQStream) {
			return errors.New("streams missing: " + strings.Join(names, ", "))
		}
		return nil
	})
	obs.allowed("read stored events and dead letters", func(ctx context.Context) error {
		for _, name := range []string{bus.Stream, bus.DLQStream} {
			s, err := obs.js.Stream(ctx, name)
			if err != nil {
				return err
			}
			if _, err := s.GetMsg(ctx, 1); err != nil {
				return err
			}
			if _, err := s.Info(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	admin.allowed("publish", admin.publish("dpi.ph.fix.published.y"))
	if m, err := live.NextMsg(5 * time.Second); err != nil || m.Subject != "dpi.ph.fix.published.y" {
		t.Fatalf("live event: %v", err)
	}

	before := admin.lastSeq(bus.Stream)
	obs.refused("publish an event", "dpi.ma.fix.published.z", obs.publish("dpi.ma.fix.published.z"))
	obs.refused("publish a dead letter", "dlq.node-ma", obs.publish("dlq.node-ma"))
	obs.refused("make a consumer", "$JS.API.CONSUMER.CREATE.DPI.peek", func(ctx context.Context) error {
		_, err := obs.js.CreateOrUpdateConsumer(ctx, bus.Stream, jetstream.ConsumerConfig{Name: "peek"})
		return err
	})
	obs.refused("purge the stream", "$JS.API.STREAM.PURGE.DPI", func(ctx context.Context) error {
		s, err := obs.js.Stream(ctx, bus.Stream)
		if err != nil {
			return err
		}
		return s.Purge(ctx)
	})
	if after := admin.lastSeq(bus.Stream); after != before || admin.info(bus.Stream).State.Msgs != before {
		t.Fatalf("DPI after the observer's attempts: last seq %d, %d msgs; want %d", after, admin.info(bus.Stream).State.Msgs, before)
	}
	if _, err := admin.js.Consumer(ctx, bus.Stream, "peek"); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Fatalf("consumer peek: %v, want not found", err)
	}
}

func TestTheAdminMayDoAnything(t *testing.T) {
	srv, admin := hubWithStreams(t)
	ma := connectAs(t, srv, access.Country("ma"))
	ma.allowed("make its consumer", func(ctx context.Context) error {
		_, err := ma.js.CreateOrUpdateConsumer(ctx, bus.Stream, jetstream.ConsumerConfig{Durable: "node-ma", AckPolicy: jetstream.AckExplicitPolicy})
		return err
	})
	admin.allowed("publish as any country", admin.publish("dpi.ph.fix.published.x"))
	admin.allowed("dead-letter for anyone", admin.publish("dlq.node-ma"))
	admin.allowed("delete any consumer", func(ctx context.Context) error { return admin.js.DeleteConsumer(ctx, bus.Stream, "node-ma") })
	admin.allowed("make, purge and delete a stream", func(ctx context.Context) error {
		s, err := admin.js.CreateStream(ctx, jetstream.StreamConfig{Name: "SCRATCH", Subjects: []string{"scratch.>"}})
		if err != nil {
			return err
		}
		if err := s.Purge(ctx); err != nil {
			return err
		}
		return admin.js.DeleteStream(ctx, "SCRATCH")
	})
}
