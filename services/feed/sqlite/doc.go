// Package sqlite implements feed.Store on SQLite (modernc.org/sqlite, pure
// Go) with FTS5 for search.
//
// One file holds the projection in WAL mode: a single writer connection
// applies events, a pool of read-only connections answers queries, so
// searches never wait for ingest. The schema lives in migration/*.sql,
// applied in order and recorded in table schema_version.
//
// # Idempotent, order-independent, crash-safe
//
// Apply is idempotent by event, which is its source and id together
// (events are unique on the pair; CloudEvents makes ids unique per source
// only): an event stored already is skipped as a whole, and two sources'
// events of the same id are both kept. Every derived row is a function of
// the set of events applied, not of their order (where one event wins, a
// rule on stream sequence or time says which), because a restarted
// durable consumer gets its unacknowledged events again after newer ones.
// Each Apply, and each ApplyBatch, is one transaction, so a crash leaves
// all of an event or none of it. Digest hashes every table but the
// full-text index (whose pages depend on transaction boundaries) to
// compare two stores.
//
// # Objects by origin
//
// Every event is stored and searchable; only those that events.Authorize
// allows change the derived tables, whatever the bus let through. So a fix
// or proposal is made by the country whose namespace its id is in, an
// assessment or adoption is (fix, another country), a vote is one per
// (proposal, another country) with the highest stream sequence counting,
// a status changes by its proposer (withdrawn) or the hub's governance
// service, a duplicate comes from the hub's dedup service. Each rule looks
// at one event, which keeps the derived rows independent of order.
//
// # Migrations
//
// migration/*.sql run in order at Open, each in its own transaction. A
// migration that changes what events derive asks, through store_info key
// 'rederive', for every derived table to be made again from the stored
// events; Open does it in one transaction before it returns (0003 does,
// for objects by origin). The stored events and the full-text index are
// kept as they are: an old database opens without losing an event, and
// `dpihub feed rebuild` is only needed for events an old schema refused
// to store (schema 2 kept one event per id).
//
// # Search syntax (feed.Query.Q)
//
// The store translates the user's query into an FTS5 MATCH expression
// itself; nothing the user types reaches FTS5's own syntax:
//
//	word          events with the word (any case, accents ignored)
//	word*         a word that starts so
//	"a phrase"    the words in this order ("a phrase"* for a prefix)
//	-word         events without it; also NOT word. A query needs one term that is not excluded
//	a OR b        either; terms side by side must all match (AND may be written)
//	file:path     a file that a fix, a fork snapshot or a conflict names: the
//	              path's parts in order, so file:IdRepoServiceImpl.java and
//	              file:service/impl/IdRepoServiceImpl.java both work; file:"a b", file:src/main*
//	patchid:hex   a patch-id starting with these hex digits (at least 4)
//	cve:CVE-id    a CVE the event names (cve:2024-1234 works too)
//
// Anything else (unbalanced quotes, a lone operator or -, a field with no
// value, a term with no letter or digit, more than 32 terms or 1000 bytes)
// is an error of kind feed.ErrBadQuery, as is a malformed cursor. The
// filters (country, project, type, time) are checked before they reach
// the store, as feed.Query says.
//
// # Newest first
//
// The FTS5 rowid is the stream sequence (events.seq), and the filters
// (country, project, type) are tokens of a hidden FTS5 column, so every
// search and filter walks rowid-ordered doclists backwards and stops after
// one page, however common the word. Pages are cut by an opaque cursor
// (EncodeCursor): results strictly older than the previous page's last.
package sqlite
