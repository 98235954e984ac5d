package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	sqlitedriver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/services/feed"
)

// MaxList caps Proposals and Duplicates, newest first.
const MaxList = 1000

// LastSeq implements feed.Store.
func (s *Store) LastSeq(ctx context.Context) (uint64, error) {
	var seq int64
	if err := s.r.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM events`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("last seq: %w", err)
	}
	return uint64(seq), nil
}

// EncodeCursor is the cursor of the page after the event with stream
// sequence seq.
func EncodeCursor(seq uint64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatUint(seq, 10)))
}

func decodeCursor(c string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, badQuery("cursor %.40q is not one this feed made", c)
	}
	seq, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || seq <= 0 || string(b) != strconv.FormatInt(seq, 10) {
		return 0, badQuery("cursor %.40q is not one this feed made", c)
	}
	return seq, nil
}

// Events implements feed.Store: events newest first, filtered; Q is
// translated by ftsQuery. A query or cursor the store cannot use is an
// error of kind feed.ErrBadQuery.
//
// The filters are trusted as feed.Query says (feedhttp checks them): they
// reach SQL only as bound parameters and FTS5 only as hashed tokens
// (metaToken), so a value that breaks the contract finds nothing and never
// changes a statement.
func (s *Store) Events(ctx context.Context, q feed.Query) (feed.Page, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = events.DefaultPageLimit
	}
	limit = min(limit, events.MaxPageLimit)
	match, err := ftsQuery(q.Q)
	if err != nil {
		return feed.Page{}, err
	}
	var (
		where []string
		args  []any
		meta  []string // filter tokens, matched in column meta
	)
	if q.Country != "" {
		meta = append(meta, metaToken('c', q.Country))
		where = append(where, "e.country = ?")
		args = append(args, q.Country)
	}
	if q.Project != "" {
		meta = append(meta, metaToken('p', q.Project))
		where = append(where, "e.project = ?")
		args = append(args, q.Project)
	}
	if q.Type != "" {
		meta = append(meta, metaToken('t', q.Type))
		where = append(where, "e.type = ?")
		args = append(args, q.Type)
	}
	if !q.Since.IsZero() {
		where = append(where, "e.time >= ?")
		args = append(args, q.Since.UnixNano())
	}
	if !q.Until.IsZero() {
		where = append(where, "e.time < ?")
		args = append(args, q.Until.UnixNano())
	}
	if len(meta) > 0 {
		m := "meta : (" + strings.Join(meta, " AND ") + ")"
		if match == "" {
			match = m
		} else {
			match = "(" + match + ") AND " + m
		}
	}
	col := "e.seq"
	if match != "" {
		col = "f.rowid" // constraints on the FTS5 rowid reach the index
		where = append([]string{"events_fts MATCH ?"}, where...)
		args = append([]any{match}, args...)
	}
	if q.Cursor != "" {
		seq, err := decodeCursor(q.Cursor)
		if err != nil {
			return feed.Page{}, err
		}
		where = append(where, col+" < ?")
		args = append(args, seq)
	}
	var sqlText strings.Builder
	sqlText.WriteString(`SELECT e.seq, e.id, e.type, e.source, e.country, e.project, e.time, e.summary, e.data FROM `)
	if match != "" {
		// CROSS JOIN keeps the index the outer loop: it yields rowids
		// newest first and the walk stops after one page.
		sqlText.WriteString(`events_fts f CROSS JOIN events e ON e.seq = f.rowid`)
	} else {
		sqlText.WriteString(`events e`)
	}
	if len(where) > 0 {
		sqlText.WriteString(" WHERE " + strings.Join(where, " AND "))
	}
	sqlText.WriteString(" ORDER BY " + col + " DESC LIMIT ?")
	args = append(args, limit+1)

	rows, err := s.r.QueryContext(ctx, sqlText.String(), args...)
	if err != nil {
		return feed.Page{}, s.queryError(ctx, match, err)
	}
	defer rows.Close()
	page := feed.Page{Events: []feed.Event{}}
	for rows.Next() {
		var (
			e    feed.Event
			seq  int64
			t    int64
			data []byte
		)
		if err := rows.Scan(&seq, &e.ID, &e.Type, &e.Source, &e.Country, &e.Project, &t, &e.Summary, &data); err != nil {
			return feed.Page{}, fmt.Errorf("events: %w", err)
		}
		e.Seq, e.Time, e.Data = uint64(seq), fromNanos(t), json.RawMessage(data)
		page.Events = append(page.Events, e)
	}
	if err := rows.Err(); err != nil {
		return feed.Page{}, s.queryError(ctx, match, err)
	}
	if len(page.Events) > limit {
		page.Events = page.Events[:limit]
		page.Next = EncodeCursor(page.Events[limit-1].Seq)
	}
	return page, nil
}

// queryError says whose fault a failed search is. ftsQuery should never
// let through a MATCH expression that FTS5 refuses, but if it does, the
// caller's query is at fault, not the feed. SQLite reports a bad
// expression as SQLITE_ERROR, as it does a broken statement; so the
// expression is tried alone, in a statement that runs with an expression
// known to be good: if SQLite refuses only ours, the error is a
// feed.ErrBadQuery. The probes run only after a search failed, so a search
// that works costs nothing more.
func (s *Store) queryError(ctx context.Context, match string, err error) error {
	if match != "" && sqliteCode(err) == sqlite3.SQLITE_ERROR {
		if perr := s.probeMatch(ctx, match); sqliteCode(perr) == sqlite3.SQLITE_ERROR && s.probeMatch(ctx, `"dpihub"`) == nil {
			return events.Errorf(feed.ErrBadQuery, "%v", perr)
		}
	}
	return fmt.Errorf("events: %w", err)
}

// probeMatch runs a statement whose only input is the MATCH expression.
func (s *Store) probeMatch(ctx context.Context, match string) error {
	rows, err := s.r.QueryContext(ctx, `SELECT rowid FROM events_fts WHERE events_fts MATCH ? LIMIT 1`, match)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
	}
	return rows.Err()
}

// sqliteCode is the primary result code of the SQLite error in err's
// chain (SQLITE_ERROR, SQLITE_BUSY, ...), 0 if there is none.
func sqliteCode(err error) int {
	if e, ok := errors.AsType[*sqlitedriver.Error](err); ok {
		return e.Code() & 0xff // without the extended code's high bits
	}
	return 0
}

// Fix implements feed.Store.
func (s *Store) Fix(ctx context.Context, id string) (feed.Fix, error) {
	fixes, err := s.fixes(ctx, `WHERE fix_id = ?`, id)
	if err != nil {
		return feed.Fix{}, fmt.Errorf("fix %s: %w", id, err)
	}
	if len(fixes) == 0 {
		return feed.Fix{}, fmt.Errorf("fix %s: %w", id, feed.ErrNotFound)
	}
	return fixes[0], nil
}

// FixesByID implements feed.Store, reading at most 500 ids a query.
func (s *Store) FixesByID(ctx context.Context, ids []string) ([]feed.Fix, error) {
	var all []feed.Fix
	for c := range slices.Chunk(ids, 500) {
		args := make([]any, len(c))
		for i, id := range c {
			args[i] = id
		}
		fixes, err := s.fixes(ctx, `WHERE fix_id IN (`+strings.TrimSuffix(strings.Repeat("?,", len(c)), ",")+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("fixes by id: %w", err)
		}
		all = append(all, fixes...)
	}
	return all, nil
}

// Fixes implements feed.Store: newest first (in stream order), limit
// defaulting to events.DefaultPageLimit and capped at
// events.MaxPageLimit.
func (s *Store) Fixes(ctx context.Context, project string, before uint64, limit int) ([]feed.Fix, error) {
	if limit <= 0 {
		limit = events.DefaultPageLimit
	}
	limit = min(limit, events.MaxPageLimit)
	if before == 0 {
		before = math.MaxInt64
	}
	var (
		fixes []feed.Fix
		err   error
	)
	if project == "" {
		fixes, err = s.fixes(ctx, `WHERE seq < ? ORDER BY seq DESC LIMIT ?`, int64(min(before, math.MaxInt64)), limit)
	} else {
		fixes, err = s.fixes(ctx, `WHERE project = ? AND seq < ? ORDER BY seq DESC LIMIT ?`, project, int64(min(before, math.MaxInt64)), limit)
	}
	if err != nil {
		return nil, fmt.Errorf("fixes of %q: %w", project, err)
	}
	return fixes, nil
}

// fixes reads fixes selected by tail and their assessments, in one read
// transaction so that the matrix is consistent.
func (s *Store) fixes(ctx context.Context, tail string, args ...any) ([]feed.Fix, error) {
	tx, end, err := begin(ctx, s.r)
	if err != nil {
		return nil, err
	}
	defer end()
	rows, err := tx.QueryContext(ctx, `SELECT fix_id, event_id, country, project, title, patch_id, files, cves, published, seq
		FROM fixes `+tail, args...)
	if err != nil {
		return nil, err
	}
	fixes := []feed.Fix{}
	index := map[string]int{}
	for rows.Next() {
		var (
			f           feed.Fix
			files, cves string
			published   int64
		)
		var seq int64
		if err := rows.Scan(&f.ID, &f.EventID, &f.Country, &f.Project, &f.Title, &f.PatchID, &files, &cves, &published, &seq); err != nil {
			rows.Close()
			return nil, err
		}
		f.Published, f.Seq = fromNanos(published), uint64(seq)
		f.Files, f.CVEs = []string{}, nil
		if err := json.Unmarshal([]byte(files), &f.Files); err != nil {
			rows.Close()
			return nil, fmt.Errorf("fix %s files: %w", f.ID, err)
		}
		if cves != "[]" {
			if err := json.Unmarshal([]byte(cves), &f.CVEs); err != nil {
				rows.Close()
				return nil, fmt.Errorf("fix %s cves: %w", f.ID, err)
			}
		}
		f.Assessments = []feed.Assessment{}
		index[f.ID] = len(fixes)
		fixes = append(fixes, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(fixes) == 0 {
		return fixes, nil
	}
	ids := make([]any, 0, len(fixes))
	for _, f := range fixes {
		ids = append(ids, f.ID)
	}
	in := strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",")
	// Assessments with their adoption, and adoptions that no assessment
	// preceded: an adoption means the patch-id is in the fork, so it
	// shows as present, found by adoption (feed.HowAdopted).
	rows, err = tx.QueryContext(ctx, `
		SELECT a.fix_id, a.country, a.verdict, a.present_as, a.how, a.conflicts, a.three_way_clean,
			a.assessed, a.first_assessed, d.adopted
		FROM assessments a LEFT JOIN adoptions d ON d.fix_id = a.fix_id AND d.country = a.country
		WHERE a.fix_id IN (`+in+`)
		UNION ALL
		SELECT d.fix_id, d.country, ?, d.commit_id, ?, '[]', NULL, d.adopted, d.adopted, d.adopted
		FROM adoptions d
		WHERE d.fix_id IN (`+in+`)
			AND NOT EXISTS (SELECT 1 FROM assessments a WHERE a.fix_id = d.fix_id AND a.country = d.country)
		ORDER BY 1, 2`, slices.Concat(ids, []any{events.VerdictPresent, feed.HowAdopted}, ids)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			fixID, conflicts        string
			a                       feed.Assessment
			clean, adopted          sql.NullInt64
			assessed, firstAssessed int64
		)
		if err := rows.Scan(&fixID, &a.Country, &a.Verdict, &a.PresentAs, &a.How, &conflicts, &clean,
			&assessed, &firstAssessed, &adopted); err != nil {
			return nil, err
		}
		if conflicts != "[]" {
			if err := json.Unmarshal([]byte(conflicts), &a.Conflicts); err != nil {
				return nil, fmt.Errorf("fix %s conflicts of %s: %w", fixID, a.Country, err)
			}
		}
		if clean.Valid {
			b := clean.Int64 != 0
			a.ThreeWayClean = &b
		}
		f := &fixes[index[fixID]]
		a.AssessedAt = fromNanos(assessed)
		a.TimeToAssess = since(f.Published, fromNanos(firstAssessed))
		if adopted.Valid {
			t := fromNanos(adopted.Int64)
			d := since(f.Published, t)
			a.AdoptedAt, a.TimeToAdopt = &t, &d
		}
		f.Assessments = append(f.Assessments, a)
	}
	return fixes, rows.Err()
}

// since is the time from publication to t, never negative (a country's
// clock may run behind the publisher's).
func since(published, t time.Time) feed.Duration {
	return feed.Duration(max(0, t.Sub(published)))
}

// Proposals implements feed.Store: the newest MaxList proposals of
// project ("" for all), with their status and reactions.
func (s *Store) Proposals(ctx context.Context, project string) ([]feed.Proposal, error) {
	tx, end, err := begin(ctx, s.r)
	if err != nil {
		return nil, fmt.Errorf("proposals: %w", err)
	}
	defer end()
	// A proposal whose status never changed is open.
	filter, args := "", []any{events.ProposalOpen}
	if project != "" {
		filter, args = "WHERE p.project = ?", append(args, project)
	}
	rows, err := tx.QueryContext(ctx, `
		SELECT p.proposal_id, p.country, p.project, p.title, p.body, p.labels, coalesce(s.status, ?), p.submitted
		FROM proposals p LEFT JOIN proposal_status s ON s.proposal_id = p.proposal_id
		`+filter+` ORDER BY p.seq DESC LIMIT ?`, append(args, MaxList)...)
	if err != nil {
		return nil, fmt.Errorf("proposals: %w", err)
	}
	out := []feed.Proposal{}
	index := map[string]int{}
	for rows.Next() {
		var (
			p         feed.Proposal
			labels    string
			submitted int64
		)
		if err := rows.Scan(&p.ID, &p.Country, &p.Project, &p.Title, &p.Body, &labels, &p.Status, &submitted); err != nil {
			rows.Close()
			return nil, fmt.Errorf("proposals: %w", err)
		}
		if labels != "[]" {
			if err := json.Unmarshal([]byte(labels), &p.Labels); err != nil {
				rows.Close()
				return nil, fmt.Errorf("proposal %s labels: %w", p.ID, err)
			}
		}
		p.Submitted = fromNanos(submitted)
		p.Endorsements, p.Objections, p.Comments = []feed.Reaction{}, []feed.Reaction{}, []feed.Reaction{}
		index[p.ID] = len(out)
		out = append(out, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("proposals: %w", err)
	}
	if len(out) == 0 {
		return out, nil
	}
	ids := make([]any, 0, len(out))
	for _, p := range out {
		ids = append(ids, p.ID)
	}
	// Votes (one per country) and comments, in stream order.
	in := strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",")
	rows, err = tx.QueryContext(ctx, `
		SELECT proposal_id, kind, country, text, time, seq FROM votes WHERE proposal_id IN (`+in+`)
		UNION ALL
		SELECT proposal_id, kind, country, text, time, seq FROM reactions WHERE proposal_id IN (`+in+`)
		ORDER BY 1, 6`, slices.Concat(ids, ids)...)
	if err != nil {
		return nil, fmt.Errorf("reactions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id, kind string
			r        feed.Reaction
			t        int64
			seq      int64 // selected to order the union by
		)
		if err := rows.Scan(&id, &kind, &r.Country, &r.Text, &t, &seq); err != nil {
			return nil, fmt.Errorf("reactions: %w", err)
		}
		r.Time = fromNanos(t)
		p := &out[index[id]]
		switch kind {
		case kindEndorsement:
			p.Endorsements = append(p.Endorsements, r)
		case kindObjection:
			p.Objections = append(p.Objections, r)
		case kindComment:
			p.Comments = append(p.Comments, r)
		}
	}
	return out, rows.Err()
}

// Duplicates implements feed.Store: the newest MaxList duplicates.
func (s *Store) Duplicates(ctx context.Context) ([]feed.Duplicate, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT event_id, kind, project, a, b, similarity, detail, time
		FROM duplicates ORDER BY seq DESC LIMIT ?`, MaxList)
	if err != nil {
		return nil, fmt.Errorf("duplicates: %w", err)
	}
	defer rows.Close()
	out := []feed.Duplicate{}
	for rows.Next() {
		var (
			d feed.Duplicate
			t int64
		)
		if err := rows.Scan(&d.EventID, &d.Kind, &d.Project, &d.A, &d.B, &d.Similarity, &d.Detail, &t); err != nil {
			return nil, fmt.Errorf("duplicates: %w", err)
		}
		d.Time = fromNanos(t)
		out = append(out, d)
	}
	return out, rows.Err()
}

