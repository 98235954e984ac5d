-- Proposal statuses by their current names.
--
-- rejected and merged are the names of declined and implemented in events
-- sent before 2026-11-29; the projection now stores the current names
-- (events.ProposalStatus). A store that holds events derives its tables
-- again from them, in Go (Store.rederive), which renames the old statuses
-- on the way.
INSERT INTO store_info (key, value) SELECT 'rederive', '0004_status_names' WHERE EXISTS (SELECT 1 FROM events)
	ON CONFLICT (key) DO UPDATE SET value = excluded.value;
