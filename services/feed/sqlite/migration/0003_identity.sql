-- Identity by origin.
--
-- An event is (source, id): CloudEvents makes ids unique per source only,
-- so two sources may send the same id, and both events are kept. Schema 2
-- made id alone unique and kept the first of two such events, silently.
--
-- The events table is rebuilt in place with the pair unique. Rows keep
-- their seq, so the full-text index (rowid = seq) stays valid and is not
-- touched. An event schema 2 dropped for its id is not in the file to
-- recover: `dpihub feed rebuild` replays the stream and finds it.
--
-- The index is on (id, source) rather than (source, id): the same
-- constraint, and since ids are UUIDv7 (time ordered) new keys land at
-- the end of the b-tree instead of in one place per source.
ALTER TABLE events RENAME TO events_0002;
CREATE TABLE events (
	seq      INTEGER PRIMARY KEY,
	id       TEXT NOT NULL,
	type     TEXT NOT NULL,
	source   TEXT NOT NULL,
	country  TEXT NOT NULL,
	project  TEXT NOT NULL,
	time     INTEGER NOT NULL,
	received INTEGER NOT NULL,
	summary  TEXT NOT NULL,
	data     BLOB NOT NULL,
	UNIQUE (id, source)
);
INSERT INTO events (seq, id, type, source, country, project, time, received, summary, data)
	SELECT seq, id, type, source, country, project, time, received, summary, data FROM events_0002 ORDER BY seq;
DROP TABLE events_0002;

-- votes: one per country per proposal, endorsement or objection, the one
-- with the highest seq counting (an endorsement followed by an objection
-- leaves the objection). Schema 2 kept both, in reactions; reactions now
-- holds comments only.
CREATE TABLE votes (
	proposal_id TEXT NOT NULL,
	country     TEXT NOT NULL,
	seq         INTEGER NOT NULL,
	kind        TEXT NOT NULL, -- endorsement, objection
	text        TEXT NOT NULL,
	time        INTEGER NOT NULL,
	PRIMARY KEY (proposal_id, country)
) WITHOUT ROWID;
DELETE FROM reactions WHERE kind <> 'comment';

-- Objects by origin: the derived tables keep only what events.Authorize
-- allows (a fix or proposal of the country whose namespace its id is in,
-- assessments and votes of other countries, status changes by the
-- proposer or the hub's governance service, duplicates from the hub's
-- dedup service). Rows that schema 2 derived from other events are
-- wrong, and one that lost to them (Morocco's ma-x after a squatter's)
-- is missing: the store derives every table again from the events, once,
-- in Go (Store.rederive), when it sees this mark. The mark is removed in
-- the transaction that rederives, so a crash in between only means that
-- the next Open does it.
INSERT INTO store_info (key, value) SELECT 'rederive', '0003_identity' WHERE EXISTS (SELECT 1 FROM events);
