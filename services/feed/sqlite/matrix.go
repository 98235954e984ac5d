package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/services/feed"
)

// The campaign-scale views (feed.MatrixStore). Each answers from the
// derived tables with a statement whose cost follows the page, not the
// store: a matrix page reads its fixes by seq (fixes_seq or
// fixes_project) and each fix's assessments by primary key.

// matrixWhere is the WHERE clause (without the cursor) and its arguments
// for f, over table fixes.
func matrixWhere(f feed.FixFilter) (string, []any) {
	var (
		where []string
		args  []any
	)
	if f.Project != "" {
		where, args = append(where, "project = ?"), append(args, f.Project)
	}
	if f.Country != "" {
		where, args = append(where, "country = ?"), append(args, f.Country)
	}
	if !f.PublishedBefore.IsZero() {
		where, args = append(where, "published < ?"), append(args, nanos(f.PublishedBefore))
	}
	switch f.CVE {
	case "":
	case feed.CVEAny:
		where = append(where, "cves <> '[]'")
	default:
		// cves is a JSON array of ids; a quoted id is one whole element.
		where, args = append(where, "instr(cves, ?) > 0"), append(args, `"`+f.CVE+`"`)
	}
	switch f.Verdict {
	case "":
	case events.VerdictPending:
		// Some column has no verdict: fewer countries other than the
		// origin said anything than there are columns other than its.
		// Counted by primary-key ranges (an origin never assesses its
		// own fix: Authorize), without a UNION per fix; the count of
		// columns is not correlated, so SQLite computes it once.
		where, args = append(where, `(SELECT count(*) FROM assessments a WHERE a.fix_id = fixes.fix_id)
			+ (SELECT count(*) FROM adoptions d WHERE d.fix_id = fixes.fix_id AND d.country <> fixes.country
				AND NOT EXISTS (SELECT 1 FROM assessments a WHERE a.fix_id = d.fix_id AND a.country = d.country))
			< (SELECT count(*) FROM countries WHERE country <> ?) - 1`), append(args, events.HubCountry)
	case events.VerdictPresent:
		where = append(where, `(EXISTS (SELECT 1 FROM assessments a WHERE a.fix_id = fixes.fix_id AND a.verdict = 'present')
			OR EXISTS (SELECT 1 FROM adoptions d WHERE d.fix_id = fixes.fix_id
				AND NOT EXISTS (SELECT 1 FROM assessments a WHERE a.fix_id = d.fix_id AND a.country = d.country)))`)
	default:
		where, args = append(where, "EXISTS (SELECT 1 FROM assessments a WHERE a.fix_id = fixes.fix_id AND a.verdict = ?)"), append(args, f.Verdict)
	}
	if len(where) == 0 {
		return "", nil
	}
	return "WHERE " + strings.Join(where, " AND "), args
}

// FixMatrix implements feed.MatrixStore. The total is a count under the
// same filter: a scan of the fixes table (one row per fix, with a
// lookup per fix for a verdict filter), cheap next to reading the page's
// assessments.
func (s *Store) FixMatrix(ctx context.Context, f feed.FixFilter) (feed.FixPage, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = events.DefaultPageLimit
	}
	limit = min(limit, events.MaxPageLimit)
	where, args := matrixWhere(f)
	page := feed.FixPage{}
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM fixes `+where, args...).Scan(&page.Total); err != nil {
		return feed.FixPage{}, fmt.Errorf("fix matrix: count: %w", err)
	}
	if f.Cursor != "" {
		seq, err := decodeCursor(f.Cursor)
		if err != nil {
			return feed.FixPage{}, err
		}
		if where == "" {
			where = "WHERE seq < ?"
		} else {
			where += " AND seq < ?"
		}
		args = append(args, seq)
	}
	fixes, err := s.fixes(ctx, where+` ORDER BY seq DESC LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return feed.FixPage{}, fmt.Errorf("fix matrix: %w", err)
	}
	if len(fixes) > limit {
		fixes = fixes[:limit]
		page.Next = EncodeCursor(fixes[limit-1].Seq)
	}
	page.Fixes = fixes
	return page, nil
}

