package node_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/services/node"
)

// The node's ports in memory: the rules run without NATS and without git.

// hex40 makes a commit-like id from a seed.
func hex40(seed string) string {
	h := sha1.Sum([]byte(seed))
	return hex.EncodeToString(h[:])
}

// derived is the id rule written again: the first 16 bytes of the SHA-256
// of the parts joined by NUL, in hex. A node's facts have its country as
// the first part.
func derived(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:16])
}

// aDiff is a diff the fake git takes for a patch; body makes it unique.
func aDiff(body string) string {
	return "diff --git a/src/app.go b/src/app.go\n--- a/src/app.go\n+++ b/src/app.go\n@@ -1 +1 @@\n-old\n+" + body + "\n"
}

// patchIDOf is the fake git's patch-id of diff.
func patchIDOf(diff string) string { return hex40("patch-id of " + diff) }

// aFix is a valid fix of country cc carrying diff inline.
func aFix(cc, seed, diff string) events.FixPublished {
	commit := hex40(cc + seed)
	return events.FixPublished{
		FixID: cc + "-" + commit[:12], Title: "Fix " + seed, Author: events.Person{Name: "Ada"},
		Commit: commit, UpstreamBase: hex40("base"), PatchID: patchIDOf(diff),
		Files: []string{"src/app.go"}, Diff: diff,
	}
}

// sent is one event the recorder took.
type sent struct {
	project string
	payload events.Payload
	id      string
}

// recorder is a node.Publisher that checks each event against the
// contract (events.New validates it) and keeps it.
type recorder struct {
	mu   sync.Mutex
	src  events.Source
	sent []sent
}

func (r *recorder) Publish(_ context.Context, project string, p events.Payload, id string) error {
	if _, err := events.New(r.src, project, p, events.WithID(id)); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, sent{project, p, id})
	return nil
}

// take returns what was published since the last take.
func (r *recorder) take() []sent {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.sent
	r.sent = nil
	return out
}

// ofType returns the payloads of type T among ss, with their ids.
func ofType[T events.Payload](ss []sent) (ps []T, ids []string) {
	for _, s := range ss {
		if p, ok := s.payload.(T); ok {
			ps, ids = append(ps, p), append(ids, s.id)
		}
	}
	return ps, ids
}

// types lists the event types of ss, for messages.
func types(ss []sent) []string {
	var out []string
	for _, s := range ss {
		out = append(out, events.ShortType(s.payload.EventType()))
	}
	return out
}

// memStore is a node.Store in maps; values go through JSON as they would
// through the KV bucket, so that no caller shares a slice with it.
type memStore struct {
	mu    sync.Mutex
	forks map[string][]byte
	fixes map[string][]byte
}

func newMemStore() *memStore {
	return &memStore{forks: map[string][]byte{}, fixes: map[string][]byte{}}
}

func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func decode[T any](b []byte) T {
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		panic(err)
	}
	return v
}

func (m *memStore) PutFork(_ context.Context, f node.ForkState) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.forks[f.Key()] = encode(f)
	return nil
}

func (m *memStore) Forks(context.Context) ([]node.ForkState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []node.ForkState
	for _, b := range m.forks {
		out = append(out, decode[node.ForkState](b))
	}
	slices.SortFunc(out, func(a, b node.ForkState) int { return strings.Compare(a.Key(), b.Key()) })
	return out, nil
}

func (m *memStore) PutFix(_ context.Context, f node.ReceivedFix) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fixes[f.ID] = encode(f)
	return nil
}

func (m *memStore) Fix(_ context.Context, id string) (node.ReceivedFix, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.fixes[id]
	if !ok {
		return node.ReceivedFix{}, fmt.Errorf("fix %s: %w", id, node.ErrNotFound)
	}
	return decode[node.ReceivedFix](b), nil
}

func (m *memStore) Fixes(context.Context) ([]node.ReceivedFix, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []node.ReceivedFix
	for _, b := range m.fixes {
		out = append(out, decode[node.ReceivedFix](b))
	}
	return out, nil
}

