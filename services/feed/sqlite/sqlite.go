package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"
	"sort"
	"strconv"
	"strings"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"

	"github.com/dpihub/dpihub/services/feed"
)

//go:embed migration/*.sql
var migrations embed.FS

// Store is the SQLite projection of the feed. It is safe for concurrent
// use; writes are serialised on one connection.
type Store struct {
	w      *sql.DB // the single writer connection
	r      *sql.DB // read-only pool
	stmts  writeStmts
	tokens tokenCache // of the meta column
	bulk   *bulkFile  // set by Create
}

var _ feed.Store = (*Store)(nil)

// Open opens or creates the store at path, applies the migrations it has
// not seen yet, and returns it. A database of an older schema keeps every
// event; where a migration changes what events derive (0003_identity:
// objects by origin), Open derives those tables again from the stored
// events before it returns.
func Open(ctx context.Context, path string) (*Store, error) {
	return open(ctx, path, liveDurability)
}

// liveDurability: WAL with synchronous=NORMAL survives a crash of the
// process (the stream redelivers what a power loss might lose).
var liveDurability = []string{"journal_mode(WAL)", "synchronous(NORMAL)"}

func open(ctx context.Context, path string, durability []string) (*Store, error) {
	common := []string{
		"busy_timeout(10000)",
		"foreign_keys(0)",
		"temp_store(memory)",
	}
	dsn := func(extra []string, txlock string) string {
		q := url.Values{}
		for _, p := range append(common, extra...) {
			q.Add("_pragma", p)
		}
		if txlock != "" {
			q.Set("_txlock", txlock)
		}
		return "file:" + path + "?" + q.Encode()
	}
	wdsn := dsn(append([]string{
		"page_size(8192)", // for a new file: fewer, fuller pages for rows that carry payloads
		"cache_size(-65536)",
		"wal_autocheckpoint(10000)",
	}, durability...), "immediate")
	writer := func() (*sql.DB, error) {
		w, err := sql.Open("sqlite", wdsn)
		if err != nil {
			return nil, fmt.Errorf("open feed store %s: %w", path, err)
		}
		w.SetMaxOpenConns(1)
		w.SetMaxIdleConns(1)
		w.SetConnMaxLifetime(0)
		w.SetConnMaxIdleTime(0)
		return w, nil
	}
	// The migrations run on a connection of their own, closed before the
	// store's writer opens: after an ALTER TABLE ... RENAME (0003) the
	// connection that ran it fails its next checkpoint with SQLITE_LOCKED
	// ("database table is locked"), and Finish needs one.
	m, err := writer()
	if err != nil {
		return nil, err
	}
	err = (&Store{w: m}).migrate(ctx)
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("open feed store %s: %w", path, err)
	}
	w, err := writer()
	if err != nil {
		return nil, err
	}
	s := &Store{w: w}
	if err := s.prepare(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open feed store %s: %w", path, err)
	}
	if err := s.rederive(ctx); err != nil {
		s.stmts.close()
		w.Close()
		return nil, fmt.Errorf("open feed store %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn([]string{"query_only(1)", "cache_size(-32768)"}, ""))
	if err != nil {
		s.stmts.close()
		w.Close()
		return nil, fmt.Errorf("open feed store %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	s.r = r
	return s, nil
}

// Close closes the store's connections. Closing a store made by Create
// before Finish removes its partial file.
func (s *Store) Close() error {
	s.stmts.close()
	err := errors.Join(s.r.Close(), s.w.Close())
	if s.bulk != nil && !s.bulk.finished {
		err = errors.Join(err, removeFiles(s.bulk.partial))
	}
	return err
}

// migrate applies the files of migration/ whose number is above the
// recorded schema version, each in its own transaction.
func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version INTEGER PRIMARY KEY,
		name    TEXT NOT NULL
	)`); err != nil {
		return fmt.Errorf("schema_version: %w", err)
	}
	var have int
	if err := s.w.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&have); err != nil {
		return fmt.Errorf("schema_version: %w", err)
	}
	names, err := fs.Glob(migrations, "migration/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		base := strings.TrimPrefix(name, "migration/")
		num, _, _ := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if err != nil {
			return fmt.Errorf("migration %s: the name must start with a number", base)
		}
		if v <= have {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		if err := s.inTx(ctx, func(tx *sql.Tx) error {
			// Another process may have applied it since we looked; the
			// write lock of this transaction makes the second look final.
			var done bool
			if err := tx.QueryRowContext(ctx, `SELECT count(*) > 0 FROM schema_version WHERE version = ?`, v).Scan(&done); err != nil || done {
				return err
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version, name) VALUES (?, ?)`, v, base)
			return err
		}); err != nil {
			return fmt.Errorf("migration %s: %w", base, err)
		}
	}
	return nil
}

// SchemaVersion is the number of the last migration applied.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.r.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&v)
	return v, err
}

// inTx runs fn in a write transaction, committing if it returns nil and
// ctx has not ended.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, end, err := begin(ctx, s.w)
	if err != nil {
		return err
	}
	defer end()
	if err := fn(tx); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return tx.Commit()
}

// begin begins a transaction on db, after waiting for a connection as long
// as ctx lets it; end rolls it back unless it was committed, and gives the
// connection back.
//
// The transaction itself does not watch ctx (its statements do): for a
// cancelled transaction database/sql rolls back on a goroutine of its own,
// so the connection could still be busy after the caller returned, and a
// Close right after (a feed stopped, or cancelled while it starts) would
// leave the file open. Here the connection is back when end returns.
func begin(ctx context.Context, db *sql.DB) (tx *sql.Tx, end func(), err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	tx, err = conn.BeginTx(context.WithoutCancel(ctx), nil)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	return tx, func() {
		tx.Rollback() // ErrTxDone after a commit
		conn.Close()
	}, nil
}