// FixesLacking implements feed.MatrixStore. The candidates are the fixes
// not made by country, without its adoption, whose verdict there is
// applies, conflicts or none; each one's carriers are counted by primary
// key (at most one row per country), so the statement reads each fix
// once and each of its rows a few times. The ranking needs every
// candidate, so the sort is SQLite's, over the candidates only.
func (s *Store) FixesLacking(ctx context.Context, country, project string, limit int) ([]feed.LackingFix, int, error) {
	if limit <= 0 {
		limit = events.DefaultPageLimit
	}
	limit = min(limit, events.MaxPageLimit)
	// ?1 country, ?2..?4 states, ?5 limit, ?6 project.
	filter, args := "", []any{country, events.VerdictPending, events.VerdictApplies, events.VerdictConflicts, limit}
	if project != "" {
		filter, args = "AND f.project = ?6", append(args, project)
	}
	rows, err := s.r.QueryContext(ctx, `
		SELECT f.fix_id, f.country, f.project, f.title, f.cves, f.published, coalesce(a.verdict, ?2),
			1 + (SELECT count(*) FROM assessments x WHERE x.fix_id = f.fix_id AND x.verdict = 'present')
			  + (SELECT count(*) FROM adoptions y WHERE y.fix_id = f.fix_id
				AND NOT EXISTS (SELECT 1 FROM assessments x WHERE x.fix_id = y.fix_id AND x.country = y.country AND x.verdict = 'present')) AS carriers,
			count(*) OVER () AS total
		FROM fixes f LEFT JOIN assessments a ON a.fix_id = f.fix_id AND a.country = ?1
		WHERE f.country <> ?1
			AND NOT EXISTS (SELECT 1 FROM adoptions d WHERE d.fix_id = f.fix_id AND d.country = ?1)
			AND (a.verdict IS NULL OR a.verdict IN (?3, ?4))
			`+filter+`
		ORDER BY carriers DESC, f.cves <> '[]' DESC, f.published, f.fix_id
		LIMIT ?5`, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("fixes %s lacks: %w", country, err)
	}
	defer rows.Close()
	out := []feed.LackingFix{}
	total := 0
	for rows.Next() {
		var (
			l         feed.LackingFix
			cves      string
			published int64
		)
		if err := rows.Scan(&l.ID, &l.Country, &l.Project, &l.Title, &cves, &published, &l.State, &l.Carriers, &total); err != nil {
			return nil, 0, fmt.Errorf("fixes %s lacks: %w", country, err)
		}
		if cves != "[]" {
			if err := json.Unmarshal([]byte(cves), &l.CVEs); err != nil {
				return nil, 0, fmt.Errorf("fix %s cves: %w", l.ID, err)
			}
		}
		l.Published = fromNanos(published)
		out = append(out, l)
	}
	return out, total, rows.Err()
}

