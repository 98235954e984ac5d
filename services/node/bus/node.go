// Package nodebus runs a country's node on the event fabric: it announces
// the node's forks (fork.registered, fork.snapshot), publishes its fixes
// (fix.published, large diffs through the JetStream object store),
// consumes the fixes of every other country, assesses each against its
// forks of the project and publishes the verdict (fix.assessed), and tells
// when a fix shows up in a fork (fix.adopted).
//
// The Node is the node.Service the HTTP API serves. Every change of state
// (a received fix, a refresh, a registration) is serialised by one mutex:
// the git work dominates, and one node assesses one fix at a time anyway
// because the bus hands events over in stream order.
package nodebus

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/events/subject"
	"github.com/dpihub/dpihub/services/node"
	"github.com/dpihub/dpihub/services/node/assess"
	"github.com/dpihub/dpihub/services/node/gitfork"
	"github.com/dpihub/dpihub/services/node/patchid"
)

// Defaults of Config.
const (
	// DefaultInlineLimit is the largest diff sent inside a fix.published
	// event; larger diffs go to the object store.
	DefaultInlineLimit = 256 << 10
	// DefaultPatchBucket is the object store bucket of large diffs, shared
	// by all countries; objects are named by the diff's SHA-256.
	DefaultPatchBucket = "DPI_PATCHES"
	// MaxDiffSize is the largest diff a node fetches from the object store.
	MaxDiffSize = 256 << 20
	// maxStoredInline is the largest diff kept inside a received fix in
	// the state bucket; larger ones are kept in the object store.
	maxStoredInline = 64 << 10
	// Service is the service part of the node's event source.
	Service = "node"
)

// Config configures a Node. Country, Bus, Signer, Verifier and Store are
// required.
type Config struct {
	Country  string
	Bus      *bus.Bus
	Signer   *sign.Signer
	Verifier *sign.Verifier
	Store    node.Store
	// Logger (nil: no logs).
	Logger *zap.Logger
	// Registerer receives the node's metrics (nil: not registered).
	Registerer prometheus.Registerer
	// InlineLimit is the largest inline diff (0: DefaultInlineLimit).
	InlineLimit int
	// PatchBucket is the object store bucket (""; DefaultPatchBucket).
	PatchBucket string
	// ConsumerName is the durable consumer ("": "node-<cc>").
	ConsumerName string
	// Backoff overrides the consumer's retry back-off (nil: the bus's).
	Backoff []time.Duration
}

// Node is one country's node on the bus. It implements node.Service.
type Node struct {
	cfg     Config
	src     events.Source
	pub     *bus.Publisher
	patches jetstream.ObjectStore
	log     *zap.Logger
	metrics *metrics

	mu   sync.Mutex // serialises changes of state
	cons *bus.Consumer
}

var _ node.Service = (*Node)(nil)

type metrics struct {
	received  prometheus.Counter
	assessed  *prometheus.CounterVec
	published prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, cc string) *metrics {
	labels := prometheus.Labels{"country": cc}
	m := &metrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dpihub_node_fixes_received_total", Help: "Fixes of other countries received for a forked project.",
			ConstLabels: labels,
		}),
		assessed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dpihub_node_assessments_total", Help: "Fix assessments published, by verdict.",
			ConstLabels: labels,
		}, []string{"verdict"}),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dpihub_node_fixes_published_total", Help: "Fixes this node published.",
			ConstLabels: labels,
		}),
	}
	if reg != nil {
		m.received = register(reg, m.received)
		m.assessed = register(reg, m.assessed)
		m.published = register(reg, m.published)
	}
	return m
}

// register registers c with reg, or returns the collector registered
// before under the same name and labels (a node restarted in the same
// process keeps counting on the same series).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if prev, ok := are.ExistingCollector.(C); ok {
				return prev
			}
		}
	}
	return c
}

