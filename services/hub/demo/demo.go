// Package demo plays the dpihub story on a throw-away embedded hub: three
// countries run real nodes on real git forks of a sample upstream; a fix
// published by Morocco is assessed by the others (applies in the
// Philippines, present in Sri Lanka, which had cherry-picked it); a
// proposal is endorsed twice and objected to once by other countries, its
// proposer's own endorsement is refused, and once the proposer answers the
// objection the hub's proposals service accepts it under the project's
// rules, while the project's maintainer receives it all by webhook; a
// forged event is refused and dead-lettered with its reason.
package demo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/access"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/sign"
	dedupsvc "github.com/dpihub/dpihub/services/dedup/service"
	feedsvc "github.com/dpihub/dpihub/services/feed/service"
	"github.com/dpihub/dpihub/services/hub"
	"github.com/dpihub/dpihub/services/node"
	nodesvc "github.com/dpihub/dpihub/services/node/service"
	"github.com/dpihub/dpihub/services/proposals/governance"
	propsvc "github.com/dpihub/dpihub/services/proposals/service"
	"github.com/dpihub/dpihub/services/proposals/webhook"
)

// Config configures Run.
type Config struct {
	Out      io.Writer // the story (default stdout)
	HTTPAddr string    // coordinator HTTP (default 127.0.0.1:8080)
	NATSPort int       // default -1: any free port
	DataDir  string    // default: a temp dir removed at the end
	Exit     bool      // return after the story instead of serving until ctx ends
	// Ready, when set, is called after the story while the hub still
	// serves (tests look at the UI and API from it).
	Ready  func(*Result)
	Logger *zap.Logger // nil: quiet
	// Countries, above the story's three, adds a campaign's history of
	// that many countries (at most MaxCountries) after the story
	// (campaign.go).
	Countries int
}

// Countries of the demo: each runs a node.
var Countries = []struct{ Code, Name string }{{"ma", "Morocco"}, {"ph", "the Philippines"}, {"lk", "Sri Lanka"}}

// Voice is a country of the demo that runs no node: it only speaks, as the
// dpihub CLI would (source urn:dpihub:ke:cli).
var Voice = struct{ Code, Name string }{"ke", "Kenya"}

// Hub is the pseudo country of the hub's own services: the proposals
// service signs its decisions with its key.
var Hub = struct{ Code, Name string }{events.HubCountry, "the hub"}

const project = "mosip-id-repository"

// Result is what the demo observed, for tests.
type Result struct {
	Received map[string][]string // country -> types of the events it published
	Verdicts map[string]string   // country -> its verdict on Morocco's fix
	FixID    string
	// Votes are the reactions to Sri Lanka's proposal that were handled:
	// country -> short type (proposal.endorsed, proposal.objected).
	Votes map[string]string
	// DeadLetters are every refusal: the proposer's own endorsement
	// (not-authorized), then the forged fix (unknown-key).
	DeadLetters []bus.DeadLetter
	NATSURL     string
	HTTPAddr    string
	// Duplicates counts the fork duplicates found; Candidates the upstream
	// candidates of the project.
	Duplicates, Candidates int
	// ProposalStatus is Sri Lanka's proposal's status at the end.
	ProposalStatus string
	// Webhook are the event types the maintainer's receiver took, in
	// order, each with both signatures verified.
	Webhook []string
	// TrustList is the file the demo wrote its trust list to.
	TrustList string
}

