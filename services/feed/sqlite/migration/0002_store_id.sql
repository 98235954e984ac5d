-- store_info: facts about this database file rather than about events.
-- id is random, made once: the feed's durable consumer is named after it,
-- so each database has its own position on the stream (a new or rebuilt
-- file never inherits the position of another). Not part of Digest.
CREATE TABLE store_info (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
INSERT INTO store_info (key, value) VALUES ('id', lower(hex(randomblob(6))));