// New checks cfg and creates the object store bucket of large diffs. It
// does not consume yet: Start does.
func New(ctx context.Context, cfg Config) (*Node, error) {
	switch {
	case cfg.Country == events.HubCountry || !events.ValidCountry(cfg.Country):
		return nil, fmt.Errorf("node: country %q is not a lower-case ISO 3166-1 alpha-2 code", cfg.Country)
	case cfg.Bus == nil || cfg.Signer == nil || cfg.Verifier == nil || cfg.Store == nil:
		return nil, errors.New("node: Bus, Signer, Verifier and Store are required")
	case cfg.Signer.Country() != cfg.Country:
		return nil, fmt.Errorf("node %s: the signer speaks for %q", cfg.Country, cfg.Signer.Country())
	}
	if cfg.InlineLimit <= 0 {
		cfg.InlineLimit = DefaultInlineLimit
	}
	if cfg.PatchBucket == "" {
		cfg.PatchBucket = DefaultPatchBucket
	}
	if cfg.ConsumerName == "" {
		cfg.ConsumerName = "node-" + cfg.Country
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	obj, err := cfg.Bus.JetStream().CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      cfg.PatchBucket,
		Description: "dpihub: diffs of fixes too large to travel inline, named by SHA-256",
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("node %s: object store %s: %w", cfg.Country, cfg.PatchBucket, err)
	}
	return &Node{
		cfg:     cfg,
		src:     events.Source{Country: cfg.Country, Service: Service},
		pub:     cfg.Bus.Publisher(cfg.Signer),
		patches: obj,
		log:     cfg.Logger.With(zap.String("country", cfg.Country)),
		metrics: newMetrics(cfg.Registerer, cfg.Country),
	}, nil
}

// Start starts the durable consumer of every country's fix.published
// events. Stop (or cancelling ctx) stops it.
func (n *Node) Start(ctx context.Context) error {
	c, err := n.cfg.Bus.Consume(ctx, bus.ConsumerConfig{
		Name:     n.cfg.ConsumerName,
		Subjects: []string{subject.Filter("", "fix", "published", "")},
		Verifier: n.cfg.Verifier,
		Backoff:  n.cfg.Backoff,
	}, n.HandleFix)
	if err != nil {
		return fmt.Errorf("node %s: %w", n.cfg.Country, err)
	}
	n.cons = c
	return nil
}

// Stop stops the consumer and waits for the event in hand.
func (n *Node) Stop() {
	if n.cons != nil {
		n.cons.Stop()
	}
}

// Country is the node's country.
func (n *Node) Country() string { return n.cfg.Country }

// eventID derives an event id from what the event is about, so that
// publishing the same fact twice (a redelivery, a retry) is stored once.
func eventID(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:16])
}

func (n *Node) publish(ctx context.Context, project string, p events.Payload, id string) error {
	e, err := events.New(n.src, project, p, events.WithID(id))
	if err != nil {
		return fmt.Errorf("build %s: %w", p.EventType(), err)
	}
	if _, err := n.pub.Publish(ctx, e); err != nil {
		return err
	}
	return nil
}

// HandleFix is the consumer's handler: it assesses a fix.published event
// of another country against this node's forks of the project and
// publishes the verdicts. Events of other types, of this country, and of
// projects the node does not fork are passed over. A fix that can never be
// assessed (its diff is not a patch, does not hash to its patch-id, or its
// stored copy is corrupt) is refused with bus.Permanent, so it lands in the
// dead-letter stream with the reason.
func (n *Node) HandleFix(ctx context.Context, e event.Event) error {
	if e.Type() != events.TypeFixPublished {
		return nil
	}
	cc, _ := e.Extensions()[events.ExtCountry].(string)
	if cc == n.cfg.Country {
		return nil
	}
	p, err := events.Decode(e)
	if err != nil {
		return bus.Permanent(err)
	}
	fp := *p.(*events.FixPublished)
	project := e.Subject()

	n.mu.Lock()
	defer n.mu.Unlock()
	forks, err := n.forksOf(ctx, project)
	if err != nil {
		return err
	}
	if len(forks) == 0 {
		return nil
	}
	diff, err := n.diff(ctx, fp)
	if err != nil {
		if errors.Is(err, node.ErrMalformedFix) {
			return bus.Permanent(fmt.Errorf("fix %s of %s: %w", fp.FixID, cc, err))
		}
		return err
	}
	key := node.FixKey(cc, fp.FixID)
	rf, err := n.cfg.Store.Fix(ctx, key)
	switch {
	case errors.Is(err, node.ErrNotFound):
		rf = node.ReceivedFix{ID: key, Country: cc, Project: project, ReceivedAt: time.Now().UTC()}
		n.metrics.received.Inc()
	case err != nil:
		return err
	}
	rf.EventID, rf.Fix = e.ID(), fp
	if len(fp.Diff) > maxStoredInline {
		// Keep the state bucket's values small: the diff goes to the
		// object store, where Diff and Export find it byte for byte.
		ref, err := n.store(ctx, diff)
		if err != nil {
			return err
		}
		rf.Fix.Diff, rf.Fix.DiffRef = "", ref
	}
	for _, f := range forks {
		if err := n.assessFork(ctx, &rf, f, diff); err != nil {
			if errors.Is(err, node.ErrMalformedFix) {
				return bus.Permanent(fmt.Errorf("fix %s of %s: %w", fp.FixID, cc, err))
			}
			return err
		}
	}
	if err := n.cfg.Store.PutFix(ctx, rf); err != nil {
		return err
	}
	n.log.Info("fix received", zap.String("fix", key), zap.String("project", project))
	return nil
}