// Countries implements feed.Store, in order of country code.
func (s *Store) Countries(ctx context.Context) ([]feed.CountryStatus, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT country, events, last_event, last_received, last_heartbeat
		FROM countries ORDER BY country`)
	if err != nil {
		return nil, fmt.Errorf("countries: %w", err)
	}
	defer rows.Close()
	out := []feed.CountryStatus{}
	for rows.Next() {
		var (
			c              feed.CountryStatus
			last, received int64
			hb             sql.NullInt64
		)
		if err := rows.Scan(&c.Country, &c.Events, &last, &received, &hb); err != nil {
			return nil, fmt.Errorf("countries: %w", err)
		}
		c.LastEvent = fromNanos(last)
		if received != 0 && last != 0 {
			c.Lag = feed.Duration(received - last)
		}
		if hb.Valid {
			t := fromNanos(hb.Int64)
			c.LastHeartbeat = &t
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Projects implements feed.Store: every project seen, sorted.
func (s *Store) Projects(ctx context.Context) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT project FROM projects ORDER BY project`)
	if err != nil {
		return nil, fmt.Errorf("projects: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("projects: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// digestTables are the tables Digest covers, each with its key order.
// The FTS5 index is left out: its pages depend on transaction boundaries
// (a replay in other batches writes other segments), and it is derived
// from events alone.
var digestTables = []struct{ name, order string }{
	{"events", "seq"},
	{"fixes", "fix_id"},
	{"assessments", "fix_id, country"},
	{"adoptions", "fix_id, country"},
	{"proposals", "proposal_id"},
	{"proposal_status", "proposal_id"},
	{"reactions", "proposal_id, kind, country, key"},
	{"votes", "proposal_id, country"},
	{"duplicates", "seq"},
	{"countries", "country"},
	{"projects", "project"},
}

// ID is this database's own random id, made when it was created (12 hex
// digits). The feed names its durable consumer after it.
func (s *Store) ID(ctx context.Context) (string, error) {
	var id string
	if err := s.r.QueryRowContext(ctx, `SELECT value FROM store_info WHERE key = 'id'`).Scan(&id); err != nil {
		return "", fmt.Errorf("store id: %w", err)
	}
	return id, nil
}

// Digest implements feed.Store: SHA-256 over every row of every table in
// primary-key order, each value tagged with its type, in one read
// transaction.
func (s *Store) Digest(ctx context.Context) (string, error) {
	tx, end, err := begin(ctx, s.r)
	if err != nil {
		return "", fmt.Errorf("digest: %w", err)
	}
	defer end()
	h := sha256.New()
	var buf [9]byte
	writeBytes := func(tag byte, b []byte) {
		buf[0] = tag
		binary.BigEndian.PutUint64(buf[1:], uint64(len(b)))
		h.Write(buf[:])
		h.Write(b)
	}
	for _, t := range digestTables {
		writeBytes('T', []byte(t.name))
		rows, err := tx.QueryContext(ctx, `SELECT * FROM `+t.name+` ORDER BY `+t.order)
		if err != nil {
			return "", fmt.Errorf("digest %s: %w", t.name, err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return "", fmt.Errorf("digest %s: %w", t.name, err)
			}
			h.Write([]byte{'R'})
			for _, v := range vals {
				switch v := v.(type) {
				case nil:
					h.Write([]byte{'N'})
				case int64:
					buf[0] = 'I'
					binary.BigEndian.PutUint64(buf[1:], uint64(v))
					h.Write(buf[:])
				case float64:
					buf[0] = 'F'
					binary.BigEndian.PutUint64(buf[1:], math.Float64bits(v))
					h.Write(buf[:])
				case string:
					writeBytes('S', []byte(v))
				case []byte:
					writeBytes('B', v)
				case bool:
					b := byte(0)
					if v {
						b = 1
					}
					h.Write([]byte{'b', b})
				case time.Time:
					writeBytes('t', []byte(v.UTC().Format(time.RFC3339Nano)))
				default:
					rows.Close()
					return "", fmt.Errorf("digest %s: unexpected %T", t.name, v)
				}
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return "", fmt.Errorf("digest %s: %w", t.name, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
