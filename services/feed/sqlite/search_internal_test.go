package sqlite

import (
	"context"
	"errors"
	"testing"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/services/feed"
)

// TestQueryErrorTellsABadExpressionFromABrokenStatement: a MATCH
// expression that FTS5 refuses is the caller's fault (feed.ErrBadQuery),
// found by SQLite's result code rather than its message; any other
// failure of a search is the feed's.
func TestQueryErrorTellsABadExpressionFromABrokenStatement(t *testing.T) {
	ctx := context.Background()
	st := openBench(t)
	run := func(sqlText string, args ...any) error {
		rows, err := st.r.QueryContext(ctx, sqlText, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
		}
		return rows.Err()
	}
	const search = `SELECT e.seq FROM events_fts f CROSS JOIN events e ON e.seq = f.rowid WHERE events_fts MATCH ? ORDER BY f.rowid DESC LIMIT 5`
	tests := []struct {
		name   string
		match  string
		err    error // of the search
		theirs bool  // the caller's fault
	}{
		{"an expression FTS5 cannot parse", `"unbalanced`, run(search, `"unbalanced`), true},
		{"a column the index does not have", `nosuchcolumn : x`, run(search, `nosuchcolumn : x`), true},
		{"a lone operator", `AND`, run(search, `AND`), true},
		{"a broken statement with a good expression", `"x"`, run(`SELECT nosuchcolumn FROM events_fts WHERE events_fts MATCH ?`, `"x"`), false},
		{"a failure that is not SQLite's", `"unbalanced`, context.Canceled, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err == nil {
				t.Fatal("the search did not fail; the test needs it to")
			}
			err := st.queryError(ctx, tc.match, tc.err)
			if got := errors.Is(err, feed.ErrBadQuery); got != tc.theirs {
				t.Fatalf("queryError(%q, %v) = %v: a bad query %v, want %v", tc.match, tc.err, err, got, tc.theirs)
			}
			if !tc.theirs && !errors.Is(err, tc.err) {
				t.Fatalf("queryError(%q, %v) = %v: does not wrap the failure", tc.match, tc.err, err)
			}
			if tc.theirs && events.Detail(err) == "" {
				t.Fatalf("queryError(%q) = %v: no detail for the user", tc.match, err)
			}
		})
	}
}
