package feedgen_test

import (
	"testing"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/services/feed/feedbus/feedgen"
)

// The generator feeds tests of the live projection, which admits only
// events their sender may send: every event it makes must be one.
func TestEveryGeneratedEventIsAuthorized(t *testing.T) {
	for i, e := range feedgen.Events(5000, 1) {
		if err := events.Authorize(e); err != nil {
			t.Fatalf("event %d (%s from %s): %v", i, e.Type(), e.Source(), err)
		}
	}
}
