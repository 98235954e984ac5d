package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/dpihub/dpihub/events"
)

// SourceService is the service part of the source of a node's events.
const SourceService = "node"

// ErrForkUnreadable is wrapped by the Assessor's error when the fork's
// repository or branch cannot be read (not a repository, no such branch).
// The node skips such a fork: its registration shows the error, and the
// fix is assessed when the fork is refreshed.
var ErrForkUnreadable = errors.New("fork cannot be read")

// Publisher publishes one event about project with payload p under id; it
// builds, signs and sends it. Publishing the same id twice stores it once.
type Publisher interface {
	Publish(ctx context.Context, project string, p events.Payload, id string) error
}

// Git reads forks and diffs as git does.
type Git interface {
	// Head returns the commit at the head of the fork's branch.
	Head(ctx context.Context, f Fork) (string, error)
	// Snapshot reads the fork's state (head, merge-base, patch-ids...).
	// Errors wrap ErrInvalid for a directory or branch that cannot be read.
	Snapshot(ctx context.Context, f Fork) (events.ForkSnapshot, error)
	// Fix reads commit of repo as a fix payload (FixID left empty),
	// its base taken against upstreamRef. Errors wrap ErrInvalid for a
	// revision that is not one change.
	Fix(ctx context.Context, repo, upstreamRef, commit string) (events.FixPublished, error)
	// Files returns the paths diff touches; an error means it is not a
	// patch.
	Files(diff []byte) ([]string, error)
	// PatchID returns diff's stable patch-id; ok is false when the diff
	// holds no change git would hash.
	PatchID(diff []byte) (id string, ok bool, err error)
	// Mbox returns a fix as a `git am`-ready mbox.
	Mbox(fix events.FixPublished, diff []byte) []byte
}

// Assessor judges a diff against a fork's branch in its repository dir.
// Its errors wrap ErrMalformedFix for a diff that is not a patch and
// ErrForkUnreadable for a fork that cannot be read.
type Assessor interface {
	Assess(ctx context.Context, dir, branch string, diff []byte) (AssessResult, error)
}

// AssessResult is what an Assessor found.
type AssessResult struct {
	// Head is the commit the branch resolved to.
	Head string
	// Verdict is events.VerdictPresent, VerdictApplies, VerdictConflicts or
	// VerdictNotApplicable; How says how a present fix was found
	// (events.HowPatchID, HowTrailer, HowContent), PresentAs by which
	// commit.
	Verdict, How, PresentAs string
	// Conflicts are the failing hunks, as many and as long as found: the
	// node trims them to the contract's limits.
	Conflicts     []events.Conflict
	ThreeWayClean *bool
}

// Observer hears what the node did, once it is done (metrics).
type Observer interface {
	// FixReceived: a fix of another country was kept for the first time.
	FixReceived()
	// FixAssessed: a fix.assessed with verdict was published.
	FixAssessed(verdict string)
	// FixPublished: a fix.published of this node was published.
	FixPublished()
}

// Config configures New. Every field but Observer and Logger is required.
type Config struct {
	// Country is the node's lower-case ISO 3166-1 alpha-2 code.
	Country   string
	Store     Store
	Publisher Publisher
	Diffs     DiffStore
	Git       Git
	Assessor  Assessor
	// Observer hears what the node did (nil: nobody).
	Observer Observer
	// Logger (nil: no logs).
	Logger *zap.Logger
}

// Node is one country's node: it keeps the forks the country registers
// and announces them (fork.registered, fork.snapshot), publishes the
// country's fixes (fix.published), assesses every other country's fix
// against its forks of the project (fix.assessed), and tells when a fork
// carries a fix (fix.adopted). It implements Service.
//
// Every change of state (a received fix, a refresh, a registration) is
// serialised by one mutex: the git work dominates, and one node assesses
// one fix at a time anyway because the bus hands events over in stream
// order.
type Node struct {
	country  string
	src      events.Source
	store    Store
	pub      Publisher
	diffs    DiffStore
	git      Git
	assessor Assessor
	obs      Observer
	log      *zap.Logger

	mu sync.Mutex // serialises changes of state
}