// memDiffs is a node.DiffStore in a map, named by SHA-256 like the object
// store; objects can be tampered with.
type memDiffs struct {
	mu      sync.Mutex
	objects map[string][]byte
	gets    int
}

const testBucket = "TEST_PATCHES"

func (d *memDiffs) Get(_ context.Context, ref events.DiffRef) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gets++
	b, ok := d.objects[ref.Object]
	if !ok || ref.Bucket != testBucket {
		return nil, fmt.Errorf("no object %s/%s", ref.Bucket, ref.Object)
	}
	return bytes.Clone(b), nil
}

func (d *memDiffs) Put(_ context.Context, diff []byte) (*events.DiffRef, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	sum := sha256.Sum256(diff)
	name := hex.EncodeToString(sum[:])
	d.objects[name] = bytes.Clone(diff)
	return &events.DiffRef{Bucket: testBucket, Object: name, SHA256: name, Size: int64(len(diff))}, nil
}

// fakeGit is a node.Git over forks that are only a head each, and diffs
// that are patches when they start like one.
type fakeGit struct {
	mu        sync.Mutex
	heads     map[string]string              // fork dir -> head commit
	broken    map[string]error               // fork dir -> why it cannot be read
	commits   map[string]events.FixPublished // revision -> the fix it reads as
	fixReads  []string                       // "repo upstreamRef revision" of each Fix
	snapshots int
}

func (g *fakeGit) head(dir string) (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.broken[dir]; err != nil {
		return "", err
	}
	h, ok := g.heads[dir]
	if !ok {
		return "", node.Invalid("%s is not a git repository", dir)
	}
	return h, nil
}

func (g *fakeGit) Head(_ context.Context, f node.Fork) (string, error) { return g.head(f.Dir) }

func (g *fakeGit) Snapshot(_ context.Context, f node.Fork) (events.ForkSnapshot, error) {
	h, err := g.head(f.Dir)
	if err != nil {
		return events.ForkSnapshot{}, err
	}
	g.mu.Lock()
	g.snapshots++
	g.mu.Unlock()
	return events.ForkSnapshot{Branch: f.Branch, Head: h, MergeBase: hex40("merge-base"), Ahead: 1, TakenAt: time.Now().UTC()}, nil
}

func (g *fakeGit) Fix(_ context.Context, repo, upstreamRef, commit string) (events.FixPublished, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.fixReads = append(g.fixReads, repo+" "+upstreamRef+" "+commit)
	fp, ok := g.commits[commit]
	if !ok {
		return events.FixPublished{}, node.Invalid("%s names no commit", commit)
	}
	return fp, nil
}

func (g *fakeGit) Files(diff []byte) ([]string, error) {
	if !bytes.HasPrefix(diff, []byte("diff --git ")) {
		return nil, errors.New("no diff header")
	}
	return []string{"src/app.go"}, nil
}

func (g *fakeGit) PatchID(diff []byte) (string, bool, error) {
	if !bytes.Contains(diff, []byte("\n@@ ")) {
		return "", false, nil
	}
	return patchIDOf(string(diff)), true, nil
}

func (g *fakeGit) Mbox(fp events.FixPublished, diff []byte) []byte {
	return append([]byte("From "+fp.Commit+" Mon Sep 17 00:00:00 2001\n"), diff...)
}

// judge is a node.Assessor that answers what the test scripted, by fork
// branch and diff, at the fork's head; unscripted, a fix applies.
type judge struct {
	mu      sync.Mutex
	git     *fakeGit
	results map[string]node.AssessResult // branch, or branch + " " + diff
	errs    map[string]error             // by branch
	calls   []string                     // branches assessed
}

// say scripts the result for diff ("": any diff) on branch.
func (j *judge) say(branch, diff string, r node.AssessResult) {
	j.mu.Lock()
	defer j.mu.Unlock()
	k := branch
	if diff != "" {
		k += " " + diff
	}
	j.results[k] = r
}

