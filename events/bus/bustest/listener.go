package bustest

import (
	"net"
	"sync/atomic"
	"testing"
)

// Listener is a loopback listener on a free port that remembers whether it
// was closed. A test that hands it to a service checks after Close that
// the service let go of it by asking it, not by dialling the port: on a
// busy machine another process may already listen on a freed port.
type Listener struct {
	net.Listener
	closed atomic.Bool
}

// Listen returns a Listener on 127.0.0.1 and a free port; the test closes
// it at the end if nothing did.
func Listen(t testing.TB) *Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &Listener{Listener: ln}
	t.Cleanup(func() { l.Close() })
	return l
}

// Close closes the listener and remembers it.
func (l *Listener) Close() error {
	l.closed.Store(true)
	return l.Listener.Close()
}

// Closed reports whether Close was called.
func (l *Listener) Closed() bool { return l.closed.Load() }