var _ Service = (*Node)(nil)

// New checks cfg and returns the node.
func New(cfg Config) (*Node, error) {
	switch {
	case cfg.Country == events.HubCountry || !events.ValidCountry(cfg.Country):
		return nil, fmt.Errorf("node: country %q is not a lower-case ISO 3166-1 alpha-2 code", cfg.Country)
	case cfg.Store == nil || cfg.Publisher == nil || cfg.Diffs == nil || cfg.Git == nil || cfg.Assessor == nil:
		return nil, errors.New("node: Store, Publisher, Diffs, Git and Assessor are required")
	}
	if cfg.Observer == nil {
		cfg.Observer = nobody{}
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	return &Node{
		country: cfg.Country, src: events.Source{Country: cfg.Country, Service: SourceService},
		store: cfg.Store, pub: cfg.Publisher, diffs: cfg.Diffs, git: cfg.Git, assessor: cfg.Assessor,
		obs: cfg.Observer, log: cfg.Logger.With(zap.String("country", cfg.Country)),
	}, nil
}

type nobody struct{}

func (nobody) FixReceived()       {}
func (nobody) FixAssessed(string) {}
func (nobody) FixPublished()      {}

// Country is the node's country.
func (n *Node) Country() string { return n.country }

// factID is the id of a fact this node publishes: derivedID of the
// node's country and the fact's parts. The country comes first because an
// event is identified by (source, id): two countries with identical forks
// that assess the same fix state two facts, and must not name them alike.
func (n *Node) factID(parts ...string) string {
	return derivedID(append([]string{n.country}, parts...)...)
}

// derivedID derives an event id from what the event is about, so that
// publishing the same fact twice (a redelivery, a retry) is stored once.
// Its parts and their order are part of the contract: changing them makes
// every fact new again.
func derivedID(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:16])
}

// ReceiveFix takes fix fp that country from published about project in
// event eventID: it assesses the fix against this node's forks of the
// project, publishes each verdict (fix.assessed, and fix.adopted when a
// fork carries the fix) and keeps the fix. A fix of this node's country,
// or of a project it does not fork, is passed over. An error wrapping
// ErrMalformedFix says the fix can never be assessed (its diff is not a
// patch, does not hash to its patch-id, or its stored copy is corrupt);
// any other error is worth a retry.
func (n *Node) ReceiveFix(ctx context.Context, from, eventID, project string, fp events.FixPublished) error {
	if from == n.country {
		return nil
	}
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
		if errors.Is(err, ErrMalformedFix) {
			return fmt.Errorf("fix %s of %s: %w", fp.FixID, from, err)
		}
		return err
	}
	key := FixKey(from, fp.FixID)
	rf, err := n.store.Fix(ctx, key)
	switch {
	case errors.Is(err, ErrNotFound):
		rf = ReceivedFix{ID: key, Country: from, Project: project, ReceivedAt: time.Now().UTC()}
		n.obs.FixReceived()
	case err != nil:
		return err
	}
	rf.EventID, rf.Fix = eventID, fp
	if len(fp.Diff) > maxStoredInline {
		// Keep the state's values small: the diff goes to the DiffStore,
		// where Diff and Export find it byte for byte.
		ref, err := n.diffs.Put(ctx, diff)
		if err != nil {
			return err
		}
		rf.Fix.Diff, rf.Fix.DiffRef = "", ref
	}
	for _, f := range forks {
		if err := n.assessFork(ctx, &rf, f, diff); err != nil {
			if errors.Is(err, ErrMalformedFix) {
				return fmt.Errorf("fix %s of %s: %w", fp.FixID, from, err)
			}
			return err
		}
	}
	if err := n.store.PutFix(ctx, rf); err != nil {
		return err
	}
	n.log.Info("fix received", zap.String("fix", key), zap.String("project", project))
	return nil
}