// assessed returns the branches assessed since the last call.
func (j *judge) assessed() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := j.calls
	j.calls = nil
	return out
}

func (j *judge) Assess(_ context.Context, dir, branch string, diff []byte) (node.AssessResult, error) {
	j.mu.Lock()
	j.calls = append(j.calls, branch)
	err := j.errs[branch]
	r, ok := j.results[branch+" "+string(diff)]
	if !ok {
		r, ok = j.results[branch]
	}
	j.mu.Unlock()
	if err != nil {
		return node.AssessResult{}, err
	}
	if !ok {
		r = node.AssessResult{Verdict: events.VerdictApplies}
	}
	head, err := j.git.head(dir)
	if err != nil {
		return node.AssessResult{}, fmt.Errorf("%w: %v", node.ErrForkUnreadable, err)
	}
	r.Head = head
	return r, nil
}

// tally is a node.Observer that counts.
type tally struct {
	mu                  sync.Mutex
	received, published int
	assessed            map[string]int
}

func (c *tally) FixReceived()  { c.mu.Lock(); c.received++; c.mu.Unlock() }
func (c *tally) FixPublished() { c.mu.Lock(); c.published++; c.mu.Unlock() }
func (c *tally) FixAssessed(v string) {
	c.mu.Lock()
	c.assessed[v]++
	c.mu.Unlock()
}

// site is a node of country cc with every port in memory.
type site struct {
	n     *node.Node
	cc    string
	store *memStore
	pub   *recorder
	diffs *memDiffs
	git   *fakeGit
	judge *judge
	tally *tally
}

func newSite(t *testing.T, cc string) *site {
	t.Helper()
	g := &fakeGit{heads: map[string]string{}, broken: map[string]error{}, commits: map[string]events.FixPublished{}}
	s := &site{
		cc: cc, store: newMemStore(), pub: &recorder{src: events.Source{Country: cc, Service: node.SourceService}},
		diffs: &memDiffs{objects: map[string][]byte{}}, git: g,
		judge: &judge{git: g, results: map[string]node.AssessResult{}, errs: map[string]error{}},
		tally: &tally{assessed: map[string]int{}},
	}
	n, err := node.New(node.Config{
		Country: cc, Store: s.store, Publisher: s.pub, Diffs: s.diffs, Git: s.git, Assessor: s.judge, Observer: s.tally,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.n = n
	return s
}

// fork registers a fork of project on branch, its head at a commit made
// from the branch's name, and forgets what the registration published.
func (s *site) fork(t *testing.T, project, branch string) node.Fork {
	t.Helper()
	dir := "/srv/forks/" + project + "/" + branch
	s.git.mu.Lock()
	s.git.heads[dir] = hex40(dir)
	s.git.mu.Unlock()
	f := node.Fork{Project: project, Upstream: "https://example.org/" + project, Dir: dir, Branch: branch}
	if _, err := s.n.RegisterFork(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	s.pub.take()
	s.judge.assessed()
	return f
}

// move moves the head of fork f to a new commit.
func (s *site) move(f node.Fork, seed string) string {
	s.git.mu.Lock()
	defer s.git.mu.Unlock()
	h := hex40(f.Dir + seed)
	s.git.heads[f.Dir] = h
	return h
}

// receive hands fp of country from about project to the node, as the bus
// would.
func (s *site) receive(t *testing.T, from, project string, fp events.FixPublished) error {
	t.Helper()
	return s.n.ReceiveFix(context.Background(), from, "event-"+fp.FixID, project, fp)
}

// kept returns the received fix key, as the store holds it.
func (s *site) kept(t *testing.T, key string) node.ReceivedFix {
	t.Helper()
	rf, err := s.store.Fix(context.Background(), key)
	if err != nil {
		t.Fatalf("the node did not keep %s: %v", key, err)
	}
	return rf
}

// assessment returns the kept assessment of fix key against branch.
func (s *site) assessment(t *testing.T, key, branch string) (node.Assessment, bool) {
	t.Helper()
	rf := s.kept(t, key)
	return rf.Assessment(branch)
}