// FixContent implements feed.MatrixStore: the fix's publication, read
// from the event that made it (fixes.seq is its row in events), and the
// other fixes with its patch-id.
func (s *Store) FixContent(ctx context.Context, id string) (feed.FixContent, error) {
	tx, end, err := begin(ctx, s.r)
	if err != nil {
		return feed.FixContent{}, fmt.Errorf("fix %s content: %w", id, err)
	}
	defer end()
	var (
		data    []byte
		patchID string
	)
	err = tx.QueryRowContext(ctx, `SELECT e.data, f.patch_id FROM fixes f JOIN events e ON e.seq = f.seq WHERE f.fix_id = ?`, id).Scan(&data, &patchID)
	if errors.Is(err, sql.ErrNoRows) {
		return feed.FixContent{}, fmt.Errorf("fix %s: %w", id, feed.ErrNotFound)
	}
	if err != nil {
		return feed.FixContent{}, fmt.Errorf("fix %s content: %w", id, err)
	}
	var p events.FixPublished
	if err := json.Unmarshal(data, &p); err != nil {
		return feed.FixContent{}, fmt.Errorf("fix %s content: %w", id, err)
	}
	c := feed.FixContent{Message: p.Message, Author: p.Author, Commit: p.Commit, UpstreamBase: p.UpstreamBase,
		Diff: p.Diff, DiffRef: p.DiffRef, References: p.References}
	// No index on patch_id: one pass over the fixes table, a row per fix.
	rows, err := tx.QueryContext(ctx, `SELECT fix_id, country, project, published FROM fixes
		WHERE patch_id = ? AND fix_id <> ? ORDER BY seq`, patchID, id)
	if err != nil {
		return feed.FixContent{}, fmt.Errorf("fix %s same patch: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			sp feed.SamePatch
			t  int64
		)
		if err := rows.Scan(&sp.ID, &sp.Country, &sp.Project, &t); err != nil {
			return feed.FixContent{}, fmt.Errorf("fix %s same patch: %w", id, err)
		}
		sp.Published = fromNanos(t)
		c.SamePatch = append(c.SamePatch, sp)
	}
	return c, rows.Err()
}

// PropagationSamples implements feed.MatrixStore: for each fix and each
// other country that has it, when it had it: its adoption, or, without
// one, its first assessment if that found the fix present.
//
// Two range scans, with the fixes as the outer loop (CROSS JOIN keeps
// them there): each fix is read once, and its adoptions, then its
// assessments, by primary-key range. Which present assessments an
// adoption overrides is worked out here, in a map, rather than by a
// lookup per assessment row, which cost twice as much at 50,000 rows.
func (s *Store) PropagationSamples(ctx context.Context, project string) ([]feed.PropagationSample, error) {
	tx, end, err := begin(ctx, s.r)
	if err != nil {
		return nil, fmt.Errorf("propagation: %w", err)
	}
	defer end()
	filter, args := "", []any{}
	if project != "" {
		filter, args = "AND f.project = ?", append(args, project)
	}
	type key struct{ fix, country string }
	adopted := map[key]bool{}
	var out []feed.PropagationSample
	read := func(query string, adoptions bool) error {
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				k        key
				p        feed.PropagationSample
				pub, has int64
			)
			if err := rows.Scan(&k.fix, &k.country, &p.Project, &pub, &has); err != nil {
				return err
			}
			if adoptions {
				adopted[k] = true
			} else if adopted[k] {
				continue
			}
			p.Country, p.Published, p.Has = k.country, fromNanos(pub), fromNanos(has)
			out = append(out, p)
		}
		return rows.Err()
	}
	if err := read(`SELECT d.fix_id, d.country, f.project, f.published, d.adopted
		FROM fixes f CROSS JOIN adoptions d ON d.fix_id = f.fix_id
		WHERE d.country <> f.country `+filter, true); err != nil {
		return nil, fmt.Errorf("propagation: adoptions: %w", err)
	}
	if err := read(`SELECT a.fix_id, a.country, f.project, f.published, a.first_assessed
		FROM fixes f CROSS JOIN assessments a ON a.fix_id = f.fix_id
		WHERE a.verdict = 'present' AND a.country <> f.country `+filter, false); err != nil {
		return nil, fmt.Errorf("propagation: assessments: %w", err)
	}
	return out, nil
}

