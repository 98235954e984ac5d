-- The feed projection. Times are Unix nanoseconds (UTC). Lists are JSON
-- arrays. Every row is derived from events, in stream order, so replaying
-- the stream rebuilds the same tables.

-- Every derived row is a function of the set of events applied, not of
-- their order: a restarted consumer gets unacknowledged events again after
-- newer ones, and must end where a replay in stream order ends. Where one
-- event wins, the rule says which by stream sequence or time.

-- events: every verified event. seq (the DPI stream sequence) is the rowid,
-- so "newest first" is a walk down the primary key and the full-text index
-- can share it; the event id is unique, which makes Apply idempotent.
CREATE TABLE events (
	seq      INTEGER PRIMARY KEY,
	id       TEXT NOT NULL UNIQUE,
	type     TEXT NOT NULL,
	source   TEXT NOT NULL,
	country  TEXT NOT NULL,
	project  TEXT NOT NULL,
	time     INTEGER NOT NULL,
	received INTEGER NOT NULL,
	summary  TEXT NOT NULL,
	data     BLOB NOT NULL
);
-- events_fts: the searchable text of each event, rowid = events.seq.
-- Contentless: the text lives in events, the index only finds rowids.
-- files/patchids/cves hold the tokens that file:, patchid: and cve: match.
-- meta holds one token each for the country, project and type, which
-- serve the filters: their doclists are in rowid order like every other,
-- so a filtered page is read newest first and the walk stops after it;
-- b-tree indexes on events would cost ingest a third more.
CREATE VIRTUAL TABLE events_fts USING fts5 (
	summary, body, files, patchids, cves, meta,
	content = '',
	columnsize = 0,
	tokenize = 'unicode61 remove_diacritics 2'
);

-- fixes: each published fix; the publication with the lowest seq wins.
CREATE TABLE fixes (
	fix_id    TEXT PRIMARY KEY,
	event_id  TEXT NOT NULL,
	seq       INTEGER NOT NULL,
	country   TEXT NOT NULL,
	project   TEXT NOT NULL,
	title     TEXT NOT NULL,
	patch_id  TEXT NOT NULL,
	files     TEXT NOT NULL,
	cves      TEXT NOT NULL,
	published INTEGER NOT NULL
);
CREATE INDEX fixes_seq ON fixes (seq);
CREATE INDEX fixes_project ON fixes (project, seq);

-- assessments: each country's latest verdict on a fix (highest seq wins);
-- first_assessed is the earliest time it assessed the fix.
CREATE TABLE assessments (
	fix_id          TEXT NOT NULL,
	country         TEXT NOT NULL,
	event_id        TEXT NOT NULL,
	seq             INTEGER NOT NULL,
	verdict         TEXT NOT NULL,
	present_as      TEXT NOT NULL,
	how             TEXT NOT NULL,
	conflicts       TEXT NOT NULL,
	three_way_clean INTEGER, -- NULL: unknown
	assessed        INTEGER NOT NULL,
	first_assessed  INTEGER NOT NULL,
	PRIMARY KEY (fix_id, country)
) WITHOUT ROWID;

-- adoptions: the first time (then lowest seq) a fix's patch-id appeared in
-- a country's fork.
CREATE TABLE adoptions (
	fix_id   TEXT NOT NULL,
	country  TEXT NOT NULL,
	event_id TEXT NOT NULL,
	seq      INTEGER NOT NULL,
	commit_id TEXT NOT NULL,
	branch   TEXT NOT NULL,
	adopted  INTEGER NOT NULL,
	PRIMARY KEY (fix_id, country)
) WITHOUT ROWID;

-- proposals: each submitted proposal; the lowest seq wins.
CREATE TABLE proposals (
	proposal_id TEXT PRIMARY KEY,
	event_id    TEXT NOT NULL,
	seq         INTEGER NOT NULL,
	country     TEXT NOT NULL,
	project     TEXT NOT NULL,
	title       TEXT NOT NULL,
	body        TEXT NOT NULL,
	labels      TEXT NOT NULL,
	submitted   INTEGER NOT NULL
);
CREATE INDEX proposals_seq ON proposals (seq);

-- proposal_status: the latest status change (highest seq) of a proposal (kept apart
-- from proposals, so a change that arrives first is not lost).
CREATE TABLE proposal_status (
	proposal_id TEXT PRIMARY KEY,
	seq         INTEGER NOT NULL,
	status      TEXT NOT NULL,
	changed     INTEGER NOT NULL
);

-- reactions: endorsements and objections, one per country (the highest
-- seq wins), and comments, one per event (key = its seq).
CREATE TABLE reactions (
	proposal_id TEXT NOT NULL,
	kind        TEXT NOT NULL, -- endorsement, objection, comment
	country     TEXT NOT NULL,
	key         INTEGER NOT NULL, -- 0 for endorsements and objections, seq for comments
	seq         INTEGER NOT NULL,
	text        TEXT NOT NULL,
	time        INTEGER NOT NULL,
	PRIMARY KEY (proposal_id, kind, country, key)
) WITHOUT ROWID;

-- duplicates: every duplicate the dedup service reported.
CREATE TABLE duplicates (
	seq        INTEGER PRIMARY KEY,
	event_id   TEXT NOT NULL,
	kind       TEXT NOT NULL,
	project    TEXT NOT NULL,
	a          TEXT NOT NULL,
	b          TEXT NOT NULL,
	similarity REAL NOT NULL,
	detail     TEXT NOT NULL,
	time       INTEGER NOT NULL
);

-- countries: what the feed knows of each country's node: its event with
-- the highest seq, and its heartbeat with the highest seq.
CREATE TABLE countries (
	country            TEXT PRIMARY KEY,
	events             INTEGER NOT NULL,
	last_seq           INTEGER NOT NULL,
	last_event         INTEGER NOT NULL,
	last_received      INTEGER NOT NULL,
	last_heartbeat_seq INTEGER, -- NULL: no heartbeat yet
	last_heartbeat     INTEGER
);

-- projects: every project seen, with its number of events.
CREATE TABLE projects (
	project TEXT PRIMARY KEY,
	events  INTEGER NOT NULL
);
