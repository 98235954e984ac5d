//go:build !unix

package bus_test

import "time"

// cpuTime is unknown here; the cpu_cores metric then reads 0.
func cpuTime() time.Duration { return 0 }
