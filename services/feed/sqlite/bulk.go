package sqlite

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// PartialSuffix is appended to the path a store made by Create is written
// to until Finish: a file at the path itself is always complete.
const PartialSuffix = ".partial"

// bulkDurability: the rollback journal in memory (a transaction still
// commits all or nothing), no sync until Finish.
var bulkDurability = []string{"journal_mode(MEMORY)", "synchronous(OFF)"}

// bulkFile is what Create remembers to finish or discard its file.
type bulkFile struct {
	final, partial string
	finished       bool
}

// Create makes a new store for a bulk load, such as a rebuild, that
// nothing reads until it is done. It fails if path exists. The store is
// written at path+PartialSuffix (a stale one, left by a crash, is
// replaced) without the write-ahead log and without syncing after each
// transaction: a crash can only leave a partial file, which is never
// opened, so durability per transaction buys nothing here and costs a
// second write of every page. A transaction still commits all or nothing
// (the rollback journal is kept in memory).
//
// Finish makes the store durable and moves it to path; Close without
// Finish removes the partial file.
func Create(ctx context.Context, path string) (*Store, error) {
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("create feed store %s: the file exists", path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("create feed store %s: %w", path, err)
	}
	partial := path + PartialSuffix
	if err := removeFiles(partial); err != nil {
		return nil, fmt.Errorf("create feed store %s: %w", path, err)
	}
	s, err := open(ctx, partial, bulkDurability)
	if err != nil {
		removeFiles(partial)
		return nil, err
	}
	s.bulk = &bulkFile{final: path, partial: partial}
	return s, nil
}

// Finish ends the bulk load of a store made by Create: it switches the
// file to the write-ahead log that Open uses, syncs it to disk, closes the
// store and moves the file to its path, which must still not exist. After
// Finish the store is closed; on an error the partial file is removed.
func (s *Store) Finish(ctx context.Context) error {
	if s.bulk == nil {
		return errors.New("feed store: Finish is for a store made by Create")
	}
	b := s.bulk
	err := s.finish(ctx)
	if err == nil {
		b.finished = true
	}
	if cerr := s.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("finish feed store %s: %w", b.final, err)
	}
	if err := place(b.partial, b.final); err != nil {
		// The finished store stays where it is: nothing built is lost.
		return fmt.Errorf("finish feed store: %w; the finished store is %s", err, b.partial)
	}
	return syncDir(filepath.Dir(b.final))
}

func (s *Store) finish(ctx context.Context) error {
	// No reader may hold a lock while the journal mode changes, and none
	// is needed any more: close them (Close closes them again, harmlessly).
	if err := s.r.Close(); err != nil {
		return err
	}
	// Switching the journal mode rewrites the header; with synchronous
	// FULL the checkpoint that empties the log syncs the file.
	if _, err := s.w.ExecContext(ctx, `PRAGMA synchronous = FULL`); err != nil {
		return fmt.Errorf("synchronous: %w", err)
	}
	var mode string
	if err := s.w.QueryRowContext(ctx, `PRAGMA journal_mode = WAL`).Scan(&mode); err != nil || mode != "wal" {
		return fmt.Errorf("journal_mode: %q, %v", mode, err)
	}
	if _, err := s.w.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	f, err := os.Open(s.bulk.partial)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// place moves the file at from to to, which must not exist. Link refuses
// an existing target where Rename would replace it; where the file system
// has no hard links, Rename after a last look.
func place(from, to string) error {
	err := os.Link(from, to)
	switch {
	case err == nil:
		return os.Remove(from)
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("%s exists", to)
	}
	if _, err := os.Lstat(to); err == nil {
		return fmt.Errorf("%s exists", to)
	}
	return os.Rename(from, to)
}

// removeFiles removes a database file and its -wal, -shm and -journal
// files, if they exist.
func removeFiles(path string) error {
	var errs []error
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
