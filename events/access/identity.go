package access

import (
	"fmt"
	"strings"

	"github.com/dpihub/dpihub/events"
)

// Role is the kind of an identity.
type Role string

// The roles. Their names are part of the contract: a user JWT's name is
// "<role>:<name>" (country:ma, service:feed) or the role alone (admin,
// observer).
const (
	// RoleCountry is one country's node: it publishes on dpi.<cc>.> and
	// owns its consumer node-<cc> and its buckets.
	RoleCountry Role = "country"
	// RoleService is a hub service (feed, dedup, proposals) that runs
	// apart from the hub: it publishes on dpi.hub.> and owns the consumer
	// named after it.
	RoleService Role = "service"
	// RoleAdmin may do everything: the hub's own connection, operators.
	RoleAdmin Role = "admin"
	// RoleObserver reads events and dead letters and nothing else:
	// coordinators, maintainers, the nats CLI.
	RoleObserver Role = "observer"
	// RoleSite is the leafnode link of country cc's site (site:ma) to the
	// hub cluster in a multi-site deployment: no client connects with it.
	// It carries only what JetStream sourcing between the site's domain
	// and the hub's needs, never an event subject (SitePermissions).
	RoleSite Role = "site"
)

// Identity is who a NATS connection is: a role and, for countries and
// services, a name. The zero value is no identity.
type Identity struct {
	Role Role
	Name string // country code or service name; empty for admin and observer
}

// The identities without a name.
var (
	Admin    = Identity{Role: RoleAdmin}
	Observer = Identity{Role: RoleObserver}
)

// Country is the identity of country cc's node.
func Country(cc string) Identity { return Identity{Role: RoleCountry, Name: cc} }

// Site is the identity of the leafnode link of country cc's site.
func Site(cc string) Identity { return Identity{Role: RoleSite, Name: cc} }

// Service is the identity of the hub service name.
func Service(name string) Identity { return Identity{Role: RoleService, Name: name} }

// String returns the identity as a user JWT names it: country:ma,
// service:feed, admin, observer.
func (id Identity) String() string {
	if id.Name == "" {
		return string(id.Role)
	}
	return string(id.Role) + ":" + id.Name
}

// Parse reads what String writes and checks it.
func Parse(s string) (Identity, error) {
	role, name, _ := strings.Cut(s, ":")
	id := Identity{Role: Role(role), Name: name}
	if err := id.Validate(); err != nil {
		return Identity{}, err
	}
	return id, nil
}

// Validate checks the role and the name: a country is a lower-case ISO
// 3166-1 alpha-2 code; a service name is what an event source allows
// (urn:dpihub:hub:<name>) and does not begin with "node-", the prefix of
// the countries' consumers, since a service owns the consumer of its
// name.
func (id Identity) Validate() error {
	switch id.Role {
	case RoleCountry, RoleSite:
		if id.Name == events.HubCountry || !events.ValidCountry(id.Name) {
			return fmt.Errorf("identity %q: %q is not a lower-case ISO 3166-1 alpha-2 country code", id, id.Name)
		}
	case RoleService:
		if err := (events.Source{Country: events.HubCountry, Service: id.Name}).Validate(); err != nil {
			return fmt.Errorf("identity %q: service name: %w", id, err)
		}
		if strings.HasPrefix(id.Name, nodeConsumerPrefix) {
			return fmt.Errorf("identity %q: a service name may not begin with %q (the countries' consumers)", id, nodeConsumerPrefix)
		}
	case RoleAdmin, RoleObserver:
		if id.Name != "" {
			return fmt.Errorf("identity %q: %s takes no name", id, id.Role)
		}
	default:
		return fmt.Errorf("identity %q: unknown role %q (country:<cc>, site:<cc>, service:<name>, admin, observer)", id, id.Role)
	}
	return nil
}

// Consumer is the durable consumer of stream DPI the identity owns: node-<cc>
// for a country, the service's name for a service, "" for the others (the
// admin may use any, the observer none).
func (id Identity) Consumer() string {
	switch id.Role {
	case RoleCountry:
		return NodeConsumer(id.Name)
	case RoleService:
		return id.Name
	}
	return ""
}

// InboxPrefix is the prefix of the identity's reply subjects
// (nats.CustomInboxPrefix), the only replies it may receive: a client
// reading another's replies would read its KV entries and fetched
// messages. Empty for the admin, which uses the default _INBOX.
func (id Identity) InboxPrefix() string {
	switch id.Role {
	case RoleCountry:
		return "_INBOX_" + id.Name
	case RoleService:
		return "_INBOX_hub_" + id.Name
	case RoleObserver:
		return "_INBOX_observer"
	}
	return ""
}

// CredsFile is the name of a file of the identity's credentials:
// country-ma.creds, service-feed.creds, admin.creds, observer.creds.
func (id Identity) CredsFile() string { return strings.ReplaceAll(id.String(), ":", "-") + ".creds" }

// Names of what a country's node keeps on the hub. They are here because
// the permissions name them; the node uses them from here.
const nodeConsumerPrefix = "node-"

// NodeConsumer is the durable consumer of country cc's node: node-<cc>.
func NodeConsumer(cc string) string { return nodeConsumerPrefix + cc }

// NodeBucket is the KV bucket of country cc's node state: NODE_<CC>
// (stream KV_NODE_<CC>).
func NodeBucket(cc string) string { return "NODE_" + strings.ToUpper(cc) }

// PatchBucketPrefix begins the name of every bucket of large diffs.
const PatchBucketPrefix = "DPI_PATCHES_"

// PatchBucket is the object store bucket of country cc's large diffs:
// DPI_PATCHES_<CC> (stream OBJ_DPI_PATCHES_<CC>). Only cc writes it;
// every country reads it.
func PatchBucket(cc string) string { return PatchBucketPrefix + strings.ToUpper(cc) }
