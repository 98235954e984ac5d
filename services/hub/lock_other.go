//go:build !unix

package hub

import "errors"

// LockFile is the file in the data directory whose lock the running hub
// holds (on unix).
const LockFile = "LOCK"

// ErrLocked is the cause of a start on a data directory another hub holds.
var ErrLocked = errors.New("data directory in use")

// lockData does nothing here: the hub runs on Linux (flock, lock_unix.go);
// elsewhere, it builds for development without the lock.
func lockData(string) (func(), error) { return func() {}, nil }