// Run plays the story and, unless cfg.Exit, serves until ctx is cancelled.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	if cfg.NATSPort == 0 {
		cfg.NATSPort = -1
	}
	if cfg.DataDir == "" {
		dir, err := os.MkdirTemp("", "dpihub-demo-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		cfg.DataDir = dir
	}
	out := &printer{w: cfg.Out}
	h, err := hub.Start(ctx, hub.Config{DataDir: cfg.DataDir, ServerName: "dpihub-demo", NATSPort: cfg.NATSPort, HTTPAddr: cfg.HTTPAddr, Logger: cfg.Logger, Starting: true})
	if err != nil {
		return nil, err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		h.Close(sctx)
	}()
	res := &Result{Received: map[string][]string{}, Verdicts: map[string]string{}, Votes: map[string]string{}, NATSURL: h.NATSURL(), HTTPAddr: h.HTTPAddr}
	out.f("dpihub demo: embedded NATS with JetStream at %s, data in %s\n\n", h.NATSURL(), cfg.DataDir)

	// Every country has its own ed25519 key; one trust list names them all.
	trust := &sign.TrustList{}
	signers := map[string]*sign.Signer{}
	for _, c := range append(Countries[:len(Countries):len(Countries)], Voice, Hub) {
		k, err := sign.GenerateKey(c.Code)
		if err != nil {
			return nil, err
		}
		trust.Add(sign.Trusted(k, time.Now().Add(-time.Hour), time.Time{}))
		if signers[c.Code], err = sign.NewSigner(k); err != nil {
			return nil, err
		}
		out.f("  %s  %-16s signs with key %s\n", c.Code, c.Name, k.KeyID)
	}
	// A campaign's countries each have a key too.
	extra := 0
	for _, cc := range campaignCountries(cfg.Countries) {
		if signers[cc] != nil {
			continue
		}
		k, err := sign.GenerateKey(cc)
		if err != nil {
			return nil, err
		}
		trust.Add(sign.Trusted(k, time.Now().Add(-time.Hour), time.Time{}))
		if signers[cc], err = sign.NewSigner(k); err != nil {
			return nil, err
		}
		extra++
	}
	if extra > 0 {
		out.f("  and %d more countries of the campaign, each with its key\n", extra)
	}
	verifier, err := sign.NewVerifier(trust) // one per process: each event is verified once
	if err != nil {
		return nil, err
	}
	// The public keys, for anyone who verifies the demo's stream outside
	// this process (docs/examples/verify-python).
	res.TrustList = filepath.Join(cfg.DataDir, "trust.json")
	if err := trust.WriteFile(res.TrustList); err != nil {
		return nil, err
	}
	if err := h.SetTrustList(trust); err != nil {
		return nil, err
	}
	out.f("\nTrust list (public keys): %s", res.TrustList)
	if h.HTTPAddr != "" {
		out.f(", also at http://%s/trust.json", h.HTTPAddr)
	}
	out.f("\n")

	// The sample upstream and the three forks are real git repositories.
	rp, err := makeRepos(ctx, filepath.Join(cfg.DataDir, "repos"))
	if err != nil {
		return nil, fmt.Errorf("make the demo repositories: %w", err)
	}
	out.f("\nSample upstream %s, forks:\n", rp.upstream)
	for _, c := range Countries {
		out.f("  %s  %s (branch release-%s)\n", c.Code, rp.forks[c.Code], c.Code)
	}

	// The hub's proposals service: it decides under the project's rules,
	// signing with the hub's key, and delivers the project's proposals to
	// the maintainers who subscribed.
	maintainerToken := "demo-maintainer-of-" + project
	sum := sha256.Sum256([]byte(maintainerToken))
	psvc, err := propsvc.Start(ctx, propsvc.Config{Bus: h.Bus, Verifier: verifier, Signer: signers[Hub.Code],
		Rules:       &governance.RuleBook{Projects: map[string]governance.Rules{project: {Maintainers: []string{hex.EncodeToString(sum[:])}}}},
		DecideEvery: 200 * time.Millisecond, Webhooks: &webhook.Config{InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second},
		Logger: cfg.Logger, Registerer: h.Registry})
	if err != nil {
		return nil, fmt.Errorf("proposals: %w", err)
	}
	h.OnClose(func(ctx context.Context) { _ = psvc.Close(ctx) })
	h.MountProposals(psvc.Handler())

	// The hub's dedup service: it compares the forks' fingerprints, fixes
	// and proposals across countries, signing its findings with the hub's
	// key.
	dsvc, err := dedupsvc.Start(ctx, dedupsvc.Config{Bus: h.Bus, Verifier: verifier, Signer: signers[Hub.Code], Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("dedup: %w", err)
	}
	h.OnClose(func(ctx context.Context) { _ = dsvc.Close(ctx) })
	h.Mount(dedupsvc.Patterns(), dsvc.Handler())

	// The coordinator's feed: a projection of every verified event into
	// SQLite, served as the web UI and API on the hub's HTTP address.
	fsvc, err := feedsvc.Start(ctx, feedsvc.Config{Bus: h.Bus, Verifier: verifier, Governance: hub.FeedGovernance(psvc.Governor()),
		DBPath: filepath.Join(cfg.DataDir, "feed.db"), Logger: cfg.Logger, Registerer: h.Registry})
	if err != nil {
		return nil, fmt.Errorf("feed: %w", err)
	}
	h.OnClose(func(ctx context.Context) { _ = fsvc.Close(ctx) })
	h.AddHealthCheck(hub.HealthCheck{Name: "feed", Check: fsvc.Health})
	h.SetRoot(fsvc.Handler())
	h.Started()

	// The coordinator's view in this terminal: everything on dpi.>, as it arrives.
	var mu sync.Mutex
	var seen []event.Event
	var quiet atomic.Bool // the campaign's events are summed up, not printed
	printer, err := h.Bus.Consume(ctx, bus.ConsumerConfig{Name: "demo-coordinator", Verifier: verifier},
		func(_ context.Context, e event.Event) error {
			if quiet.Load() {
				return nil
			}
			from, _ := e.Extensions()[events.ExtCountry].(string)
			mu.Lock()
			seen = append(seen, e)
			if from != "" {
				res.Received[from] = append(res.Received[from], events.ShortType(e.Type()))
			}
			mu.Unlock()
			out.f("  %s  %-22s %s\n", from, events.ShortType(e.Type()), events.Describe(e))
			return nil
		})
	if err != nil {
		return nil, err
	}
	h.OnClose(func(context.Context) { printer.Stop() })
	count := func(typ string) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, e := range seen {
			if e.Type() == typ {
				n++
			}
		}
		return n
	}

	// Each country runs its node: it registers its fork, and assesses every
	// other country's fix against it.
	out.f("\nEach country's node registers its fork:\n")
	nodes := map[string]*node.Node{}
	for _, c := range Countries {
		cc := c.Code
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		s, err := nodesvc.Start(sctx, nodesvc.Config{
			Country: cc, Bus: h.Bus, Signer: signers[cc], Verifier: verifier,
			Forks: []node.Fork{{Project: project, Upstream: "file://" + rp.upstream, Dir: rp.forks[cc],
				Branch: "release-" + cc, Platform: "MOSIP"}},
			PollInterval: -1, Registerer: prometheus.NewRegistry(), Logger: cfg.Logger,
		})
		cancel()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				return nil, fmt.Errorf("node %s did not start in 30s: %w", cc, err)
			}
			return nil, fmt.Errorf("node %s: %w", cc, err)
		}
		h.OnClose(func(ctx context.Context) { _ = s.Close(ctx) })
		nodes[cc] = s.Node()
	}
	if err := waitFor(ctx, 10*time.Second, func() bool { return count(events.TypeForkSnapshot) >= len(Countries) }); err != nil {
		return nil, fmt.Errorf("forks not announced: %w", err)
	}

	out.f("\n* Morocco publishes a fix it made in its fork (commit %.12s); the other nodes assess it against theirs:\n", rp.fix)
	fp, err := nodes["ma"].PublishFix(ctx, node.PublishRequest{Project: project, Commit: rp.fix})
	if err != nil {
		return nil, fmt.Errorf("publish the fix: %w", err)
	}
	res.FixID = fp.FixID
	if err := waitFor(ctx, 20*time.Second, func() bool {
		return count(events.TypeFixAssessed) >= len(Countries)-1 && count(events.TypeFixAdopted) >= 1
	}); err != nil {
		return nil, fmt.Errorf("the fix was not assessed by every other node: %w", err)
	}
	mu.Lock()
	for _, e := range seen {
		if e.Type() != events.TypeFixAssessed {
			continue
		}
		var a events.FixAssessed
		if e.DataAs(&a) == nil {
			cc, _ := e.Extensions()[events.ExtCountry].(string)
			res.Verdicts[cc] = a.Verdict
		}
	}
	mu.Unlock()

	// The project's upstream maintainer subscribes a webhook to its
	// proposals, with the token the rules name for the project.
	out.f("\n* The upstream maintainers of %s subscribe a webhook to the project's proposals:\n", project)
	mt, err := newMaintainer(ctx, out, h.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("maintainer: %w", err)
	}
	h.OnClose(mt.close)
	if err := mt.subscribe(ctx, h.HTTPAddr, maintainerToken); err != nil {
		return nil, err
	}

	// Fingerprints: each fork.snapshot carries a MinHash of the fork's own
	// changed lines and its fork-only patch-ids.
	out.f("\n* The dedup service compares the forks' fingerprints across countries:\n")
	if err := waitFor(ctx, 10*time.Second, func() bool { return count(events.TypeForkDuplicateDetected) >= 1 }); err != nil {
		return nil, fmt.Errorf("no duplicate forks found: %w", err)
	}
	report := dsvc.Report(project)
	for _, c := range report.Candidates {
		var commits []string
		for _, f := range c.Forks {
			commits = append(commits, fmt.Sprintf("%s as %.12s", f, c.Commits[f]))
		}
		out.f("  upstream candidate: change %.12s carried by %d countries (%s): propose it upstream once\n", c.PatchID, c.Countries, strings.Join(commits, ", "))
	}
	res.Duplicates, res.Candidates = count(events.TypeForkDuplicateDetected), len(report.Candidates)

	// Roadmap proposals travel the same way. A proposal's id begins with
	// its country's code: the votes name their origin.
	const proposal = "lk-2026-07"
	steps := []struct {
		cc, svc, say string
		p            events.Payload
	}{
		{"lk", "node", "Sri Lanka proposes a roadmap item upstream", &events.ProposalSubmitted{ProposalID: proposal, Title: "Offline biometric authentication for rural enrolment centres", Body: "Enrolment centres with intermittent links need local 1:1 matching."}},
		{"ma", "node", "Morocco endorses it", &events.ProposalEndorsed{ProposalID: proposal, Comment: "Same need in the Atlas regions."}},
		{Voice.Code, "cli", Voice.Name + ", which runs no node yet, objects from the dpihub CLI", &events.ProposalObjected{ProposalID: proposal, Reason: "Keeping biometric templates on enrolment laptops widens the attack surface; we prefer a signed offline token."}},
		{"ph", "node", "the Philippines endorses it: two endorsements, but an objection unanswered", &events.ProposalEndorsed{ProposalID: proposal}},
	}
	for _, st := range steps {
		e, err := events.New(events.Source{Country: st.cc, Service: st.svc}, project, st.p)
		if err != nil {
			return nil, err
		}
		out.f("\n* %s:\n", st.say)
		before := count(e.Type())
		if _, err := h.Bus.Publisher(signers[st.cc]).Publish(ctx, e); err != nil {
			return nil, err
		}
		if err := waitFor(ctx, 10*time.Second, func() bool { return count(e.Type()) > before }); err != nil {
			return nil, fmt.Errorf("%s: %w", st.say, err)
		}
		if e.Type() != events.TypeProposalSubmitted {
			res.Votes[st.cc] = events.ShortType(e.Type())
		}
	}

	// A signature proves who speaks, not that they may say it.
	out.f("\n* Sri Lanka endorses its own proposal, signed with its own key\n")
	self, err := events.New(events.Source{Country: "lk", Service: "node"}, project, &events.ProposalEndorsed{ProposalID: proposal})
	if err != nil {
		return nil, err
	}
	if _, err := h.Bus.Publisher(signers["lk"]).Publish(ctx, self); err != nil {
		return nil, err
	}
	// The feed, the proposals service and the terminal view consume
	// proposals; each refuses it.
	const proposalConsumers = 3
	if err := waitFor(ctx, 10*time.Second, func() bool { return len(deadLetters(ctx, h)) >= proposalConsumers }); err != nil {
		return nil, fmt.Errorf("self-endorsement not dead-lettered: %w", err)
	}
	refused := deadLetters(ctx, h)
	for _, dl := range refused {
		out.f("  [%s] refused it, reason %s (%s)\n", dl.Consumer, dl.Reason, dl.Detail)
	}

	// Under the project's rules (2 endorsements, every objection
	// answered), the answer is what the proposal waits for.
	st := psvc.Governor()
	out.f("\n* Under the project's rules (%s), the proposal waits for Sri Lanka to answer Kenya's objection. Sri Lanka answers:\n", st.Rules(project).Summary())
	answer, err := events.New(events.Source{Country: "lk", Service: "node"}, project, &events.ProposalCommented{ProposalID: proposal,
		Comment: "The templates stay encrypted under a key held in the centre's HSM and are wiped after each sync; the signed-token flow stays available."})
	if err != nil {
		return nil, err
	}
	if _, err := h.Bus.Publisher(signers["lk"]).Publish(ctx, answer); err != nil {
		return nil, err
	}
	if err := waitFor(ctx, 10*time.Second, func() bool { p, _, _ := st.Proposal(proposal); return p.Status == events.ProposalAccepted }); err != nil {
		return nil, fmt.Errorf("the proposal was not accepted: %w", err)
	}
	if err := waitFor(ctx, 10*time.Second, func() bool {
		r := mt.received()
		return len(r) > 0 && r[len(r)-1] == events.ShortType(events.TypeProposalStatusChanged)
	}); err != nil {
		return nil, fmt.Errorf("the maintainer did not get the decision: %w", err)
	}
	p, _, _ := st.Proposal(proposal)
	res.ProposalStatus, res.Webhook = p.Status, mt.received()
	out.f("  the proposals service decided: %s is %s (%s)\n", proposal, p.Status, p.History[len(p.History)-1].Reason)

	// A forger with a key of its own claims to be Morocco.
	out.f("\n* someone without Morocco's key publishes a fix claiming to come from Morocco\n")
	rogue, _ := sign.GenerateKey("ma")
	forger, _ := sign.NewSigner(rogue)
	forged, err := events.New(events.Source{Country: "ma", Service: "node"}, project,
		&events.FixPublished{FixID: "ma-evil-1", Title: "Disable OTP rate limiting", Author: events.Person{Name: "Mallory"},
			Commit: strings.Repeat("e", 40), UpstreamBase: strings.Repeat("b", 40), PatchID: strings.Repeat("d", 40),
			Files: []string{"auth/OtpRateLimiter.java"}, Diff: "--- a/x\n+++ b/x\n"})
	if err != nil {
		return nil, err
	}
	if _, err := h.Bus.Publisher(forger).Publish(ctx, forged); err != nil {
		return nil, err
	}
	// Each node's consumer of fixes, the feed, the dedup service and the
	// terminal view refuse it.
	if err := waitFor(ctx, 10*time.Second, func() bool { return len(deadLetters(ctx, h)) >= len(refused)+len(Countries)+3 }); err != nil {
		return nil, fmt.Errorf("forged event not dead-lettered: %w", err)
	}
	res.DeadLetters = deadLetters(ctx, h)
	for _, dl := range res.DeadLetters[len(refused):] {
		out.f("  [%s] refused it, reason %s (%s)\n", dl.Consumer, dl.Reason, dl.Detail)
	}
	out.f("\nNo node acted on the forged event or on the self-endorsement; they sit in the dead-letter stream %s with their reasons.\n", bus.DLQStream)
	out.f("\nMorocco's fix %s across the forks:\n", res.FixID)
	for _, c := range Countries {
		v := res.Verdicts[c.Code]
		if c.Code == "ma" {
			v = "made it"
		}
		out.f("  %-16s %s\n", c.Name, v)
	}
	if campaignCountries(cfg.Countries) != nil {
		quiet.Store(true)
		applied := func() uint64 { seq, _ := fsvc.Store().LastSeq(ctx); return seq }
		if err := playCampaign(ctx, h, min(cfg.Countries, MaxCountries), signers, applied, out); err != nil {
			return nil, err
		}
	}
	if cfg.Ready != nil {
		cfg.Ready(res)
	}
	if cfg.Exit {
		return res, nil
	}
	// NATS lets no one in without credentials: the observer's read.
	observer := h.CredsFile(access.Observer)
	out.f("\nThe hub keeps running:\n  coordinator UI  http://%s/\n  the fix matrix  http://%s/fixes/%s\n  API             http://%s/api/v1/events\n  health          http://%s/healthz\n  metrics         http://%s/metrics\n  events          dpihub tail --server %s --creds %s --all\n  refused         dpihub tail --server %s --creds %s --dlq --all\nPress Ctrl-C to stop.\n",
		h.HTTPAddr, h.HTTPAddr, res.FixID, h.HTTPAddr, h.HTTPAddr, h.HTTPAddr, h.NATSURL(), observer, h.NATSURL(), observer)
	<-ctx.Done()
	out.f("\nstopping\n")
	return res, nil
}

func deadLetters(ctx context.Context, h *hub.Hub) []bus.DeadLetter {
	dls, err := bus.ReadDeadLetters(ctx, h.JS)
	if err != nil {
		return nil
	}
	return dls
}

func waitFor(ctx context.Context, d time.Duration, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

type printer struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *printer) f(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format, args...)
}
