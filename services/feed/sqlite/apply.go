package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/services/feed"
)

// writeStmts are the statements of Apply, prepared once on the writer.
type writeStmts struct {
	insEvent, insFTS, upCountry, upProject          *sql.Stmt
	insFix, upAssessment, upAdoption                *sql.Stmt
	insProposal, upStatus, upReaction, insDuplicate *sql.Stmt
	upVote                                          *sql.Stmt
	all                                             []*sql.Stmt
}

func (s *Store) prepare(ctx context.Context) error {
	st := &s.stmts
	for _, p := range []struct {
		dst **sql.Stmt
		sql string
	}{
		{&st.insEvent, `INSERT OR IGNORE INTO events (seq, id, type, source, country, project, time, received, summary, data)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&st.insFTS, `INSERT INTO events_fts (rowid, summary, body, files, patchids, cves, meta) VALUES (?, ?, ?, ?, ?, ?, ?)`},
		// In an upsert's SET every column on the right is the old value.
		// ?1 country, ?2 events, ?3 its highest seq, ?4 that event's time,
		// ?5 its receive time, ?6 the highest seq of a heartbeat (or NULL),
		// ?7 that heartbeat's time.
		{&st.upCountry, `INSERT INTO countries (country, events, last_seq, last_event, last_received, last_heartbeat_seq, last_heartbeat)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
			ON CONFLICT (country) DO UPDATE SET
				events = events + ?2,
				last_seq = max(last_seq, ?3),
				last_event = CASE WHEN ?3 > last_seq THEN ?4 ELSE last_event END,
				last_received = CASE WHEN ?3 > last_seq THEN ?5 ELSE last_received END,
				last_heartbeat_seq = CASE WHEN ?6 > coalesce(last_heartbeat_seq, 0) THEN ?6 ELSE last_heartbeat_seq END,
				last_heartbeat = CASE WHEN ?6 > coalesce(last_heartbeat_seq, 0) THEN ?7 ELSE last_heartbeat END`},
		{&st.upProject, `INSERT INTO projects (project, events) VALUES (?1, ?2)
			ON CONFLICT (project) DO UPDATE SET events = events + ?2`},
		{&st.insFix, `INSERT INTO fixes (fix_id, event_id, seq, country, project, title, patch_id, files, cves, published)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
			ON CONFLICT (fix_id) DO UPDATE SET
				event_id = ?2, seq = ?3, country = ?4, project = ?5, title = ?6, patch_id = ?7, files = ?8, cves = ?9, published = ?10
			WHERE ?3 < fixes.seq`},
		{&st.upAssessment, `INSERT INTO assessments (fix_id, country, event_id, seq, verdict, present_as, how, conflicts, three_way_clean, assessed, first_assessed)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)
			ON CONFLICT (fix_id, country) DO UPDATE SET
				event_id = CASE WHEN ?4 > seq THEN ?3 ELSE event_id END,
				verdict = CASE WHEN ?4 > seq THEN ?5 ELSE verdict END,
				present_as = CASE WHEN ?4 > seq THEN ?6 ELSE present_as END,
				how = CASE WHEN ?4 > seq THEN ?7 ELSE how END,
				conflicts = CASE WHEN ?4 > seq THEN ?8 ELSE conflicts END,
				three_way_clean = CASE WHEN ?4 > seq THEN ?9 ELSE three_way_clean END,
				assessed = CASE WHEN ?4 > seq THEN ?10 ELSE assessed END,
				seq = max(seq, ?4),
				first_assessed = min(first_assessed, ?10)`},
		{&st.upAdoption, `INSERT INTO adoptions (fix_id, country, event_id, seq, commit_id, branch, adopted)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
			ON CONFLICT (fix_id, country) DO UPDATE SET
				event_id = ?3, seq = ?4, commit_id = ?5, branch = ?6, adopted = ?7
			WHERE (?7, ?4) < (adoptions.adopted, adoptions.seq)`},
		{&st.insProposal, `INSERT INTO proposals (proposal_id, event_id, seq, country, project, title, body, labels, submitted)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
			ON CONFLICT (proposal_id) DO UPDATE SET
				event_id = ?2, seq = ?3, country = ?4, project = ?5, title = ?6, body = ?7, labels = ?8, submitted = ?9
			WHERE ?3 < proposals.seq`},
		{&st.upStatus, `INSERT INTO proposal_status (proposal_id, seq, status, changed) VALUES (?1, ?2, ?3, ?4)
			ON CONFLICT (proposal_id) DO UPDATE SET seq = ?2, status = ?3, changed = ?4
			WHERE ?2 > proposal_status.seq`},
		// One vote per country: the highest seq counts, whichever kind.
		{&st.upVote, `INSERT INTO votes (proposal_id, country, seq, kind, text, time) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
			ON CONFLICT (proposal_id, country) DO UPDATE SET seq = ?3, kind = ?4, text = ?5, time = ?6
			WHERE ?3 > votes.seq`},
		{&st.upReaction, `INSERT INTO reactions (proposal_id, kind, country, key, seq, text, time) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
			ON CONFLICT (proposal_id, kind, country, key) DO UPDATE SET seq = ?5, text = ?6, time = ?7
			WHERE ?5 > reactions.seq`},
		{&st.insDuplicate, `INSERT OR IGNORE INTO duplicates (seq, event_id, kind, project, a, b, similarity, detail, time)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`},
	} {
		stmt, err := s.w.PrepareContext(ctx, p.sql)
		if err != nil {
			st.close()
			return fmt.Errorf("prepare %q: %w", firstLine(p.sql), err)
		}
		*p.dst = stmt
		st.all = append(st.all, stmt)
	}
	return nil
}

func (st *writeStmts) close() {
	for _, s := range st.all {
		s.Close()
	}
	st.all = nil
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }

// Apply implements feed.Store: it projects one verified event in one
// transaction. An event whose source and id are stored already is
// skipped.
func (s *Store) Apply(ctx context.Context, e event.Event, seq uint64, received time.Time) error {
	return s.ApplyBatch(ctx, []feed.Record{{Event: e, Seq: seq, Received: received}})
}

// ApplyBatch projects records in stream order in one transaction: all of
// them or, on error, none. Records whose event (source and id) is stored
// already (in the store or earlier in the batch) are skipped, so
// replaying a batch is a no-op. Rebuilds use it: one commit per batch
// instead of per event is what makes ingest fast (FTS5 writes its index
// at each commit).
func (s *Store) ApplyBatch(ctx context.Context, rs []feed.Record) error {
	if len(rs) == 0 {
		return nil
	}
	// Decoding and describing cost about as much as the inserts: workers
	// prepare the rows in chunks, in order, while the writer inserts the
	// chunks that are ready.
	const chunk = 64
	rows := make([]row, len(rs))
	nchunks := (len(rs) + chunk - 1) / chunk
	ready := make([]chan struct{}, nchunks)
	for c := range ready {
		ready[c] = make(chan struct{})
	}
	var next atomic.Int64
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	for range min(runtime.GOMAXPROCS(0), nchunks) {
		wg.Go(func() {
			for ctx.Err() == nil {
				c := int(next.Add(1) - 1)
				if c >= nchunks {
					return
				}
				for i := c * chunk; i < min((c+1)*chunk, len(rs)); i++ {
					rows[i] = project(rs[i], &s.tokens)
				}
				close(ready[c])
			}
		})
	}
	defer cancel() // runs before wg.Wait: stops the workers on an early return
	err := s.inTx(ctx, func(sqltx *sql.Tx) error {
		tx := &txStmts{tx: sqltx, m: map[*sql.Stmt]*sql.Stmt{}}
		sums := batchSums{countries: map[string]*countrySum{}, projects: map[string]int64{}}
		for c := range nchunks {
			select {
			case <-ready[c]:
			case <-ctx.Done():
				return ctx.Err()
			}
			for i := c * chunk; i < min((c+1)*chunk, len(rs)); i++ {
				if err := s.applyRow(ctx, tx, &rows[i], &sums); err != nil {
					return fmt.Errorf("event %s (seq %d): %w", rows[i].id, rows[i].seq, err)
				}
			}
		}
		return s.applySums(ctx, tx, &sums)
	})
	if err != nil {
		return fmt.Errorf("apply %d events: %w", len(rs), err)
	}
	return nil
}

// row is an event prepared for the tables: everything computed before the
// transaction starts.
type row struct {
	seq                      int64
	id, typ, source, country string
	project                  string
	time, received           int64
	summary                  string
	data                     []byte
	payload                  events.Payload // nil if the data does not decode
	// derive: the event may change the derived tables, as
	// events.Authorize says (see derive).
	derive bool
	// Searchable text, one string per FTS5 column.
	body, files, patchIDs, cves, meta string
}

func project(r feed.Record, tokens *tokenCache) row {
	e := r.Event
	country := ""
	if src, err := events.ParseSource(e.Source()); err == nil {
		country = src.Country
	} else if cc, ok := e.Extensions()[events.ExtCountry].(string); ok {
		country = cc
	}
	w := row{
		seq:      int64(r.Seq),
		id:       e.ID(),
		typ:      e.Type(),
		source:   e.Source(),
		country:  country,
		project:  e.Subject(),
		time:     nanos(e.Time()),
		received: nanos(r.Received),
		data:     e.Data(),
	}
	if w.data == nil {
		w.data = []byte{}
	}
	p, err := r.Payload, error(nil)
	if p == nil {
		p, err = decode(e)
	}
	if err == nil {
		w.payload = p
		w.summary = events.DescribePayload(p)
		w.derive = r.Admitted || events.Authorize(e) == nil
	}
	w.body, w.files, w.patchIDs, w.cves = searchText(&w)
	w.meta = tokens.token('c', w.country) + " " + tokens.token('t', w.typ)
	if w.project != "" {
		w.meta += " " + tokens.token('p', w.project)
	}
	return w
}

// nanos is t in Unix nanoseconds, 0 for the zero time.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// batchSums are the batch's new events per country and per project,
// written once per batch rather than once per event.
type batchSums struct {
	countries map[string]*countrySum
	projects  map[string]int64
}

type countrySum struct {
	events                  int64
	lastSeq, last, received int64
	hbSeq, hb               int64 // 0: no heartbeat in the batch
}

func (b *batchSums) add(w *row) {
	c := b.countries[w.country]
	if c == nil {
		c = &countrySum{}
		b.countries[w.country] = c
	}
	c.events++
	if w.seq > c.lastSeq {
		c.lastSeq, c.last, c.received = w.seq, w.time, w.received
	}
	if _, ok := w.payload.(*events.NodeHeartbeat); ok && w.derive && w.seq > c.hbSeq {
		c.hbSeq, c.hb = w.seq, w.time
	}
	if w.project != "" {
		b.projects[w.project]++
	}
}

// txStmts binds the prepared statements to one transaction, once each:
// Tx.StmtContext on every call would cost as much as a small insert.
type txStmts struct {
	tx *sql.Tx
	m  map[*sql.Stmt]*sql.Stmt
}

func (t *txStmts) get(ctx context.Context, s *sql.Stmt) *sql.Stmt {
	ts := t.m[s]
	if ts == nil {
		ts = t.tx.StmtContext(ctx, s)
		t.m[s] = ts
	}
	return ts
}

func (s *Store) applySums(ctx context.Context, tx *txStmts, b *batchSums) error {
	for _, cc := range slices.Sorted(maps.Keys(b.countries)) {
		c := b.countries[cc]
		var hbSeq, hb any
		if c.hbSeq > 0 {
			hbSeq, hb = c.hbSeq, c.hb
		}
		if _, err := tx.get(ctx, s.stmts.upCountry).ExecContext(ctx, cc, c.events, c.lastSeq, c.last, c.received, hbSeq, hb); err != nil {
			return fmt.Errorf("country %s: %w", cc, err)
		}
	}
	for _, p := range slices.Sorted(maps.Keys(b.projects)) {
		if _, err := tx.get(ctx, s.stmts.upProject).ExecContext(ctx, p, b.projects[p]); err != nil {
			return fmt.Errorf("project %s: %w", p, err)
		}
	}
	return nil
}

func (s *Store) applyRow(ctx context.Context, tx *txStmts, w *row, sums *batchSums) error {
	st := &s.stmts
	res, err := tx.get(ctx, st.insEvent).ExecContext(ctx,
		w.seq, w.id, w.typ, w.source, w.country, w.project, w.time, w.received, w.summary, w.data)
	if err != nil {
		return fmt.Errorf("insert event: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return nil // applied before: every derived row is there already
	}
	if _, err := tx.get(ctx, st.insFTS).ExecContext(ctx, w.seq, w.summary, w.body, w.files, w.patchIDs, w.cves, w.meta); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	sums.add(w)
	return s.derive(ctx, tx, w)
}

// derive writes what an event adds to the derived tables: fixes and their
// assessments and adoptions, proposals with their status, votes and
// comments, duplicates.
//
// Only an event that events.Authorize allows derives anything: the one
// rule table the bus applies too (the bus dead-letters the others, so a
// live feed never sees them). The store checks again because it cannot
// know where its events came from (a stream older than the rules, a store
// rebuilt from it, a bus bug), and because the rules are what make the
// derived rows right: an object belongs to the country whose namespace
// its id is in (ph's fix.published of ma-x makes no fix, whether it comes
// before Morocco's ma-x or after), a country assesses, adopts and votes on
// others' objects only, a status changes by its proposer (withdrawn) or
// the hub's governance service. Every rule looks at the event alone, so
// the derived rows stay a function of the set of events, whatever their
// order. Such an event is still stored and searchable: the list shows
// what was said and who said it; the fix, proposal and duplicate views
// show only what the sender was allowed to say.
func (s *Store) derive(ctx context.Context, tx *txStmts, w *row) error {
	if !w.derive {
		return nil
	}
	st := &s.stmts
	exec := func(what string, stmt *sql.Stmt, args ...any) error {
		if _, err := tx.get(ctx, stmt).ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	switch p := w.payload.(type) {
	case *events.FixPublished:
		return exec("fix", st.insFix, p.FixID, w.id, w.seq, w.country, w.project, p.Title, p.PatchID,
			jsonList(p.Files), jsonList(fixCVEs(p)), w.time)
	case *events.FixAssessed:
		var clean any
		if p.ThreeWayClean != nil {
			clean = *p.ThreeWayClean
		}
		conflicts := "[]"
		if len(p.Conflicts) > 0 {
			b, _ := json.Marshal(p.Conflicts)
			conflicts = string(b)
		}
		return exec("assessment", st.upAssessment, p.FixID, w.country, w.id, w.seq, p.Verdict, p.PresentAs, p.How,
			conflicts, clean, w.time)
	case *events.FixAdopted:
		return exec("adoption", st.upAdoption, p.FixID, w.country, w.id, w.seq, p.Commit, p.Branch, w.time)
	case *events.ProposalSubmitted:
		return exec("proposal", st.insProposal, p.ProposalID, w.id, w.seq, w.country, w.project, p.Title, p.Body,
			jsonList(p.Labels), w.time)
	case *events.ProposalEndorsed:
		return exec("endorsement", st.upVote, p.ProposalID, w.country, w.seq, kindEndorsement, p.Comment, w.time)
	case *events.ProposalObjected:
		return exec("objection", st.upVote, p.ProposalID, w.country, w.seq, kindObjection, p.Reason, w.time)
	case *events.ProposalCommented:
		return exec("comment", st.upReaction, p.ProposalID, kindComment, w.country, w.seq, w.seq, p.Comment, w.time)
	case *events.ProposalStatusChanged:
		return exec("status", st.upStatus, p.ProposalID, w.seq, events.ProposalStatus(p.To), w.time)
	case *events.ForkDuplicateDetected:
		detail := fmt.Sprintf("%d shared commits (by patch-id), exact Jaccard of the fork-only commits %.2f", p.SharedPatchIDs, p.Jaccard)
		if len(p.Files) > 0 {
			detail += "; both change " + strings.Join(p.Files, ", ")
		}
		if p.Suggestion != "" {
			detail += ". " + p.Suggestion
		}
		return exec("duplicate", st.insDuplicate, w.seq, w.id, "fork", w.project,
			forkRef(p.A), forkRef(p.B), p.Similarity, detail, w.time)
	case *events.FixDuplicateDetected:
		return exec("duplicate", st.insDuplicate, w.seq, w.id, "fix", w.project,
			p.A.Country+"/"+p.A.FixID, p.B.Country+"/"+p.B.FixID, p.Similarity,
			fmt.Sprintf("exact Jaccard of the changed lines %.2f", p.Jaccard), w.time)
	case *events.ProposalDuplicateDetected:
		return exec("duplicate", st.insDuplicate, w.seq, w.id, "proposal", w.project,
			p.A.Country+"/"+p.A.ProposalID, p.B.Country+"/"+p.B.ProposalID, p.Similarity, "", w.time)
	}
	return nil
}

// derivedTables are every table Apply writes besides events and the
// full-text index, what rederive makes again from the events: the tables
// Digest covers but events.
func derivedTables() []string {
	var out []string
	for _, t := range digestTables {
		if t.name != "events" {
			out = append(out, t.name)
		}
	}
	return out
}

// rederiveBatch is how many stored events rederive reads at a time.
const rederiveBatch = 2000

// rederive derives every table of derivedTables again from the events
// table, if a migration asked for it (store_info key 'rederive', set by a
// migration that changes what events derive, such as 0003_identity). It
// runs in one transaction that also removes the request, so a crash
// leaves the tables as they were and the request in place. The stored
// events and the full-text index are not touched: they depend on nothing
// but each event. It reads each event's data once and costs about what
// applying the derived rows costs, far less than a rebuild, which also
// verifies every signature and rewrites the index.
func (s *Store) rederive(ctx context.Context) error {
	var mark string
	err := s.w.QueryRowContext(ctx, `SELECT value FROM store_info WHERE key = 'rederive'`).Scan(&mark)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("rederive: %w", err)
	}
	err = s.inTx(ctx, func(sqltx *sql.Tx) error {
		for _, t := range derivedTables() {
			if _, err := sqltx.ExecContext(ctx, `DELETE FROM `+t); err != nil {
				return fmt.Errorf("clear %s: %w", t, err)
			}
		}
		tx := &txStmts{tx: sqltx, m: map[*sql.Stmt]*sql.Stmt{}}
		sums := batchSums{countries: map[string]*countrySum{}, projects: map[string]int64{}}
		rows := make([]row, 0, rederiveBatch)
		for after := int64(0); ; after = rows[len(rows)-1].seq {
			// A page at a time: no statement stays open on events while
			// the derived tables are written.
			var err error
			if rows, err = storedRows(ctx, sqltx, after, rows[:0]); err != nil {
				return err
			}
			if len(rows) == 0 {
				break
			}
			for i := range rows {
				w := &rows[i]
				sums.add(w)
				if err := s.derive(ctx, tx, w); err != nil {
					return fmt.Errorf("event %s of %s (seq %d): %w", w.id, w.source, w.seq, err)
				}
			}
		}
		if err := s.applySums(ctx, tx, &sums); err != nil {
			return err
		}
		_, err := sqltx.ExecContext(ctx, `DELETE FROM store_info WHERE key = 'rederive'`)
		return err
	})
	if err != nil {
		return fmt.Errorf("rederive after %s: %w", mark, err)
	}
	return nil
}

// storedRows appends to rows up to rederiveBatch stored events after seq
// after, in stream order, as derive needs them: the columns, the decoded
// payload, and whether events.Authorize allows the event.
func storedRows(ctx context.Context, tx *sql.Tx, after int64, rows []row) ([]row, error) {
	rs, err := tx.QueryContext(ctx, `SELECT seq, id, type, source, country, project, time, received, data
		FROM events WHERE seq > ? ORDER BY seq LIMIT ?`, after, rederiveBatch)
	if err != nil {
		return rows, fmt.Errorf("read events: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var w row
		if err := rs.Scan(&w.seq, &w.id, &w.typ, &w.source, &w.country, &w.project, &w.time, &w.received, &w.data); err != nil {
			return rows, fmt.Errorf("read events: %w", err)
		}
		// The event as it was applied, enough for decode and Authorize:
		// the attributes they read, and the data as it came.
		e := event.New()
		e.SetID(w.id)
		e.SetSource(w.source)
		e.SetType(w.typ)
		if w.project != "" {
			e.SetSubject(w.project)
		}
		e.SetTime(fromNanos(w.time))
		e.SetExtension(events.ExtCountry, w.country)
		if err := e.SetData(events.ContentType, w.data); err != nil {
			return rows, fmt.Errorf("event %s of %s: %w", w.id, w.source, err)
		}
		if p, err := decode(e); err == nil {
			w.payload = p
			w.derive = events.Authorize(e) == nil
		}
		rows = append(rows, w)
	}
	return rows, rs.Err()
}

// Kinds of reactions.
const (
	kindEndorsement = "endorsement"
	kindObjection   = "objection"
	kindComment     = "comment"
)

// forkRef names a fork as the duplicates table does: its country and, when
// known, its branch.
func forkRef(r events.ForkRef) string {
	if r.Branch == "" {
		return r.Country
	}
	return r.Country + "/" + r.Branch
}

func jsonList(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(l)
	return string(b)
}

var cveRE = regexp.MustCompile(`(?i)\bCVE-\d{4}-\d{4,}\b`)

// fixCVEs are the CVE ids a fix names: its CVE references, then any that
// its title or message mention, upper case, each once.
func fixCVEs(p *events.FixPublished) []string {
	var out []string
	seen := map[string]bool{}
	add := func(id string) {
		id = strings.ToUpper(id)
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	if p.References != nil {
		for _, c := range p.References.CVEs {
			add(c)
		}
	}
	for _, text := range []string{p.Title, p.Message} {
		if !strings.Contains(strings.ToUpper(text), "CVE-") {
			continue
		}
		for _, c := range cveRE.FindAllString(text, -1) {
			add(c)
		}
	}
	return out
}

// searchText is what search finds an event by, one string per FTS5
// column: the body (the payload's words, the project and country), the
// files it touches, the patch-ids and the CVE ids it names. Diffs and
// fingerprints are left out: they are large and nobody searches them by
// word.
func searchText(w *row) (body, files, patchIDs, cves string) {
	var b, f, pid, cv strings.Builder
	words := func(ss ...string) {
		for _, s := range ss {
			if s != "" {
				b.WriteString(s)
				b.WriteByte('\n')
			}
		}
	}
	paths := func(ss ...string) {
		for _, s := range ss {
			f.WriteString(s)
			f.WriteByte('\n')
		}
	}
	ids := func(ss ...string) {
		for _, s := range ss {
			pid.WriteString(strings.ToLower(s))
			pid.WriteByte(' ')
		}
	}
	words(w.project, w.country)
	switch p := w.payload.(type) {
	case *events.ForkRegistered:
		words(p.Upstream, p.Fork, p.Branch, p.Platform)
	case *events.ForkSnapshot:
		words(p.Branch, p.Head, p.MergeBase)
		ids(p.PatchIDs...)
		paths(p.Files...)
	case *events.ForkDuplicateDetected:
		words(p.A.Country, p.A.Branch, p.B.Country, p.B.Branch, p.Suggestion)
		paths(p.Files...)
	case *events.FixPublished:
		words(p.FixID, p.Title, p.Message, p.Author.Name, p.Author.Email, p.Commit)
		if p.References != nil {
			words(p.References.Fixes...)
		}
		ids(p.PatchID)
		paths(p.Files...)
		for _, c := range fixCVEs(p) {
			cv.WriteString(c)
			cv.WriteByte('\n')
		}
	case *events.FixAssessed:
		words(p.FixID, p.Verdict, p.PresentAs, p.How, p.Branch, p.Head)
		for _, c := range p.Conflicts {
			paths(c.File)
			words(c.Reason)
		}
		ids(p.PatchID)
	case *events.FixAdopted:
		words(p.FixID, p.Commit, p.Branch)
		ids(p.PatchID)
	case *events.FixDuplicateDetected:
		words(p.A.Country, p.A.FixID, p.B.Country, p.B.FixID)
	case *events.ProposalSubmitted:
		words(p.ProposalID, p.Title, p.Body)
		words(p.Labels...)
	case *events.ProposalEndorsed:
		words(p.ProposalID, p.Comment)
	case *events.ProposalObjected:
		words(p.ProposalID, p.Reason)
	case *events.ProposalCommented:
		words(p.ProposalID, p.Comment)
	case *events.ProposalStatusChanged:
		words(p.ProposalID, p.From, p.To, p.Reason)
	case *events.ProposalDuplicateDetected:
		words(p.A.Country, p.A.ProposalID, p.B.Country, p.B.ProposalID)
	case *events.NodeHeartbeat:
		words(p.Version)
		words(p.Services...)
	}
	return b.String(), f.String(), pid.String(), cv.String()
}

// decode is events.Decode for the JSON data every dpihub event carries,
// with json.Unmarshal rather than the SDK's stream decoder: half the cost.
func decode(e event.Event) (events.Payload, error) {
	spec, ok := events.Lookup(e.Type())
	if !ok || e.DataMediaType() != events.ContentType {
		return events.Decode(e)
	}
	p := spec.New()
	if err := json.Unmarshal(e.Data(), p); err != nil {
		return nil, err
	}
	return p, nil
}

// metaToken is the token of the meta column for a filter value: a letter
// for the kind (c country, p project, t type) and 16 hex digits of the
// value's SHA-256, one word to the tokenizer whatever the value holds.
// Searches match it only in column meta, and Events checks the value
// itself as well, so a collision could cost time, never a wrong result.
func metaToken(kind byte, value string) string {
	sum := sha256.Sum256([]byte(value))
	return string(kind) + hex.EncodeToString(sum[:8])
}

// tokenCache caches metaToken: countries, projects and types are few, and
// every event needs three. It stops growing at maxMetaTokens entries.
type tokenCache struct {
	m sync.Map
	n atomic.Int64
}

const maxMetaTokens = 10_000

func (c *tokenCache) token(kind byte, value string) string {
	key := string(kind) + value
	if t, ok := c.m.Load(key); ok {
		return t.(string)
	}
	t := metaToken(kind, value)
	if c.n.Add(1) <= maxMetaTokens {
		c.m.Store(key, t)
	}
	return t
}
