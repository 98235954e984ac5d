package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/services/feed/feedbus"
	"github.com/dpihub/dpihub/services/feed/sqlite"
)

func feedCmd(ctx context.Context, env Env, args []string) error {
	if len(args) == 0 || args[0] != "rebuild" {
		fmt.Fprintln(env.Stderr, "usage: dpihub feed rebuild --server URL --creds ADMIN.creds --trust FILE --db FILE")
		return errUsage
	}
	fs := flags(env, "feed rebuild")
	hub := addHubFlags(fs)
	trustPath := fs.String("trust", "", "trust list: events are verified exactly as the live feed does")
	db := fs.String("db", "", "SQLite file to build; it must not exist (built as FILE.partial, moved to FILE when complete; then stop the feed and swap it in)")
	if err := parse(fs, env, args[1:]); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *trustPath == "" || *db == "" {
		return errors.New("--trust and --db are required")
	}
	if _, err := os.Stat(*db); err == nil {
		return fmt.Errorf("%s exists: rebuild into a new file, then stop the feed and swap the files", *db)
	}
	v, err := sign.LoadVerifier(*trustPath)
	if err != nil {
		return err
	}
	// Reading the whole stream takes a consumer of a name of its own: the
	// admin's credentials.
	nc, js, _, err := hub.connect("dpihub feed rebuild")
	if err != nil {
		return err
	}
	defer nc.Close()
	// The store is built at <db>.partial and moved to db when complete:
	// an interrupted rebuild never leaves a file that looks finished.
	st, err := sqlite.Create(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close() // removes the partial file unless Finish ran
	start := time.Now()
	var refused int
	bar := newProgress(env)
	err = feedbus.Rebuild(ctx, js, st, v, bar.update, feedbus.OnRefused(func(uint64, error) { refused++ }))
	bar.done()
	if err != nil {
		return err
	}
	digest, err := st.Digest(ctx)
	if err != nil {
		return err
	}
	last, _ := st.LastSeq(ctx)
	if err := st.Finish(ctx); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "rebuilt %s up to stream seq %d in %s (%d refused, as the live feed refused them)\ndigest %s\n",
		*db, last, time.Since(start).Round(time.Millisecond), refused, digest)
	return nil
}

// progress draws a progress bar on stderr.
type progress struct {
	env  Env
	last time.Time
	drew bool
}

func newProgress(env Env) *progress { return &progress{env: env} }

func (p *progress) update(done, total uint64) {
	if time.Since(p.last) < 100*time.Millisecond && done != total {
		return
	}
	p.last = time.Now()
	const width = 40
	frac := 1.0
	if total > 0 {
		frac = float64(done) / float64(total)
	}
	n := int(frac * width)
	fmt.Fprintf(p.env.Stderr, "\r[%s%s] %5.1f%% %d/%d", strings.Repeat("#", n), strings.Repeat(" ", width-n), 100*frac, done, total)
	p.drew = true
}

func (p *progress) done() {
	if p.drew {
		fmt.Fprintln(p.env.Stderr)
	}
}