// forksOf returns the registered forks of project.
func (n *Node) forksOf(ctx context.Context, project string) ([]ForkState, error) {
	all, err := n.store.Forks(ctx)
	if err != nil {
		return nil, err
	}
	var out []ForkState
	for _, f := range all {
		if f.Project == project {
			out = append(out, f)
		}
	}
	return out, nil
}

// assessFork assesses rf against fork f, publishes fix.assessed (and
// fix.adopted the first time the fork carries the fix's commit) and
// records the assessment in rf. A fork that cannot be read is logged and
// skipped: its registration shows the error, and the fix is assessed when
// the fork is refreshed.
func (n *Node) assessFork(ctx context.Context, rf *ReceivedFix, f ForkState, diff []byte) error {
	res, err := n.assessor.Assess(ctx, f.Dir, f.Branch, diff)
	switch {
	case errors.Is(err, ErrForkUnreadable):
		n.log.Warn("fork cannot be read; fix not assessed", zap.String("fork", f.Key()), zap.String("fix", rf.ID), zap.Error(err))
		return nil
	case err != nil:
		return err
	}
	prev, _ := rf.Assessment(f.Branch)
	a := Assessment{
		Project: f.Project, Branch: f.Branch, Head: res.Head, Verdict: res.Verdict,
		How: res.How, PresentAs: res.PresentAs, ThreeWayClean: res.ThreeWayClean,
		AssessedAt: time.Now().UTC(), Adopted: prev.Adopted,
	}
	a.Conflicts = conflicts(res.Conflicts)
	payload := events.FixAssessed{
		FixID: rf.Fix.FixID, PatchID: rf.Fix.PatchID, Verdict: a.Verdict,
		PresentAs: a.PresentAs, How: a.How, Conflicts: a.Conflicts, ThreeWayClean: a.ThreeWayClean,
		Branch: a.Branch, Head: a.Head,
	}
	if err := n.pub.Publish(ctx, rf.Project, payload, n.factID("assessed", rf.ID, a.Branch, a.Head, a.Verdict, rf.Fix.PatchID)); err != nil {
		return fmt.Errorf("assess fix %s against fork %s: %w", rf.ID, f.Key(), err)
	}
	n.obs.FixAssessed(a.Verdict)
	// Adopted means a commit of the fork carries the fix; a fork whose
	// files merely hold the same change (how "content") did not take it.
	if a.Verdict == events.VerdictPresent && (a.How == events.HowPatchID || a.How == events.HowTrailer) && !a.Adopted {
		adopted := events.FixAdopted{FixID: rf.Fix.FixID, PatchID: rf.Fix.PatchID, Commit: a.PresentAs, Branch: a.Branch}
		if err := n.pub.Publish(ctx, rf.Project, adopted, n.factID("adopted", rf.ID, a.Branch, a.PresentAs)); err != nil {
			return fmt.Errorf("fix %s adopted by fork %s: %w", rf.ID, f.Key(), err)
		}
		a.Adopted = true
	}
	rf.SetAssessment(a)
	n.log.Info("fix assessed", zap.String("fix", rf.ID), zap.String("fork", f.Key()),
		zap.String("verdict", a.Verdict), zap.String("how", a.How), zap.Int("conflicts", len(a.Conflicts)))
	return nil
}

// conflicts trims the assessor's conflicts to the contract's limits; hunk
// 0 means the whole file fails in both.
func conflicts(cs []events.Conflict) []events.Conflict {
	var out []events.Conflict
	for _, c := range cs {
		if len(out) == events.MaxConflicts {
			break
		}
		c.Reason = events.Truncate(c.Reason, events.MaxConflictReason)
		if strings.TrimSpace(c.Reason) == "" {
			c.Reason = ""
		}
		out = append(out, c)
	}
	return out
}

// Forks implements Service.
func (n *Node) Forks(ctx context.Context) ([]ForkState, error) { return n.store.Forks(ctx) }

