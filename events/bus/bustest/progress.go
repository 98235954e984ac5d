package bustest

import (
	"testing"
	"time"
)

// Progressing waits until done holds, failing the test when mark (a
// counter such as the last applied stream sequence) stops moving for
// stall. It is for waits whose length grows with the machine's load, such
// as a projection catching up with thousands of events under -race beside
// other test runs: a slow machine passes, a stuck service fails within
// stall of getting stuck. It checks every 10ms and never sleeps for the
// condition's sake.
func Progressing(t testing.TB, stall time.Duration, what string, mark func() uint64, done func() bool) {
	t.Helper()
	last, moved := mark(), time.Now()
	for !done() {
		if m := mark(); m != last {
			last, moved = m, time.Now()
		} else if time.Since(moved) > stall {
			t.Fatalf("stuck for %v at %d: %s", stall, last, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
