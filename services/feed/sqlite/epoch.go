package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"

	"github.com/dpihub/dpihub/services/feed"
)

// The epoch is kept in store_info, beside the store's id: a fact about
// where the file's sequences come from, not about events, so not part of
// Digest (a rebuild from the new stream has other sequences and the same
// events).

// Epoch returns the stream incarnation the store reads from, and false
// when none was recorded (a new file, a rebuilt one, or one older than
// the record).
func (s *Store) Epoch(ctx context.Context) (feed.Epoch, bool, error) {
	var created, base sql.NullString
	err := s.r.QueryRowContext(ctx, `SELECT
		(SELECT value FROM store_info WHERE key = 'stream_created'),
		(SELECT value FROM store_info WHERE key = 'seq_base')`).Scan(&created, &base)
	if err != nil {
		return feed.Epoch{}, false, fmt.Errorf("stream epoch: %w", err)
	}
	if !created.Valid || !base.Valid {
		return feed.Epoch{}, false, nil
	}
	t, err := time.Parse(time.RFC3339Nano, created.String)
	if err != nil {
		return feed.Epoch{}, false, fmt.Errorf("stream epoch: created %q: %w", created.String, err)
	}
	b, err := strconv.ParseUint(base.String, 10, 64)
	if err != nil {
		return feed.Epoch{}, false, fmt.Errorf("stream epoch: base %q: %w", base.String, err)
	}
	return feed.Epoch{Created: t, Base: b}, true, nil
}

// SetEpoch records the stream incarnation the store reads from now on.
func (s *Store) SetEpoch(ctx context.Context, ep feed.Epoch) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for k, v := range map[string]string{
			"stream_created": ep.Created.UTC().Format(time.RFC3339Nano),
			"seq_base":       strconv.FormatUint(ep.Base, 10),
		} {
			if _, err := tx.ExecContext(ctx, `INSERT INTO store_info (key, value) VALUES (?, ?)
				ON CONFLICT (key) DO UPDATE SET value = excluded.value`, k, v); err != nil {
				return fmt.Errorf("record stream epoch: %w", err)
			}
		}
		return nil
	})
}