// forksOf returns the registered forks of project.
func (n *Node) forksOf(ctx context.Context, project string) ([]node.ForkState, error) {
	all, err := n.cfg.Store.Forks(ctx)
	if err != nil {
		return nil, err
	}
	var out []node.ForkState
	for _, f := range all {
		if f.Project == project {
			out = append(out, f)
		}
	}
	return out, nil
}

// assessFork assesses rf against fork f, publishes fix.assessed (and
// fix.adopted the first time the fork carries the fix's commit) and
// records the assessment in rf. A fork whose repository cannot be read is
// logged and skipped: its registration shows the error, and the fix is
// assessed when the fork is refreshed.
func (n *Node) assessFork(ctx context.Context, rf *node.ReceivedFix, f node.ForkState, diff []byte) error {
	res, err := assess.Assess(ctx, f.Dir, f.Branch, diff)
	switch {
	case errors.Is(err, assess.ErrBadPatch):
		return fmt.Errorf("%w: %v", node.ErrMalformedFix, err)
	case errors.Is(err, assess.ErrNotRepository), errors.Is(err, assess.ErrUnknownRef):
		n.log.Warn("fork cannot be read; fix not assessed", zap.String("fork", f.Key()), zap.String("fix", rf.ID), zap.Error(err))
		return nil
	case err != nil:
		return err
	}
	prev, _ := rf.Assessment(f.Branch)
	a := node.Assessment{
		Project: f.Project, Branch: f.Branch, Head: res.Head, Verdict: string(res.Verdict),
		How: res.How, PresentAs: res.PresentAs, ThreeWayClean: res.ThreeWayClean,
		AssessedAt: time.Now().UTC(), Adopted: prev.Adopted,
	}
	a.Conflicts = conflicts(res.Conflicts)
	payload := events.FixAssessed{
		FixID: rf.Fix.FixID, PatchID: rf.Fix.PatchID, Verdict: a.Verdict,
		PresentAs: a.PresentAs, How: a.How, Conflicts: a.Conflicts, ThreeWayClean: a.ThreeWayClean,
		Branch: a.Branch, Head: a.Head,
	}
	if err := n.publish(ctx, rf.Project, payload, eventID("assessed", rf.ID, a.Branch, a.Head, a.Verdict, rf.Fix.PatchID)); err != nil {
		return fmt.Errorf("assess fix %s against fork %s: %w", rf.ID, f.Key(), err)
	}
	n.metrics.assessed.WithLabelValues(a.Verdict).Inc()
	if a.Verdict == events.VerdictPresent && (a.How == assess.HowPatchID || a.How == assess.HowTrailer) && !a.Adopted {
		adopted := events.FixAdopted{FixID: rf.Fix.FixID, PatchID: rf.Fix.PatchID, Commit: a.PresentAs, Branch: a.Branch}
		if err := n.publish(ctx, rf.Project, adopted, eventID("adopted", rf.ID, a.Branch, a.PresentAs)); err != nil {
			return fmt.Errorf("fix %s adopted by fork %s: %w", rf.ID, f.Key(), err)
		}
		a.Adopted = true
	}
	rf.SetAssessment(a)
	n.log.Info("fix assessed", zap.String("fix", rf.ID), zap.String("fork", f.Key()),
		zap.String("verdict", a.Verdict), zap.String("how", a.How), zap.Int("conflicts", len(a.Conflicts)))
	return nil
}

