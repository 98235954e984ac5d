package access

import (
	"strings"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/subject"
)

// Permissions are the subjects an identity may publish on and subscribe
// to. Everything else is refused by the server. JetStream is an API over
// subjects ($JS.API.<verb>.<stream>[.<consumer>]), so these lists also say
// which streams and consumers an identity may create, read, change or
// delete.
type Permissions struct {
	Publish   []string
	Subscribe []string
}

// The JetStream API subjects the table is written with. Every consumer
// and stream name is one token: NATS wildcards match whole tokens, so a
// permission names a consumer exactly or matches every consumer of a
// stream; it cannot match a prefix (node-*). That is why each identity
// owns consumers of fixed names.
const (
	jsAPI = "$JS.API."
	// Consumer verbs. CREATE carries the consumer's filter after its name
	// when it has one filter (CONSUMER.CREATE.<stream>.<name>.<filter>),
	// and the server checks that the request's filter is that one. CREATE
	// also updates an existing consumer of that name: whoever may create a
	// consumer of any name may rewrite every consumer of the stream, which
	// is why the observer may create none.
	consumerCreate = jsAPI + "CONSUMER.CREATE."
	consumerInfo   = jsAPI + "CONSUMER.INFO."
	consumerDelete = jsAPI + "CONSUMER.DELETE."
	consumerNext   = jsAPI + "CONSUMER.MSG.NEXT."
	// Acks go to the reply subject of each delivered message:
	// $JS.ACK.<stream>.<consumer>.<…>; with the v2 ack format, which
	// names a domain and an account hash first, $JS.ACK.<domain>.<hash>.<stream>.<consumer>.<…>.
	ack = "$JS.ACK."
	// Flow-control replies of push consumers (the ordered consumers the
	// KV lister and the object store reader make). A flow-control subject
	// ends with a token the server chose for that delivery, so answering
	// on one nobody was sent does nothing.
	flowControl = "$JS.FC.>"
	// The max-deliveries advisory of a consumer: bus.Consume dead-letters
	// what the server gave up on.
	maxDeliveries = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES."
)

// Permissions returns the identity's permissions: the one table of who may
// do what on the hub's NATS server. docs/security.md explains it, and
// testdata/permissions.golden holds it, so that a change shows in review.
// An invalid identity has none.
func (id Identity) Permissions() Permissions {
	if id.Validate() != nil {
		return Permissions{}
	}
	switch id.Role {
	case RoleAdmin:
		return Permissions{Publish: []string{">"}, Subscribe: []string{">"}}
	case RoleCountry:
		return country(id)
	case RoleService:
		return service(id)
	case RoleObserver:
		return observer()
	case RoleSite:
		return site(id.Name)
	}
	return Permissions{}
}

// streamReader is what every identity that consumes needs: account and
// stream info (DPI, DPI_DLQ, a bucket to open; info says how many messages
// and consumers a stream has, never what they hold), and reading one
// message of DPI by sequence, which bus.Consume does when the server
// reports that it gave up on one (max deliveries), and the feed when it
// checks that DPI holds its last event (a restored stream): a direct get
// if the stream allows them, else a message get.
func streamReader() []string {
	return []string{
		jsAPI + "INFO",
		jsAPI + "STREAM.INFO.*",
		jsAPI + "STREAM.MSG.GET." + bus.Stream,
		jsAPI + "DIRECT.GET." + bus.Stream,
	}
}

// consumerOwner is what the owner of the durable consumer name on DPI
// needs to run it with bus.Consume: create (with or without a filter),
// info, fetch, ack, delete (the feed resets its consumer), its dead
// letters on dlq.<name>, and that consumer's max-deliveries advisory.
func consumerOwner(name string) Permissions {
	on := bus.Stream + "." + name
	return Permissions{
		Publish: []string{
			consumerCreate + on,
			consumerCreate + on + ".>",
			consumerInfo + on,
			consumerDelete + on,
			consumerNext + on,
			ack + on + ".>",
			ack + "*.*." + on + ".>",
			bus.DLQSubjectRoot + "." + name,
		},
		Subscribe: []string{maxDeliveries + on},
	}
}

