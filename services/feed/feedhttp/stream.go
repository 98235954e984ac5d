package feedhttp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/problem"
	"github.com/dpihub/dpihub/services/feed"
)

// Broadcaster tells open streams that events were applied. The projector
// calls Publish after each successful Store.Apply, in stream order; it
// never blocks (a slow stream catches up from the store instead). The zero
// value is not usable; call NewBroadcaster. Safe for concurrent use.
type Broadcaster struct {
	mu   sync.Mutex
	subs map[*subscription]struct{}
}

type subscription struct {
	match  func(feed.Event) bool
	notify chan struct{} // capacity 1: "there is something new for you"
}

// NewBroadcaster returns a Broadcaster with no subscribers.
func NewBroadcaster() *Broadcaster {
	return &Broadcaster{subs: map[*subscription]struct{}{}}
}

// Publish announces an applied event to every subscriber whose filter may
// match it. It returns at once.
func (b *Broadcaster) Publish(e feed.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		if s.match != nil && !s.match(e) {
			continue
		}
		select {
		case s.notify <- struct{}{}:
		default: // already notified; the stream reads everything new at once
		}
	}
}

// Subscribers is how many streams are listening.
func (b *Broadcaster) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// subscribe returns a channel that receives a value after events that
// match were published, and a function that ends the subscription.
func (b *Broadcaster) subscribe(match func(feed.Event) bool) (<-chan struct{}, func()) {
	s := &subscription{match: match, notify: make(chan struct{}, 1)}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s.notify, func() {
		b.mu.Lock()
		delete(b.subs, s)
		b.mu.Unlock()
	}
}

// prefilter is the part of a query that can be checked on an event in
// memory; full-text q is left to the store.
func prefilter(q feed.Query) func(feed.Event) bool {
	return func(e feed.Event) bool {
		switch {
		case q.Country != "" && e.Country != q.Country,
			q.Project != "" && e.Project != q.Project,
			q.Type != "" && e.Type != q.Type,
			!q.Since.IsZero() && e.Time.Before(q.Since),
			!q.Until.IsZero() && e.Time.After(q.Until):
			return false
		}
		return true
	}
}

// maxCatchUp bounds how many stored events a stream sends when it
// resumes (newest ones win; the stream then says what it skipped).
var maxCatchUp = 5000

// after returns the stored events matching q with a sequence above seq,
// oldest first, at most maxCatchUp (the newest ones if there are more, and
// then truncated is true).
//
// The store pages newest first, so this pages until it reaches seq; the
// gap is small for a live stream and bounded for a resume.
func after(ctx context.Context, st feed.Store, q feed.Query, seq uint64) (evs []feed.Event, truncated bool, err error) {
	q.Cursor = ""
	// A live stream is usually a few events behind: ask for a small page
	// first and larger ones only while the gap lasts.
	q.Limit = 16
	var out []feed.Event
	for {
		p, err := st.Events(ctx, q)
		if err != nil {
			return nil, false, err
		}
		done := false
		for _, e := range p.Events {
			if e.Seq <= seq {
				done = true
				break
			}
			out = append(out, e)
		}
		if done || p.Next == "" {
			break
		}
		if len(out) >= maxCatchUp {
			truncated = true
			break
		}
		q.Cursor = p.Next
		q.Limit = min(2*q.Limit, events.MaxPageLimit)
	}
	if len(out) > maxCatchUp {
		out, truncated = out[:maxCatchUp], true
	}
	slices.Reverse(out)
	return out, truncated, nil
}

// streamEvent is what the stream sends as the data of each event: the
// feed.Event plus the UI link, so a page can render it without asking
// again.
type streamEvent struct {
	feed.Event
	ShortType   string `json:"short_type"`
	Kind        string `json:"kind"`
	CountryName string `json:"country_name"`
	Link        string `json:"link"`
}

// stream serves new events as server-sent events. Each event's id is its
// stream sequence; a client that reconnects with Last-Event-ID (or
// ?last_event_id=) first gets the stored events after that sequence, then
// live ones. Without it, the stream starts with the next new event.
func (s *server) stream(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r.URL.Query())
	if err != nil {
		problem.Error(w, r, s.log, err)
		return
	}
	q.Limit = events.MaxPageLimit
	ctx := r.Context()

	lastID := strings.TrimSpace(r.Header.Get("Last-Event-ID"))
	if lastID == "" {
		lastID = strings.TrimSpace(r.URL.Query().Get("last_event_id"))
	}
	var last uint64
	var notify <-chan struct{}
	if s.bc != nil {
		// Subscribe before reading the store: an event applied in
		// between is then both read and announced, never missed.
		var cancel func()
		notify, cancel = s.bc.subscribe(prefilter(q))
		defer cancel()
	}
	if lastID != "" {
		last, err = strconv.ParseUint(lastID, 10, 64)
		if err != nil {
			problem.Error(w, r, s.log, events.Errorf(events.ErrBadInput, "Last-Event-ID %q is not a stream sequence", lastID))
			return
		}
	} else if last, err = s.st.LastSeq(ctx); err != nil {
		problem.Error(w, r, s.log, err)
		return
	}
	// Validate the query (full-text syntax, cursor) before the 200.
	backlog, truncated, err := after(ctx, s.st, q, last)
	if err != nil {
		problem.Error(w, r, s.log, err)
		return
	}

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	s.metrics.streams.Inc()
	defer s.metrics.streams.Dec()
	// The retry hint and a first comment tell the client the stream is up.
	if _, err := fmt.Fprintf(w, "retry: 3000\n: dpihub feed stream, from seq %d\n\n", last); err != nil {
		return
	}
	send := func(evs []feed.Event) error {
		for _, e := range evs {
			if e.Seq <= last {
				continue
			}
			b, err := json.Marshal(streamEvent{
				Event: e, ShortType: events.ShortType(e.Type), Kind: kind(e.Type), CountryName: countryName(e.Country), Link: eventLink(e),
			})
			if err != nil {
				return err
			}
			if _, err := fmt.Fprintf(w, "id: %d\ndata: %s\n\n", e.Seq, b); err != nil {
				return err
			}
			last = e.Seq
		}
		return rc.Flush()
	}
	// Nothing is skipped silently: past maxCatchUp the client gets a gap
	// event naming the sequences it must fetch from the JSON API (which
	// pages through all of them).
	gap := func(evs []feed.Event, truncated bool) error {
		if !truncated || len(evs) == 0 {
			return nil
		}
		_, err := fmt.Fprintf(w, "event: gap\ndata: {\"after_seq\":%d,\"before_seq\":%d}\n\n", last, evs[0].Seq)
		return err
	}
	if err := gap(backlog, truncated); err != nil {
		return
	}
	if err := send(backlog); err != nil {
		return
	}
	tick := time.NewTicker(s.heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if _, err := fmt.Fprintf(w, ": heartbeat %s\n\n", s.now().UTC().Format(time.RFC3339)); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
		case <-notify:
			evs, truncated, err := after(ctx, s.st, q, last)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Sugar().Warnw("stream catch-up", "error", err)
				}
				return
			}
			if err := gap(evs, truncated); err != nil {
				return
			}
			if err := send(evs); err != nil {
				return
			}
		}
	}
}