// conflicts maps the assessor's conflicts to the event's; hunk 0 means the
// whole file fails in both.
func conflicts(cs []assess.Conflict) []events.Conflict {
	var out []events.Conflict
	for _, c := range cs {
		if len(out) == 10000 {
			break
		}
		ec := events.Conflict{File: c.File, Hunk: c.Hunk, Reason: c.Reason}
		if len(ec.Reason) > 1000 {
			ec.Reason = ec.Reason[:1000]
		}
		if strings.TrimSpace(ec.Reason) == "" {
			ec.Reason = ""
		}
		out = append(out, ec)
	}
	return out
}

// diff returns the fix's diff, inline or fetched from the object store,
// and checks that it hashes to the fix's patch-id. Errors for a diff that
// can never be right wrap node.ErrMalformedFix.
func (n *Node) diff(ctx context.Context, fp events.FixPublished) ([]byte, error) {
	var diff []byte
	if fp.DiffRef == nil {
		diff = []byte(fp.Diff)
	} else {
		var err error
		if diff, err = n.fetch(ctx, *fp.DiffRef); err != nil {
			return nil, err
		}
	}
	if _, err := gitfork.Files(diff); err != nil {
		return nil, fmt.Errorf("%w: its diff is not a patch: %v", node.ErrMalformedFix, err)
	}
	id, ok, err := patchid.Of(diff)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: patch-id of its diff: %v", node.ErrMalformedFix, err)
	case !ok:
		return nil, fmt.Errorf("%w: its diff holds no change git would hash (not a unified diff)", node.ErrMalformedFix)
	case id != fp.PatchID:
		return nil, fmt.Errorf("%w: its diff hashes to patch-id %s, the event says %s", node.ErrMalformedFix, id, fp.PatchID)
	}
	return diff, nil
}

