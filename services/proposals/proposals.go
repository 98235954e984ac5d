package proposals

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/services/proposals/governance"
)

// Errors of the service's own requests.
var (
	// ErrNotMaintainer: the token is neither the service's nor one of the
	// project's maintainers'.
	ErrNotMaintainer = events.Sentinel(events.ErrForbidden, "not a maintainer of the project")
)

// Publisher publishes the service's decisions as proposal.status.changed
// events, signed with the hub's key as urn:dpihub:hub:proposals. The id
// of a decision's event is the same whoever makes it and however often
// (DecisionID), so a decision published twice is stored once.
type Publisher interface {
	PublishDecision(ctx context.Context, d governance.Decision) error
}

// DecisionID is the event id of decision d: one per proposal and status,
// since a proposal reaches a status once.
func DecisionID(d governance.Decision) string {
	return fmt.Sprintf("hub-%s-%s", d.ProposalID, d.To)
}

// Governor is the proposals service's domain: the board of every proposal
// (governance.Board), fed the stream's events in order, and the decisions
// it publishes. It is safe for concurrent use.
type Governor struct {
	mu    sync.Mutex
	board *governance.Board
	pub   Publisher
	now   func() time.Time
	log   *zap.Logger
	// pending are decisions published but not yet seen back in the
	// stream: proposal id -> status. They are not made again meanwhile.
	pending map[string]string
	// admin is the SHA-256 of the service's own API token (nil: none).
	admin []byte
}

// Config configures a Governor.
type Config struct {
	Rules     *governance.RuleBook // nil: governance.Defaults for every project
	Publisher Publisher
	Now       func() time.Time // nil: time.Now
	Logger    *zap.Logger      // nil: no logs
	// AdminTokenSHA256 is the SHA-256 of the token that may act for every
	// project (the hub operator's). Empty: only maintainers' tokens.
	AdminTokenSHA256 []byte
}

// New returns a Governor with an empty board.
func New(cfg Config) *Governor {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	return &Governor{board: governance.NewBoard(cfg.Rules), pub: cfg.Publisher, now: cfg.Now, log: cfg.Logger,
		pending: map[string]string{}, admin: cfg.AdminTokenSHA256}
}

// Apply applies one event of the stream (governance.Board.Apply). An error
// is the rule it breaks: the event changes nothing.
func (g *Governor) Apply(in governance.Input) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.board.Apply(in); err != nil {
		return err
	}
	if sc, ok := in.Payload.(events.ProposalStatusChanged); ok {
		delete(g.pending, sc.ProposalID)
	}
	return nil
}

// Decide publishes what the rules decide now, except decisions already
// published and not yet seen back. It returns the decisions published.
// Call it only once the board has caught up with the stream: a board
// behind the stream would decide on old news.
func (g *Governor) Decide(ctx context.Context) ([]governance.Decision, error) {
	g.mu.Lock()
	var todo []governance.Decision
	for _, d := range g.board.Decide(g.now()) {
		if g.pending[d.ProposalID] != d.To {
			todo = append(todo, d)
		}
	}
	g.mu.Unlock()
	var done []governance.Decision
	for _, d := range todo {
		if err := g.pub.PublishDecision(ctx, d); err != nil {
			return done, fmt.Errorf("decide %s %s: %w", d.ProposalID, d.To, err)
		}
		g.mu.Lock()
		g.pending[d.ProposalID] = d.To
		g.mu.Unlock()
		g.log.Info("decided", zap.String("proposal", d.ProposalID), zap.String("project", d.Project),
			zap.String("to", d.To), zap.String("reason", d.Reason))
		done = append(done, d)
	}
	return done, nil
}

// MarkImplemented publishes that proposal id is implemented, for the
// upstream maintainer whose token is token (or the service's admin). The
// proposal must be open or accepted.
func (g *Governor) MarkImplemented(ctx context.Context, id, token, reason string) (governance.Decision, error) {
	g.mu.Lock()
	p, ok := g.board.Proposal(id)
	if !ok {
		g.mu.Unlock()
		return governance.Decision{}, events.Errorf(governance.ErrUnknownProposal, "no proposal %s", id)
	}
	if !g.mayAct(p.Project, token) {
		g.mu.Unlock()
		return governance.Decision{}, events.Errorf(ErrNotMaintainer, "the token is not one of %s's maintainers'", p.Project)
	}
	if !governance.Allowed(p.Status, events.ProposalImplemented) {
		g.mu.Unlock()
		return governance.Decision{}, events.Errorf(governance.ErrTransition, "%s is %s: only an open or accepted proposal is implemented", id, p.Status)
	}
	g.mu.Unlock()
	if reason == "" {
		reason = "implemented upstream, as its maintainer says"
	}
	d := governance.Decision{ProposalID: id, Project: p.Project, From: p.Status, To: events.ProposalImplemented, Reason: reason}
	if err := g.pub.PublishDecision(ctx, d); err != nil {
		return governance.Decision{}, err
	}
	return d, nil
}

// MayAct reports whether token acts for project: the admin's, or one of
// the project's maintainers'.
func (g *Governor) MayAct(project, token string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.mayAct(project, token)
}

// IsAdmin reports whether token is the service's admin token.
func (g *Governor) IsAdmin(token string) bool {
	sum := sha256.Sum256([]byte(token))
	return token != "" && len(g.admin) == sha256.Size && subtle.ConstantTimeCompare(sum[:], g.admin) == 1
}

func (g *Governor) mayAct(project, token string) bool {
	if token == "" {
		return false
	}
	if g.IsAdmin(token) {
		return true
	}
	sum := sha256.Sum256([]byte(token))
	hexSum := hex.EncodeToString(sum[:])
	return slices.ContainsFunc(g.board.Rules(project).Maintainers, func(m string) bool {
		return subtle.ConstantTimeCompare([]byte(m), []byte(hexSum)) == 1
	})
}

// Proposal returns proposal id's state and its outlook now.
func (g *Governor) Proposal(id string) (governance.Proposal, governance.Outlook, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	p, ok := g.board.Proposal(id)
	if !ok {
		return governance.Proposal{}, governance.Outlook{}, false
	}
	o, _ := g.board.Outlook(id, g.now())
	return p, o, true
}

// Outlook returns proposal id's standing under its project's rules at
// now: what the feed shows.
func (g *Governor) Outlook(id string, now time.Time) (governance.Outlook, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.board.Outlook(id, now)
}

// Rules returns the rules of project.
func (g *Governor) Rules(project string) governance.Rules {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.board.Rules(project)
}

// Digest is the board's digest (governance.Board.Digest).
func (g *Governor) Digest() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.board.Digest()
}
