package deploy_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// netns is a network namespace the test made (ip netns add), deleted
// with everything in it when the test ends.
type netns string

// needNetns fails the test, naming what is missing, unless it can make
// network namespaces: root and the ip command (iproute2).
func needNetns(t *testing.T) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (network namespaces)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		missing = append(missing, "the ip command (apt-get install iproute2)")
	}
	if len(missing) > 0 {
		t.Fatalf("the outage test cuts links between network namespaces it makes; it needs %s", strings.Join(missing, " and "))
	}
}

func ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// newNetns makes a namespace with its loopback up.
func newNetns(t *testing.T, name string) netns {
	t.Helper()
	name = fmt.Sprintf("dpihub-%s-%d", name, os.Getpid())
	_ = exec.Command("ip", "netns", "del", name).Run() // a leftover of a killed run
	ip(t, "netns", "add", name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	ip(t, "-n", name, "link", "set", "lo", "up")
	return netns(name)
}

// link joins namespaces a and b with a veth pair, a's end at aIP/24 and
// b's at bIP/24, and returns the names of the two ends.
func link(t *testing.T, a, b netns, aIP, bIP string) (aEnd, bEnd string) {
	t.Helper()
	aEnd, bEnd = fmt.Sprintf("vh%d", os.Getpid()%100000), fmt.Sprintf("vs%d", os.Getpid()%100000)
	ip(t, "link", "add", aEnd, "netns", string(a), "type", "veth", "peer", "name", bEnd, "netns", string(b))
	ip(t, "-n", string(a), "addr", "add", aIP+"/24", "dev", aEnd)
	ip(t, "-n", string(b), "addr", "add", bIP+"/24", "dev", bEnd)
	ip(t, "-n", string(a), "link", "set", aEnd, "up")
	ip(t, "-n", string(b), "link", "set", bEnd, "up")
	return aEnd, bEnd
}

// dialer dials from inside the namespace: the socket is made on a thread
// that entered it, and stays there.
type dialer struct{ ns netns }

func (d dialer) Dial(network, address string) (net.Conn, error) {
	runtime.LockOSThread()
	self, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	defer self.Close()
	target, err := os.Open("/var/run/netns/" + string(d.ns))
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("enter %s: %w", d.ns, err)
	}
	conn, derr := net.DialTimeout(network, address, 5*time.Second)
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread stays in the namespace: leave it locked, so that it
		// ends with this goroutine instead of running others.
		return conn, derr
	}
	runtime.UnlockOSThread()
	return conn, derr
}