// fetch reads a diff from the object store and checks its size and
// SHA-256.
func (n *Node) fetch(ctx context.Context, ref events.DiffRef) ([]byte, error) {
	if ref.Size > MaxDiffSize {
		return nil, fmt.Errorf("%w: diff of %d bytes exceeds the %d limit", node.ErrMalformedFix, ref.Size, MaxDiffSize)
	}
	store := n.patches
	if ref.Bucket != n.cfg.PatchBucket {
		s, err := n.cfg.Bus.JetStream().ObjectStore(ctx, ref.Bucket)
		if err != nil {
			return nil, fmt.Errorf("open object store %s: %w", ref.Bucket, err)
		}
		store = s
	}
	data, err := store.GetBytes(ctx, ref.Object)
	if err != nil {
		return nil, fmt.Errorf("fetch diff %s/%s: %w", ref.Bucket, ref.Object, err)
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != ref.SHA256 || int64(len(data)) != ref.Size {
		return nil, fmt.Errorf("%w: diff %s/%s has %d bytes with sha256 %s, the reference says %d bytes with %s",
			node.ErrMalformedFix, ref.Bucket, ref.Object, len(data), got, ref.Size, ref.SHA256)
	}
	return data, nil
}

// store puts a diff in the object store under its SHA-256, unless it is
// there already.
func (n *Node) store(ctx context.Context, diff []byte) (*events.DiffRef, error) {
	sum := sha256.Sum256(diff)
	name := hex.EncodeToString(sum[:])
	ref := &events.DiffRef{Bucket: n.cfg.PatchBucket, Object: name, SHA256: name, Size: int64(len(diff))}
	if info, err := n.patches.GetInfo(ctx, name); err == nil && info.Size == uint64(len(diff)) {
		return ref, nil
	}
	if _, err := n.patches.Put(ctx, jetstream.ObjectMeta{Name: name, Description: "diff of a dpihub fix"}, bytes.NewReader(diff)); err != nil {
		return nil, fmt.Errorf("store diff %s: %w", name, err)
	}
	return ref, nil
}

// Forks implements node.Service.
func (n *Node) Forks(ctx context.Context) ([]node.ForkState, error) { return n.cfg.Store.Forks(ctx) }

// Fixes implements node.Service.
func (n *Node) Fixes(ctx context.Context) ([]node.ReceivedFix, error) {
	return n.cfg.Store.Fixes(ctx)
}

// Fix implements node.Service.
func (n *Node) Fix(ctx context.Context, id string) (node.ReceivedFix, error) {
	if _, _, err := node.ParseFixKey(id); err != nil {
		return node.ReceivedFix{}, err
	}
	return n.cfg.Store.Fix(ctx, id)
}

// Diff returns the diff of a received fix, byte for byte as published.
func (n *Node) Diff(ctx context.Context, id string) ([]byte, error) {
	rf, err := n.Fix(ctx, id)
	if err != nil {
		return nil, err
	}
	return n.diff(ctx, rf.Fix)
}

// Export implements node.Service.
func (n *Node) Export(ctx context.Context, id string) ([]byte, error) {
	rf, err := n.Fix(ctx, id)
	if err != nil {
		return nil, err
	}
	diff, err := n.diff(ctx, rf.Fix)
	if err != nil {
		return nil, fmt.Errorf("export fix %s: %w", id, err)
	}
	return gitfork.Mbox(rf.Fix, diff), nil
}

// RegisterFork implements node.Service: it checks the fork can be read,
// publishes fork.registered when the fork is new or changed and
// fork.snapshot when its head moved, and assesses the fixes already
// received for its project.
func (n *Node) RegisterFork(ctx context.Context, f node.Fork) (node.ForkState, error) {
	if err := f.Validate(); err != nil {
		return node.ForkState{}, err
	}
	abs, err := filepath.Abs(f.Dir)
	if err != nil {
		return node.ForkState{}, node.Invalid("fork dir %q: %v", f.Dir, err)
	}
	f.Dir = abs
	if f.URL == "" {
		f.URL = "file://" + filepath.ToSlash(abs)
	}
	reg := events.ForkRegistered{Upstream: f.Upstream, Fork: f.URL, Branch: f.Branch, Platform: f.Platform}
	if _, err := events.New(n.src, f.Project, reg); err != nil {
		return node.ForkState{}, node.Invalid("fork %s: %v", f.Key(), err)
	}
	snap, err := gitfork.Snapshot(ctx, f)
	if err != nil {
		return node.ForkState{}, err
	}

	n.mu.Lock()
	defer n.mu.Unlock()
	all, err := n.cfg.Store.Forks(ctx)
	if err != nil {
		return node.ForkState{}, err
	}
	var prev *node.ForkState
	for i := range all {
		if all[i].Key() == f.Key() {
			prev = &all[i]
		}
	}
	if prev == nil || prev.Fork != f {
		id := eventID("registered", f.Project, f.Branch, f.URL, f.Upstream, f.Platform)
		if err := n.publish(ctx, f.Project, reg, id); err != nil {
			return node.ForkState{}, fmt.Errorf("register fork %s: %w", f.Key(), err)
		}
		n.log.Info("fork registered", zap.String("fork", f.Key()), zap.String("dir", f.Dir))
	}
	st := node.ForkState{Fork: f}
	if prev != nil {
		st.Snapshot = prev.Snapshot
	}
	if err := n.sync(ctx, &st, snap); err != nil {
		return st, err
	}
	return st, nil
}

// Refresh implements node.Service: every fork of project ("" for all) is
// read again; for one that moved, fork.snapshot is published and its open
// assessments are redone and republished.
func (n *Node) Refresh(ctx context.Context, project string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	all, err := n.cfg.Store.Forks(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, st := range all {
		if project != "" && st.Project != project {
			continue
		}
		// Reading the head is cheap; the full snapshot (patch-ids of every
		// fork-only commit) is taken only when the head moved.
		var snap events.ForkSnapshot
		head, err := gitfork.Head(ctx, st.Fork)
		if err == nil && st.Snapshot != nil && st.Error == "" && head == st.Snapshot.Head {
			snap = *st.Snapshot
		} else if err == nil {
			snap, err = gitfork.Snapshot(ctx, st.Fork)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if st.Error != err.Error() {
				st.Error = err.Error()
				if perr := n.cfg.Store.PutFork(ctx, st); perr != nil {
					errs = append(errs, perr)
				}
			}
			errs = append(errs, err)
			continue
		}
		if err := n.sync(ctx, &st, snap); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// sync records snap as st's snapshot, publishing fork.snapshot when the
// head moved, and brings the assessments of the project's received fixes
// up to date: a fix never assessed against the fork is assessed, an open
// assessment made at another head is redone.
func (n *Node) sync(ctx context.Context, st *node.ForkState, snap events.ForkSnapshot) error {
	moved := st.Snapshot == nil || st.Snapshot.Head != snap.Head || st.Error != ""
	if moved {
		if err := n.publish(ctx, st.Project, snap, eventID("snapshot", st.Key(), snap.Head, snap.MergeBase)); err != nil {
			return fmt.Errorf("snapshot of fork %s: %w", st.Key(), err)
		}
		st.Snapshot, st.Error = &snap, ""
		if err := n.cfg.Store.PutFork(ctx, *st); err != nil {
			return err
		}
		n.log.Info("fork snapshot", zap.String("fork", st.Key()), zap.String("head", snap.Head),
			zap.Int("ahead", snap.Ahead), zap.Int("behind", snap.Behind))
	}
	fixes, err := n.cfg.Store.Fixes(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, rf := range fixes {
		if rf.Project != st.Project {
			continue
		}
		a, ok := rf.Assessment(st.Branch)
		if ok && (!a.Open() || a.Head == snap.Head) {
			continue
		}
		diff, err := n.diff(ctx, rf.Fix)
		if err == nil {
			err = n.assessFork(ctx, &rf, *st, diff)
		}
		if err == nil {
			err = n.cfg.Store.PutFix(ctx, rf)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("re-assess fix %s against fork %s: %w", rf.ID, st.Key(), err))
		}
	}
	return errors.Join(errs...)
}

// PublishFix implements node.Service: it reads the commit from the
// repository (the project's fork by default), moves a diff above the
// inline limit to the object store, and publishes fix.published. The fix
// id is "<cc>-<first 12 hex digits of the commit>", so publishing the same
// commit again names the same fix.
func (n *Node) PublishFix(ctx context.Context, req node.PublishRequest) (events.FixPublished, error) {
	if !events.ValidProject(req.Project) {
		return events.FixPublished{}, node.Invalid("project %q is not a slug", req.Project)
	}
	if strings.TrimSpace(req.Commit) == "" {
		return events.FixPublished{}, node.Invalid("commit is required")
	}
	forks, err := n.forksOf(ctx, req.Project)
	if err != nil {
		return events.FixPublished{}, err
	}
	repo, upRef := req.Repo, node.DefaultUpstreamRef
	if len(forks) > 0 {
		upRef = forks[0].Ref()
		if repo == "" {
			repo = forks[0].Dir
		}
	}
	if repo == "" {
		return events.FixPublished{}, node.Invalid("no fork of %s is registered; give repo", req.Project)
	}
	fp, err := gitfork.Fix(ctx, repo, upRef, req.Commit)
	if err != nil {
		return events.FixPublished{}, err
	}
	fp.FixID = n.cfg.Country + "-" + fp.Commit[:12]
	if len(fp.Diff) > n.cfg.InlineLimit {
		ref, err := n.store(ctx, []byte(fp.Diff))
		if err != nil {
			return events.FixPublished{}, err
		}
		fp.Diff, fp.DiffRef = "", ref
	}
	if err := n.publish(ctx, req.Project, fp, eventID("fix", fp.FixID, fp.PatchID)); err != nil {
		return events.FixPublished{}, fmt.Errorf("publish fix %s: %w", fp.FixID, err)
	}
	n.metrics.published.Inc()
	n.log.Info("fix published", zap.String("fix", fp.FixID), zap.String("project", req.Project),
		zap.String("patch_id", fp.PatchID), zap.Bool("object_store", fp.DiffRef != nil))
	return fp, nil
}
