//go:build !unix

package webhook_test

import "time"

// cpuTime is unknown here; the CPU metrics then read 0.
func cpuTime() time.Duration { return 0 }
