package feedhttp_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dpihub/dpihub/services/feed"
	"github.com/dpihub/dpihub/services/feed/feedhttp"
	"github.com/dpihub/dpihub/services/feed/feedhttp/feedtest"
	"github.com/dpihub/dpihub/services/feed/sqlite"
)

// storyBase is when the story of the handler tests starts.
var storyBase = time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)

// openStore opens a real SQLite store in the test's temp dir.
func openStore(t testing.TB) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "feed.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// story returns the demo story starting at base.
func story(t testing.TB, base time.Time) []feedtest.Step {
	t.Helper()
	steps, err := feedtest.Story(base)
	if err != nil {
		t.Fatal(err)
	}
	return steps
}

// apply applies steps to st with stream sequences from first on.
func apply(t testing.TB, st feed.Store, first uint64, steps []feedtest.Step) {
	t.Helper()
	for i, s := range steps {
		if err := st.Apply(context.Background(), s.Event, first+uint64(i), s.Received); err != nil {
			t.Fatalf("apply step %d (%s): %v", i, s.Event.Type(), err)
		}
	}
}

// fixture is a feed server over a store that holds the whole story.
type fixture struct {
	st    *sqlite.Store
	srv   *httptest.Server
	steps []feedtest.Step
}

func newFixture(t testing.TB, opts ...feedhttp.Option) *fixture {
	t.Helper()
	st := openStore(t)
	steps := story(t, storyBase)
	apply(t, st, 1, steps)
	srv := httptest.NewServer(feedhttp.New(st, opts...))
	t.Cleanup(func() {
		srv.CloseClientConnections() // streams never end by themselves
		srv.Close()
	})
	return &fixture{st: st, srv: srv, steps: steps}
}

// get fetches path and returns the response with its body read.
func (f *fixture) get(t testing.TB, path string) (*http.Response, []byte) {
	t.Helper()
	res, err := http.Get(f.srv.URL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("GET %s: read: %v", path, err)
	}
	return res, b
}

// getJSON fetches path, wants 200 application/json, and decodes into v.
func (f *fixture) getJSON(t testing.TB, path string, v any) {
	t.Helper()
	res, b := f.get(t, path)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", path, res.Status, b)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("GET %s: Content-Type %q", path, ct)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v\n%s", path, err, b)
	}
}

// page is feed.Page as a client reads it.
type page struct {
	Events []feed.Event `json:"events"`
	Next   string       `json:"next"`
}

// sse is one server-sent event.
type sse struct {
	ID    string
	Event string // "" for a plain event, "reset" when the id was beyond the store
	Data  string
}

// readSSE parses the stream body into events on a channel, and comments
// on another; both close when the body ends.
func readSSE(body io.Reader) (<-chan sse, <-chan string) {
	evs := make(chan sse, 100)
	comments := make(chan string, 100)
	go func() {
		defer close(evs)
		defer close(comments)
		sc := bufio.NewScanner(body)
		sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
		var cur sse
		var data []string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if data != nil {
					cur.Data = strings.Join(data, "\n")
					evs <- cur
				}
				cur, data = sse{}, nil
			case strings.HasPrefix(line, ":"):
				select {
				case comments <- strings.TrimSpace(line[1:]):
				default:
				}
			case strings.HasPrefix(line, "id:"):
				cur.ID = strings.TrimSpace(line[3:])
			case strings.HasPrefix(line, "event:"):
				cur.Event = strings.TrimSpace(line[6:])
			case strings.HasPrefix(line, "data:"):
				data = append(data, strings.TrimPrefix(line[5:], " "))
			}
		}
	}()
	return evs, comments
}

// next waits for the next event, failing the test after d.
func next(t testing.TB, evs <-chan sse, d time.Duration) sse {
	t.Helper()
	select {
	case e, ok := <-evs:
		if !ok {
			t.Fatal("stream ended")
		}
		return e
	case <-time.After(d):
		t.Fatalf("no event within %v", d)
	}
	return sse{}
}

// newServer serves h on a real loopback port until the test ends.
func newServer(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.CloseClientConnections() // streams never end by themselves
		srv.Close()
	})
	return srv.URL
}