// Fixes implements Service.
func (n *Node) Fixes(ctx context.Context) ([]ReceivedFix, error) { return n.store.Fixes(ctx) }

// Fix implements Service.
func (n *Node) Fix(ctx context.Context, id string) (ReceivedFix, error) {
	if _, _, err := ParseFixKey(id); err != nil {
		return ReceivedFix{}, err
	}
	return n.store.Fix(ctx, id)
}

// Diff returns the diff of a received fix, byte for byte as published.
func (n *Node) Diff(ctx context.Context, id string) ([]byte, error) {
	rf, err := n.Fix(ctx, id)
	if err != nil {
		return nil, err
	}
	return n.diff(ctx, rf.Fix)
}

// Export implements Service.
func (n *Node) Export(ctx context.Context, id string) ([]byte, error) {
	rf, err := n.Fix(ctx, id)
	if err != nil {
		return nil, err
	}
	diff, err := n.diff(ctx, rf.Fix)
	if err != nil {
		return nil, fmt.Errorf("export fix %s: %w", id, err)
	}
	return n.git.Mbox(rf.Fix, diff), nil
}

// RegisterFork implements Service: it checks the fork can be read,
// publishes fork.registered when the fork is new or changed and
// fork.snapshot when its head moved, and assesses the fixes already
// received for its project.
func (n *Node) RegisterFork(ctx context.Context, f Fork) (ForkState, error) {
	if err := f.Validate(); err != nil {
		return ForkState{}, err
	}
	abs, err := filepath.Abs(f.Dir)
	if err != nil {
		return ForkState{}, fmt.Errorf("fork %s: resolve its dir: %w", f.Key(), err)
	}
	f.Dir = abs
	if f.URL == "" {
		f.URL = "file://" + filepath.ToSlash(abs)
	}
	reg := events.ForkRegistered{Upstream: f.Upstream, Fork: f.URL, Branch: f.Branch, Platform: f.Platform}
	if _, err := events.New(n.src, f.Project, reg); err != nil {
		return ForkState{}, Invalid("fork %s: %v", f.Key(), err)
	}
	snap, err := n.git.Snapshot(ctx, f)
	if err != nil {
		return ForkState{}, err
	}

	n.mu.Lock()
	defer n.mu.Unlock()
	all, err := n.store.Forks(ctx)
	if err != nil {
		return ForkState{}, err
	}
	var prev *ForkState
	for i := range all {
		if all[i].Key() == f.Key() {
			prev = &all[i]
		}
	}
	st := ForkState{Fork: f}
	if prev != nil {
		st.Snapshot = prev.Snapshot
	}
	if prev == nil || prev.Fork != f {
		id := n.factID("registered", f.Project, f.Branch, f.URL, f.Upstream, f.Platform)
		if err := n.pub.Publish(ctx, f.Project, reg, id); err != nil {
			return ForkState{}, fmt.Errorf("register fork %s: %w", f.Key(), err)
		}
		n.log.Info("fork registered", zap.String("fork", f.Key()), zap.String("dir", f.Dir))
		// A changed fork whose head did not move is saved here: sync saves
		// only a moved one, and the new settings (upstream ref, URL) count
		// from now on.
		if prev != nil {
			if err := n.store.PutFork(ctx, st); err != nil {
				return ForkState{}, err
			}
		}
	}
	if err := n.sync(ctx, &st, snap); err != nil {
		return st, err
	}
	return st, nil
}

