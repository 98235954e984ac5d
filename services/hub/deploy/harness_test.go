package deploy_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dpihub/dpihub/events/access"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/services/hub/deploy"
)

// natsServer is the pinned nats-server binary: $DPIHUB_NATS_SERVER, or
// bin/nats-server at the top of the repository, where make test-deps
// installs it. A test that needs it fails, naming it, when it is missing
// or another version: these tests are the proof that the deployment
// works, and skipping them would hide that it was not given.
func natsServer(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("DPIHUB_NATS_SERVER")
	if bin == "" {
		dir, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				t.Fatal("go.work not found above the test's directory: set DPIHUB_NATS_SERVER to the nats-server binary")
			}
			dir = parent
		}
		bin = filepath.Join(dir, "bin", "nats-server")
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("nats-server %s is needed at %s (make test-deps installs it: GOBIN=$PWD/bin go install github.com/nats-io/nats-server/v2@%s): %v",
			deploy.NATSServerVersion, bin, deploy.NATSServerVersion, err)
	}
	if !strings.Contains(string(out), deploy.NATSServerVersion) {
		t.Fatalf("%s is %s; the deployment is tested with nats-server %s (make test-deps)", bin, strings.TrimSpace(string(out)), deploy.NATSServerVersion)
	}
	return bin
}

// freePort is a TCP port free a moment ago, below the kernel's range of
// ephemeral ports (32768 and up by default), so that no outgoing
// connection (a route, a leaf link) takes it before its server binds it,
// and never one handed out before in this process.
func freePort(t testing.TB) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 1000 {
		port := 10000 + rand.IntN(20000)
		if portsUsed[port] {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		l.Close()
		portsUsed[port] = true
		return port
	}
	t.Fatal("no free port between 10000 and 30000")
	return 0
}

var (
	portsMu   sync.Mutex
	portsUsed = map[int]bool{}
)

// proc is one nats-server process started from a configuration file of
// the deployment, in network namespace ns if ns is not empty.
type proc struct {
	t        testing.TB
	bin      string
	name     string
	conf     string
	log      string
	ns       string
	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{}
	logStart int64
}

func startProc(t testing.TB, bin, dir, name, ns string) *proc {
	t.Helper()
	p := &proc{t: t, bin: bin, name: name, conf: filepath.Join(dir, deploy.ConfigFile(name)),
		log: filepath.Join(dir, name+".log"), ns: ns}
	p.start()
	t.Cleanup(p.stop)
	return p
}

// start starts the server and waits until its log says it is ready.
func (p *proc) start() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	st, _ := f.Stat()
	p.logStart = st.Size()
	args := []string{p.bin, "-c", p.conf}
	if p.ns != "" {
		args = append([]string{"ip", "netns", "exec", p.ns}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Dir = filepath.Dir(p.conf)
	if err := cmd.Start(); err != nil {
		f.Close()
		p.t.Fatalf("start %s: %v", p.name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); f.Close(); close(done) }()
	p.cmd, p.done = cmd, done
	deadline := time.Now().Add(60 * time.Second)
	for !p.logged("Server is ready") {
		select {
		case <-done:
			p.t.Fatalf("%s exited at start:\n%s", p.name, p.tail())
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s not ready within 60s:\n%s", p.name, p.tail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logged reports whether the server's log since its last start holds s.
func (p *proc) logged(s string) bool {
	b, _ := os.ReadFile(p.log)
	if int64(len(b)) < p.logStart {
		return false
	}
	return bytes.Contains(b[p.logStart:], []byte(s))
}

// tail is the end of the server's log, for a failure's message.
func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// kill ends the server at once (SIGKILL), as a crash would.
func (p *proc) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	p.cmd = nil
}

// stop ends the server cleanly (SIGTERM), or kills it after 20s.
func (p *proc) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.cmd = nil
}

// logLines are the lines of the server's whole log that hold s.
func (p *proc) logLines(s string) []string {
	f, err := os.Open(p.log)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			out = append(out, sc.Text())
		}
	}
	return out
}

