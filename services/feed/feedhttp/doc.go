// Package feedhttp serves the coordinator feed over HTTP: a JSON API, CSV
// export, Atom, a live SSE stream and a server-rendered web UI.
//
//	GET /healthz                 liveness (WithoutHealthz turns it off)
//	GET /metrics                 Prometheus metrics (only WithGatherer)
//	GET /api/v1/events           events as a JSON feed.Page
//	GET /api/v1/events.csv       the same events as CSV (RFC 4180)
//	GET /feed.atom               the same events as an Atom feed (RFC 4287)
//	GET /api/v1/stream           new events as server-sent events
//	GET /api/v1/fixes            fixes with their assessments, newest first (?project=, ?country= of origin, ?limit=; Link rel=next with a cursor)
//	GET /api/v1/fixes/{id}       one fix with its propagation matrix and its content (message, diff, same patch-id elsewhere)
//	GET /api/v1/fixes/{id}/lacking   the countries that could take the fix and lack it, longest waiting first
//	GET /api/v1/countries/{cc}/lacking the fixes the country lacks, most carried first (?project=, ?limit=)
//	GET /api/v1/propagation      time to propagate: median, p90 and monthly trend per country and project, longest-open fixes (?project=)
//	GET /api/v1/refused          refused events (WithRefusals): counts by country, reason and day, the latest (?after=SEQ: the newer ones)
//	GET /api/v1/matrix           a page of the fix matrix: fixes with assessments, columns, total, next (the matrix's filters)
//	GET /api/v1/proposals        proposals with votes, comments and outlook (?project=, ?sort=, ?status=)
//	GET /api/v1/duplicates       duplicate forks, fixes and proposals (?project=)
//	GET /api/v1/countries        what the feed knows of each country
//	GET /api/v1/projects         the projects seen
//	GET /                        web UI: the live feed with search
//	GET /fixes/{id}              web UI: a fix: facts, CVEs, message, propagation, diff (first DiffMaxLines lines)
//	GET /fixes/{id}/patch        the fix as git format-patch writes it (text/plain), for git am
//	GET /matrix                  web UI: the fix matrix as a heatmap, fixes x countries (the matrix's filters)
//	GET /fixes/{id}/lacking      web UI: the countries without a fix
//	GET /countries/{cc}/lacking  web UI: the fixes a country lacks (?project=)
//	GET /propagation             web UI: time to propagate, as SVG charts drawn here, each with its table (?project=)
//	GET /refused                 web UI: refused events, forgery attempts marked, new ones added as they come (script polls)
//	GET /proposals               web UI: the proposals board (?project=, ?sort=)
//	GET /duplicates              web UI: duplicates
//	GET /countries               web UI: country status
//
// Every event listing takes the same filters: q (full text, with file:,
// patchid: and cve: prefixes), country, project, type (full or short,
// e.g. fix.published), since and until (RFC 3339 or YYYY-MM-DD), limit
// (1..500, default 50) and cursor (from a page's next). So any search is
// also an Atom feed and a CSV export.
//
// The matrix (page and API) takes project, country (where the fixes were
// made), verdict (fixes whose cell in some country is present, applies,
// conflicts, not-applicable or pending), age (1d, 7d, 30d, 90d: published
// at least so long ago), cve (a CVE id, or any), limit (1..500, default
// MatrixPageSize) and cursor. Its cells are one letter each (O origin, P
// in the fork, A applies, C conflicts, N not applicable, · pending) on a
// colour, so a page of 100 fixes by 50 countries is about 140 kB.
//
// The proposals (API and board) take project and sort: support (the
// default: endorsements minus objections, then more endorsements, then
// older first; feed.SortProposals) or newest; another sort is a 400. With
// a Governance (WithGovernance), each proposal it knows has an "outlook":
// its project's rules in a sentence, what would change its state next,
// the deadline of the next timed rule and the countries whose objection
// is unanswered; the board shows them, with the time left as text
// ("3 days left", "deadline passed") worked out when the page is
// rendered. Bodies are Markdown, shown on the board as HTML made inert
// (goldmark without raw HTML, then bluemonday's policy for user content;
// see markdown.go).
//
// Errors of the API are application/problem+json (RFC 9457, written by
// package events/problem, which decides by the error's kind): 400 for bad
// input (never 500), 404 for unknown ids and routes under /api/.
//
// This package checks the filters of a request once, and hands the store
// a feed.Query of well-formed values; the store checks what only it can
// (full-text syntax, cursors).
//
// The live stream and the UI's live updates need a Broadcaster that the
// projector calls after each applied event (WithBroadcaster); without
// one the stream sends only heartbeats after its catch-up.
//
// The stream (stream.go): a notification wakes one fan-out per handler,
// which reads what was applied since its last read once, encodes each
// event once and hands it to every live stream whose filters match (a
// full-text q costs one more read per distinct search, not per stream).
// Each stream has a bounded buffer (WithStreamBuffer, default 1,024
// events, at least a batch of the live projector); a stream whose buffer
// is full is dropped, its connection closed (a write blocked on a client that does not read fails at
// once), and EventSource comes back with Last-Event-ID. A resume is
// served from the store in pages of 200, oldest first, holding at most
// two pages, however far back it starts; then the stream joins the
// fan-out where its catch-up ended. A Last-Event-ID beyond the store's
// last sequence (a database rebuilt or replaced) gets at once an
// "event: reset" whose id and data ({"last_event_id":N}) are the store's
// last sequence, then live events. At most WithMaxStreams streams
// (default 256) are served at once; one more is a 503
// application/problem+json with Retry-After. Streams flush at most every
// 50 ms under a burst.
package feedhttp
