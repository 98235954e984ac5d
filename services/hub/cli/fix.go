package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/services/node"
	"github.com/dpihub/dpihub/services/node/nodebus"
	"github.com/dpihub/dpihub/services/node/nodegit"
	nodesvc "github.com/dpihub/dpihub/services/node/service"
)

// fixPublish publishes commits of a local repository as fixes, signed with
// the country's key, exactly as the country's node would (large diffs go to
// the object store).
func fixPublish(ctx context.Context, env Env, args []string) error {
	fs := flags(env, "fix publish")
	hub := addHubFlags(fs)
	keyPath := fs.String("key", "", "the country's private key file")
	project := fs.String("project", "", "upstream project slug, e.g. mosip-id-repository")
	repo := fs.String("repo", ".", "the fork's git repository")
	branch := fs.String("branch", "HEAD", "the fork's branch (for the record)")
	upstreamRef := fs.String("upstream-ref", node.DefaultUpstreamRef, "ref of upstream in the repository, for the fix's base")
	if err := parse(fs, env, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(env.Stderr, "usage: dpihub fix publish --key FILE --project SLUG --repo DIR COMMIT|A..B")
		return errUsage
	}
	commits, err := revList(ctx, *repo, fs.Arg(0))
	if err != nil {
		return err
	}
	named := false
	fs.Visit(func(f *flag.Flag) { named = named || f.Name == "upstream-ref" })
	if *upstreamRef, err = findUpstream(ctx, *repo, *upstreamRef, named); err != nil {
		return err
	}
	signer, err := sign.ReadSigner(*keyPath)
	if err != nil {
		return err
	}
	b, closeConn, err := hub.attach(ctx, "dpihub fix publish", signer.Country())
	if err != nil {
		return err
	}
	defer closeConn()
	st := &memStore{}
	_ = st.PutFork(ctx, node.ForkState{Fork: node.Fork{Project: *project, Dir: *repo, Branch: *branch, UpstreamRef: *upstreamRef}})
	// The country's bucket of large diffs, made by the hub if need be.
	_, patches, err := nodesvc.OpenBuckets(ctx, b, signer.Country())
	if err != nil {
		return fmt.Errorf("node %s: %w", signer.Country(), err)
	}
	// A node that only publishes: it consumes nothing, so it needs no
	// verifier, and its Assessor is never called.
	n, err := node.New(node.Config{
		Country: signer.Country(), Store: st, Publisher: nodebus.NewPublisher(b, signer),
		Diffs: patches, Git: nodegit.Git{}, Assessor: nodegit.Git{},
	})
	if err != nil {
		return err
	}
	for _, c := range commits {
		fp, err := n.PublishFix(ctx, node.PublishRequest{Project: *project, Repo: *repo, Commit: c})
		if err != nil {
			return err
		}
		where := "inline"
		if fp.DiffRef != nil {
			where = "object store " + fp.DiffRef.Bucket + "/" + fp.DiffRef.Object
		}
		fmt.Fprintf(env.Stdout, "published fix %s %q patch-id %s (%d files, diff %s)\n", fp.FixID, fp.Title, fp.PatchID, len(fp.Files), where)
	}
	return nil
}

// upstreamRefs are tried, in order, when the default upstream ref
// (origin/HEAD, which a clone has but a fork set up by hand often lacks)
// is not in the repository.
var upstreamRefs = []string{"origin/main", "origin/master", "upstream/main", "upstream/master", "upstream/HEAD"}

// findUpstream returns ref if it names a commit in repo. A ref the
// operator named must exist; in place of the default, the first of
// upstreamRefs that exists is taken.
func findUpstream(ctx context.Context, repo, ref string, named bool) (string, error) {
	exists := func(r string) bool {
		return exec.CommandContext(ctx, "git", "-C", repo, "rev-parse", "--verify", "--quiet", "--end-of-options", r+"^{commit}").Run() == nil
	}
	if exists(ref) {
		return ref, nil
	}
	if named {
		return "", fmt.Errorf("--upstream-ref %s is not a commit in %s", ref, repo)
	}
	tried := []string{ref}
	for _, r := range upstreamRefs {
		if exists(r) {
			return r, nil
		}
		tried = append(tried, r)
	}
	return "", fmt.Errorf("no upstream ref in %s: name the upstream with --upstream-ref (tried: %s)", repo, strings.Join(tried, ", "))
}

// exportKey is the node's key of the fix the operator named: the fix id
// the feed shows (ma-0123456789ab, which starts with the country that
// published it) or the node's own <country>:<fix-id>.
func exportKey(id string) string {
	if strings.Contains(id, ":") {
		return id
	}
	if cc, _, ok := strings.Cut(id, "-"); ok && cc != "" {
		return node.FixKey(cc, id)
	}
	return id
}

// revList resolves a commit or a range to commits, oldest first, without
// merges.
func revList(ctx context.Context, repo, rev string) ([]string, error) {
	args := []string{"-C", repo, "rev-list", "--reverse", "--no-merges", rev}
	if !strings.Contains(rev, "..") {
		args = []string{"-C", repo, "rev-parse", "--verify", "--end-of-options", rev + "^{commit}"}
	}
	out, err := exec.CommandContext(ctx, "git", args...).Output()
	if err != nil {
		return nil, fmt.Errorf("%s is not a commit or range in %s", rev, repo)
	}
	commits := strings.Fields(string(out))
	if len(commits) == 0 {
		return nil, fmt.Errorf("range %s holds no commits", rev)
	}
	return commits, nil
}

// fixExport fetches a received fix from a node as a git am mbox.
func fixExport(ctx context.Context, env Env, args []string) error {
	fs := flags(env, "fix export")
	nodeURL := fs.String("node", "http://127.0.0.1:8081", "the country's node API")
	if err := parse(fs, env, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(env.Stderr, "usage: dpihub fix export --node URL FIX-ID (as the feed shows it, or <country>:<fix-id>) > fix.mbox && git am fix.mbox")
		return errUsage
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimRight(*nodeURL, "/")+"/api/v1/fixes/"+url.PathEscape(exportKey(fs.Arg(0)))+"/mbox", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("node %s: %w", *nodeURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("node %s: %s: %s", *nodeURL, resp.Status, strings.TrimSpace(string(b)))
	}
	_, err = io.Copy(env.Stdout, resp.Body)
	return err
}

// memStore is a node.Store for one command's life.
type memStore struct {
	mu    sync.Mutex
	forks []node.ForkState
	fixes map[string]node.ReceivedFix
}

func (m *memStore) PutFork(_ context.Context, f node.ForkState) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.forks {
		if m.forks[i].Key() == f.Key() {
			m.forks[i] = f
			return nil
		}
	}
	m.forks = append(m.forks, f)
	return nil
}

func (m *memStore) Forks(context.Context) ([]node.ForkState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]node.ForkState(nil), m.forks...), nil
}

func (m *memStore) PutFix(_ context.Context, f node.ReceivedFix) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fixes == nil {
		m.fixes = map[string]node.ReceivedFix{}
	}
	m.fixes[f.ID] = f
	return nil
}

func (m *memStore) Fix(_ context.Context, id string) (node.ReceivedFix, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.fixes[id]
	if !ok {
		return node.ReceivedFix{}, fmt.Errorf("fix %s: %w", id, node.ErrNotFound)
	}
	return f, nil
}

func (m *memStore) Fixes(context.Context) ([]node.ReceivedFix, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]node.ReceivedFix, 0, len(m.fixes))
	for _, f := range m.fixes {
		out = append(out, f)
	}
	return out, nil
}