// deployment is a running deployment: the hub members and the sites.
type deployment struct {
	t    testing.TB
	dir  string
	plan deploy.Plan
	hub  []*proc
	site map[string]*proc
	// dial connects to a server of the deployment (through its namespace
	// when it runs in one).
	dialer map[string]nats.CustomDialer
}

// connect connects to the server named name (a hub member or site-<cc>)
// with the credentials of id from the deployment directory.
func (d *deployment) connect(name string, id access.Identity, opts ...nats.Option) *nats.Conn {
	d.t.Helper()
	url := ""
	for _, m := range d.plan.Hub {
		if m.Name == name {
			url = deploy.ClientURL(m.Host, m.Client)
		}
	}
	for _, s := range d.plan.Sites {
		if s.Name == name {
			url = deploy.ClientURL(s.Host, s.Client)
		}
	}
	if url == "" {
		d.t.Fatalf("no server %s", name)
	}
	_, copts, err := access.Client(filepath.Join(d.dir, deploy.CredsDir, id.CredsFile()))
	if err != nil {
		d.t.Fatal(err)
	}
	copts = append(copts, nats.Name(id.String()), nats.MaxReconnects(-1), nats.ReconnectWait(200*time.Millisecond))
	if dl := d.dialer[name]; dl != nil {
		copts = append(copts, nats.SetCustomDialer(dl))
	}
	nc, err := nats.Connect(url, append(copts, opts...)...)
	if err != nil {
		d.t.Fatalf("connect to %s as %s: %v", name, id, err)
	}
	d.t.Cleanup(nc.Close)
	return nc
}

// hubURLConnect connects to any hub member as id.
func (d *deployment) connectHub(id access.Identity, opts ...nats.Option) *nats.Conn {
	d.t.Helper()
	return d.connect(d.plan.Hub[0].Name, id, opts...)
}

// applyStreams sets up the streams, retrying while the cluster elects
// its leader and the leaf links come up.
func (d *deployment) applyStreams() {
	d.t.Helper()
	ctx := context.Background()
	nc := d.connectHub(access.Admin)
	var err error
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = deploy.ApplyStreams(actx, nc, d.plan, deployBusConfig)
		cancel()
		if err == nil {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	for _, p := range []*proc{d.hub[0], d.site[d.plan.Sites[0].Country]} {
		d.t.Logf("%s:\n%s", p.name, p.tail())
	}
	d.t.Fatalf("streams not set up within 90s: %v", err)
}

func (d *deployment) String() string { return fmt.Sprintf("deployment in %s", d.dir) }

// streamInfo is the info of stream on js, asked with a deadline.
func (d *deployment) streamInfo(js jetstream.JetStream, stream string) (*jetstream.StreamInfo, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, err
	}
	return s.Info(ctx)
}

// logSize is how long the server's log is now: a mark for loggedSince.
func (p *proc) logSize() int64 {
	st, err := os.Stat(p.log)
	if err != nil {
		return 0
	}
	return st.Size()
}

// loggedSince reports whether the log after mark holds s.
func (p *proc) loggedSince(mark int64, s string) bool {
	b, _ := os.ReadFile(p.log)
	return int64(len(b)) > mark && bytes.Contains(b[mark:], []byte(s))
}

// deadLetters are the reasons of the dead letters of consumer in js's
// DPI_DLQ; an error reading them (the R3 stream between leaders, under
// load) is none yet.
func deadLetters(js jetstream.JetStream, consumer string) []bus.DeadLetter {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	dls, err := bus.ReadDeadLetters(ctx, js)
	if err != nil {
		return nil
	}
	var mine []bus.DeadLetter
	for _, dl := range dls {
		if dl.Consumer == consumer {
			mine = append(mine, dl)
		}
	}
	return mine
}
