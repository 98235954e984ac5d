package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/services/feed"
	"github.com/dpihub/dpihub/services/feed/sqlite"
)

// A store is fed verified events with their stream sequence and stored
// time, and answers searches newest first.
func ExampleStore_Events() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "feed")
	defer os.RemoveAll(dir)
	st, err := sqlite.Open(ctx, filepath.Join(dir, "feed.db"))
	if err != nil {
		panic(err)
	}
	defer st.Close()

	fix, _ := events.Sample(events.TypeFixPublished)
	at := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	e, _ := events.New(events.Source{Country: "ma", Service: "node"}, "mosip-id-repository", fix,
		events.WithTime(at), events.WithID("ev-1"))
	// The projector passes JetStream's sequence and stored time.
	if err := st.Apply(ctx, e, 1, at.Add(time.Second)); err != nil {
		panic(err)
	}

	for _, q := range []string{"file:IdRepoServiceImpl.java", "patchid:d2510", `"missing documents"`, "nothing", `"unbalanced`} {
		page, err := st.Events(ctx, feed.Query{Q: q})
		if err != nil {
			fmt.Printf("%-30s bad query: %v\n", q, errors.Is(err, feed.ErrBadQuery))
			continue
		}
		fmt.Printf("%-30s %d\n", q, len(page.Events))
	}
	// Output:
	// file:IdRepoServiceImpl.java    1
	// patchid:d2510                  1
	// "missing documents"            1
	// nothing                        0
	// "unbalanced                    bad query: true
}
