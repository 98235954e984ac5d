// Package access says who may connect to the hub's NATS server and what
// each connection may do there: the transport's identities, their
// permissions, and the keys that vouch for them.
//
// NATS runs in operator (JWT) mode. One Authority holds three keys: the
// operator, the system account, and the account DPI that holds every
// stream. Each identity (Country, Service, Admin, Observer) connects as a
// user of DPI whose JWT, signed by DPI's key, names the identity and
// carries its permissions (Identity.Permissions, the one table). The
// server trusts the operator and knows the two account JWTs
// (Authority.Configure); it needs to know nothing of users, so a .creds
// file issued at any time (Authority.Creds) works at once, without a
// restart.
//
// A country may not make streams, not even its own buckets: a stream's
// configuration chooses what it captures and where it republishes, which
// the server does not check against its maker's permissions. The node asks
// on ProvisionSubject and the hub makes them. docs/security.md has the
// table, the reasons, and what one account still leaves open.
//
// The signatures on events (package sign) say who spoke; these
// permissions say who may reach the server and where they may write. The
// two are independent: a country that could publish on another's subjects
// would still be refused by every consumer (subject-country-mismatch), and
// a stolen signing key is still confined to its country's subjects.
package access
