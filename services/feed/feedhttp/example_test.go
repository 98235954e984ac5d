package feedhttp_test

import (
	"context"
	"log"
	"net/http"
	"os"
	"path/filepath"

	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/services/feed/feedbus"
	"github.com/dpihub/dpihub/services/feed/feedhttp"
	"github.com/dpihub/dpihub/services/feed/sqlite"
)

// The projector applies events through the broadcaster's wrapper, so
// that open streams and pages hear of each event as soon as it is stored;
// the handler serves the same store. (package service does this.)
func ExampleBroadcaster_Wrap() {
	ctx := context.Background()
	var b *bus.Bus       // from bus.Open
	var v *sign.Verifier // from sign.NewVerifier
	st, err := sqlite.Open(ctx, filepath.Join(os.TempDir(), "feed.db"))
	if err != nil {
		log.Fatal(err)
	}
	bc := feedhttp.NewBroadcaster()
	if _, err := feedbus.Project(ctx, b, bc.Wrap(st), feedbus.Config{Verifier: v}); err != nil {
		log.Fatal(err)
	}
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", feedhttp.New(st, feedhttp.WithBroadcaster(bc))))
}
