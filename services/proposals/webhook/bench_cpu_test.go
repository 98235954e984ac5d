//go:build unix

package webhook_test

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time this process (the embedded server and the
// receivers included) has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