// country: publish on dpi.<cc>.>; run consumer node-<cc>; keep its state
// in KV bucket NODE_<CC> and its large diffs in object store
// DPI_PATCHES_<CC>; read any country's large diffs.
//
// It may not make or change a stream, not even its own buckets': a
// stream's configuration chooses the subjects it captures and where it
// republishes, and the server checks neither against the creator's
// permissions, so a country allowed to make its bucket could have it
// store another country's replies or republish onto dpi.<other>. The hub
// makes the buckets when the node asks (ProvisionSubject).
func country(id Identity) Permissions {
	cc := id.Name
	kvStream := "KV_" + NodeBucket(cc)
	objStream := "OBJ_" + PatchBucket(cc)
	own := consumerOwner(id.Consumer())
	p := Permissions{
		Publish:   append(append([]string{subject.Root + "." + cc + ".>"}, own.Publish...), streamReader()...),
		Subscribe: append([]string{id.InboxPrefix() + ".>"}, own.Subscribe...),
	}
	p.Publish = append(p.Publish,
		ProvisionSubject(cc),
		// Its own KV bucket: write it, read keys directly, and list keys
		// (the lister is an ordered consumer it then deletes).
		"$KV."+NodeBucket(cc)+".>",
		jsAPI+"DIRECT.GET."+kvStream+".>",
		consumerCreate+kvStream+".>",
		consumerDelete+kvStream+".*",
		// Its own object store: write it (a rewrite purges the old
		// chunks), and clean up its readers.
		"$O."+PatchBucket(cc)+".>",
		jsAPI+"STREAM.PURGE."+objStream,
		consumerDelete+objStream+".*",
		// Any object store: read an object's metadata directly, and its
		// chunks through an ordered consumer whose filter must be a chunk
		// subject $O.<bucket>.C.<id>, which only object streams hold. The
		// reader cannot delete that consumer in another country's store;
		// the server drops it once idle.
		jsAPI+"DIRECT.GET.*.$O.*.M.*",
		consumerCreate+"*.*.$O.*.C.*",
		flowControl,
	)
	return p
}

// ProvisionSubject is where country cc's node asks the hub to make (or
// bring up to date) its buckets, NODE_<CC> and DPI_PATCHES_<CC>: only cc
// may publish there, so the subject says who asks.
func ProvisionSubject(cc string) string { return provisionRoot + cc }

// ProvisionSubjects matches every ProvisionSubject: what the hub serves.
const ProvisionSubjects = provisionRoot + "*"

const provisionRoot = "dpihub.provision.node."

// service: publish on dpi.hub.>; run the consumer of its name; read the
// dead letters by sequence, as the observer may (the feed shows the
// coordinator what was refused, and why).
func service(id Identity) Permissions {
	own := consumerOwner(id.Consumer())
	p := Permissions{
		Publish:   append(append([]string{subject.Root + "." + events.HubCountry + ".>"}, own.Publish...), streamReader()...),
		Subscribe: append([]string{id.InboxPrefix() + ".>"}, own.Subscribe...),
	}
	p.Publish = append(p.Publish, jsAPI+"STREAM.MSG.GET."+bus.DLQStream, jsAPI+"DIRECT.GET."+bus.DLQStream, jsAPI+"DIRECT.GET."+bus.DLQStream+".>")
	return p
}

// observer: read events and dead letters, as they come (subscribe) or by
// sequence (get), and look at streams and consumers. It makes no
// consumer: NATS cannot tell a request that makes a new consumer from one
// that rewrites an existing one.
func observer() Permissions {
	p := Permissions{Subscribe: []string{subject.All, bus.DLQSubjects, Observer.InboxPrefix() + ".>"}}
	p.Publish = []string{
		jsAPI + "INFO",
		jsAPI + "STREAM.INFO.*",
		jsAPI + "STREAM.LIST",
		jsAPI + "STREAM.NAMES",
		consumerInfo + "*.*",
		jsAPI + "CONSUMER.LIST.*",
		jsAPI + "CONSUMER.NAMES.*",
	}
	for _, s := range []string{bus.Stream, bus.DLQStream} {
		p.Publish = append(p.Publish, jsAPI+"STREAM.MSG.GET."+s, jsAPI+"DIRECT.GET."+s, jsAPI+"DIRECT.GET."+s+".>")
	}
	return p
}

// String prints the permissions one subject a line, as the golden file
// holds them.
func (p Permissions) String() string {
	var b strings.Builder
	for _, s := range p.Publish {
		b.WriteString("  pub " + s + "\n")
	}
	for _, s := range p.Subscribe {
		b.WriteString("  sub " + s + "\n")
	}

	return b.String()
}