// Refresh implements Service: every fork of project ("" for all) is read
// again; for one that moved, fork.snapshot is published and its open
// assessments are redone and republished.
func (n *Node) Refresh(ctx context.Context, project string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	all, err := n.store.Forks(ctx)
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
		head, err := n.git.Head(ctx, st.Fork)
		if err == nil && st.Snapshot != nil && st.Error == "" && head == st.Snapshot.Head {
			snap = *st.Snapshot
		} else if err == nil {
			snap, err = n.git.Snapshot(ctx, st.Fork)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if st.Error != err.Error() {
				st.Error = err.Error()
				if perr := n.store.PutFork(ctx, st); perr != nil {
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
func (n *Node) sync(ctx context.Context, st *ForkState, snap events.ForkSnapshot) error {
	moved := st.Snapshot == nil || st.Snapshot.Head != snap.Head || st.Error != ""
	if moved {
		if err := n.pub.Publish(ctx, st.Project, snap, n.factID("snapshot", st.Key(), snap.Head, snap.MergeBase)); err != nil {
			return fmt.Errorf("snapshot of fork %s: %w", st.Key(), err)
		}
		st.Snapshot, st.Error = &snap, ""
		if err := n.store.PutFork(ctx, *st); err != nil {
			return err
		}
		n.log.Info("fork snapshot", zap.String("fork", st.Key()), zap.String("head", snap.Head),
			zap.Int("ahead", snap.Ahead), zap.Int("behind", snap.Behind))
	}
	fixes, err := n.store.Fixes(ctx)
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
			err = n.store.PutFix(ctx, rf)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("re-assess fix %s against fork %s: %w", rf.ID, st.Key(), err))
		}
	}
	return errors.Join(errs...)
}

// PublishFix implements Service: it reads the commit from a registered
// fork of the project, moves a diff above InlineLimit to the DiffStore,
// and publishes fix.published. The fix id is "<cc>-<first 12 hex digits
// of the commit>", so publishing the same commit again names the same
// fix.
//
// The node signs what it publishes with the country's key, so it
// publishes only commits of the country's registered forks: req.Repo is
// empty (the project's first registered fork) or the directory of a
// registered fork of req.Project. Any other repository is refused before
// git reads it, with an error that does not repeat the path.
func (n *Node) PublishFix(ctx context.Context, req PublishRequest) (events.FixPublished, error) {
	if !events.ValidProject(req.Project) {
		return events.FixPublished{}, Invalid("project %q is not a slug", req.Project)
	}
	if strings.TrimSpace(req.Commit) == "" {
		return events.FixPublished{}, Invalid("commit is required")
	}
	forks, err := n.forksOf(ctx, req.Project)
	if err != nil {
		return events.FixPublished{}, err
	}
	if len(forks) == 0 {
		return events.FixPublished{}, Invalid("no fork of %s is registered: the node publishes only commits of its registered forks", req.Project)
	}
	fork, ok := forks[0], req.Repo == ""
	for _, f := range forks {
		if !ok && sameDir(f.Dir, req.Repo) {
			fork, ok = f, true
		}
	}
	if !ok {
		return events.FixPublished{}, Invalid("repo is not the directory of a registered fork of %s: the node publishes only commits of its registered forks", req.Project)
	}
	fp, err := n.git.Fix(ctx, fork.Dir, fork.Ref(), req.Commit)
	if err != nil {
		return events.FixPublished{}, err
	}
	fp.FixID = n.country + "-" + fp.Commit[:12]
	if len(fp.Diff) > InlineLimit {
		ref, err := n.diffs.Put(ctx, []byte(fp.Diff))
		if err != nil {
			return events.FixPublished{}, err
		}
		fp.Diff, fp.DiffRef = "", ref
	}
	if err := n.pub.Publish(ctx, req.Project, fp, n.factID("fix", fp.FixID, fp.PatchID)); err != nil {
		return events.FixPublished{}, fmt.Errorf("publish fix %s: %w", fp.FixID, err)
	}
	n.obs.FixPublished()
	n.log.Info("fix published", zap.String("fix", fp.FixID), zap.String("project", req.Project),
		zap.String("patch_id", fp.PatchID), zap.Bool("object_store", fp.DiffRef != nil))
	return fp, nil
}

// sameDir reports whether paths a and b name the same directory once made
// absolute and clean. Links are not followed: a registered fork is named
// by the path it was registered with.
func sameDir(a, b string) bool {
	aa, err := filepath.Abs(a)
	if err != nil {
		return false
	}
	bb, err := filepath.Abs(b)
	return err == nil && aa == bb
}