// LongestOpen implements feed.MatrixStore, walking the fixes oldest
// first (fixes_seq) and stopping after limit with a pending column.
func (s *Store) LongestOpen(ctx context.Context, project string, limit int) ([]feed.OpenFix, error) {
	where, args := matrixWhere(feed.FixFilter{Project: project})
	pending := `(SELECT count(*) FROM countries WHERE country <> ?) - 1
			- (SELECT count(*) FROM assessments a WHERE a.fix_id = fixes.fix_id)
			- (SELECT count(*) FROM adoptions d WHERE d.fix_id = fixes.fix_id AND d.country <> fixes.country
				AND NOT EXISTS (SELECT 1 FROM assessments a WHERE a.fix_id = d.fix_id AND a.country = d.country))`
	if where == "" {
		where = "WHERE "
	} else {
		where += " AND "
	}
	rows, err := s.r.QueryContext(ctx, `SELECT fix_id, country, project, title, published, `+pending+` AS n
		FROM fixes `+where+pending+` > 0 ORDER BY seq LIMIT ?`,
		slices.Concat([]any{events.HubCountry}, args, []any{events.HubCountry, limit})...)
	if err != nil {
		return nil, fmt.Errorf("longest open: %w", err)
	}
	defer rows.Close()
	out := []feed.OpenFix{}
	for rows.Next() {
		var (
			o   feed.OpenFix
			pub int64
		)
		if err := rows.Scan(&o.ID, &o.Country, &o.Project, &o.Title, &pub, &o.Pending); err != nil {
			return nil, fmt.Errorf("longest open: %w", err)
		}
		o.Published = fromNanos(pub)
		out = append(out, o)
	}
	return out, rows.Err()
}

// NodeStates implements feed.MatrixStore. The latest heartbeat is the
// event at countries.last_heartbeat_seq (a primary-key read each); the
// backlog is the fixes made elsewhere less those the country assessed
// or, without assessing, adopted: three GROUP BY passes, over fixes,
// assessments and adoptions.
func (s *Store) NodeStates(ctx context.Context) (map[string]feed.NodeState, error) {
	tx, end, err := begin(ctx, s.r)
	if err != nil {
		return nil, fmt.Errorf("node states: %w", err)
	}
	defer end()
	out := map[string]feed.NodeState{}
	counts := func(query string, f func(cc string, n int)) error {
		rows, err := tx.QueryContext(ctx, query)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				cc string
				n  int
			)
			if err := rows.Scan(&cc, &n); err != nil {
				return err
			}
			f(cc, n)
		}
		return rows.Err()
	}
	var total int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM fixes`).Scan(&total); err != nil {
		return nil, fmt.Errorf("node states: %w", err)
	}
	own, done := map[string]int{}, map[string]int{}
	err = errors.Join(
		counts(`SELECT country, count(*) FROM fixes GROUP BY country`, func(cc string, n int) { own[cc] = n }),
		counts(`SELECT a.country, count(*) FROM assessments a JOIN fixes f ON f.fix_id = a.fix_id AND f.country <> a.country GROUP BY a.country`,
			func(cc string, n int) { done[cc] += n }),
		counts(`SELECT d.country, count(*) FROM adoptions d JOIN fixes f ON f.fix_id = d.fix_id AND f.country <> d.country
			WHERE NOT EXISTS (SELECT 1 FROM assessments a WHERE a.fix_id = d.fix_id AND a.country = d.country) GROUP BY d.country`,
			func(cc string, n int) { done[cc] += n }),
	)
	if err != nil {
		return nil, fmt.Errorf("node states: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT c.country, e.data FROM countries c LEFT JOIN events e ON e.seq = c.last_heartbeat_seq WHERE c.country <> ?`, events.HubCountry)
	if err != nil {
		return nil, fmt.Errorf("node states: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			cc   string
			data []byte
		)
		if err := rows.Scan(&cc, &data); err != nil {
			return nil, fmt.Errorf("node states: %w", err)
		}
		st := feed.NodeState{Backlog: max(0, total-own[cc]-done[cc])}
		if data != nil {
			var hb events.NodeHeartbeat
			if err := json.Unmarshal(data, &hb); err == nil {
				st.Heartbeat = &hb
			}
		}
		out[cc] = st
	}
	return out, rows.Err()
}
