// Package governance holds the rules of roadmap proposals: the states a
// proposal goes through, who moves it, and when the hub's proposals
// service accepts or declines it under its project's rules. It is pure:
// no NATS, no HTTP, no clock of its own. The service feeds it the stream's
// events in order (Apply) and asks it, now and then, what it would decide
// (Decide); its decisions come back through the stream like any event, so
// a replay of the stream rebuilds the same state (Digest) every time.
//
// A proposal is open when submitted. Other countries endorse or object
// (one vote per country, the latest counting, changeable while the
// proposal is open); anyone comments; a comment by the proposer answers
// every objection made before it. Under its project's Rules the service
// accepts it (enough endorsements and no objection unanswered) or
// declines it (an objection left unanswered too long, or objections
// outnumbering endorsements after the deadline). Its proposer may
// withdraw it while it is open or accepted; the service marks it
// implemented for the upstream maintainer. Declined, withdrawn and
// implemented are final.
package governance

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/dpihub/dpihub/events"
)

// Errors of the rules. Each is of kind events.ErrBadInput or
// events.ErrNotFound: the event that breaks them is refused with the
// reason, and changes nothing.
var (
	// ErrUnknownProposal: the event names a proposal that was never
	// submitted.
	ErrUnknownProposal = events.Sentinel(events.ErrNotFound, "no such proposal")
	// ErrDuplicate: a proposal with this id was submitted before.
	ErrDuplicate = events.Sentinel(events.ErrBadInput, "proposal already submitted")
	// ErrClosed: the proposal no longer takes votes, or no longer moves.
	ErrClosed = events.Sentinel(events.ErrBadInput, "proposal closed")
	// ErrTransition: a status change that the state machine does not
	// allow, or whose from is not the proposal's status.
	ErrTransition = events.Sentinel(events.ErrBadInput, "invalid transition")
)

// transitions are the moves the state machine allows.
var transitions = map[string][]string{
	events.ProposalOpen:     {events.ProposalAccepted, events.ProposalDeclined, events.ProposalWithdrawn, events.ProposalImplemented},
	events.ProposalAccepted: {events.ProposalWithdrawn, events.ProposalImplemented},
}

// Allowed reports whether a proposal may move from status from to to.
func Allowed(from, to string) bool {
	return slices.Contains(transitions[events.ProposalStatus(from)], events.ProposalStatus(to))
}

// Final reports whether status s is final: nothing moves it again.
func Final(s string) bool { _, moves := transitions[events.ProposalStatus(s)]; return !moves }

// Input is one event of the stream as the rules see it: who sent it, about
// which project, when the hub stored it, its place in the stream and its
// payload.
type Input struct {
	Source  events.Source
	Project string
	Stored  time.Time // the JetStream time: the same on every replay
	Seq     uint64    // stream sequence: the order of events
	Payload events.Payload
}

// Vote is one country's latest vote on a proposal.
type Vote struct {
	Country string    `json:"country"`
	Endorse bool      `json:"endorse"`
	Text    string    `json:"text,omitempty"` // the objection's reason, the endorsement's comment
	At      time.Time `json:"at"`
	Seq     uint64    `json:"seq"`
}

// Change is one status change.
type Change struct {
	From   string    `json:"from"`
	To     string    `json:"to"`
	By     string    `json:"by"` // the source
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
}

// Proposal is one proposal's state.
type Proposal struct {
	ID        string          `json:"id"`
	Country   string          `json:"country"` // the proposer
	Project   string          `json:"project"`
	Title     string          `json:"title"`
	Status    string          `json:"status"`
	Submitted time.Time       `json:"submitted"`
	Votes     map[string]Vote `json:"votes"` // by country, the latest
	// Answered is the stream sequence of the proposer's latest comment:
	// it answers every objection made before it.
	Answered uint64   `json:"answered,omitempty"`
	History  []Change `json:"history,omitempty"`
}

// Endorsers and Objectors are the countries voting each way, sorted.
func (p *Proposal) Endorsers() []string { return p.voters(true) }

// Objectors are the countries objecting, sorted.
func (p *Proposal) Objectors() []string { return p.voters(false) }

func (p *Proposal) voters(endorse bool) []string {
	var out []string
	for cc, v := range p.Votes {
		if v.Endorse == endorse {
			out = append(out, cc)
		}
	}
	sort.Strings(out)
	return out
}

// Unanswered are the objections the proposer has not answered, oldest
// first.
func (p *Proposal) Unanswered() []Vote {
	var out []Vote
	for _, v := range p.Votes {
		if !v.Endorse && v.Seq > p.Answered {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out
}

// Board is every proposal's state: the projection of the stream's
// proposal events. It is not safe for concurrent use; the service guards
// it.
type Board struct {
	rules     *RuleBook
	proposals map[string]*Proposal
}

// NewBoard returns an empty board under rules (nil: Defaults everywhere).
func NewBoard(rules *RuleBook) *Board {
	return &Board{rules: rules, proposals: map[string]*Proposal{}}
}

// Rules returns the rules of project.
func (b *Board) Rules(project string) Rules { return b.rules.For(project) }

// Proposal returns a copy of proposal id's state.
func (b *Board) Proposal(id string) (Proposal, bool) {
	p, ok := b.proposals[id]
	if !ok {
		return Proposal{}, false
	}
	c := *p
	c.Votes = make(map[string]Vote, len(p.Votes))
	for k, v := range p.Votes {
		c.Votes[k] = v
	}
	c.History = slices.Clone(p.History)
	return c, true
}

// IDs returns the ids of every proposal, sorted.
func (b *Board) IDs() []string {
	ids := make([]string, 0, len(b.proposals))
	for id := range b.proposals {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Apply applies one event. An event that breaks the rules changes nothing
// and returns the reason (ErrUnknownProposal, ErrDuplicate, ErrClosed,
// ErrTransition); payloads that are not about proposals' governance are
// ignored. Who may send what is events.Authorize's job, checked before.
func (b *Board) Apply(in Input) error {
	switch p := in.Payload.(type) {
	case events.ProposalSubmitted:
		if _, ok := b.proposals[p.ProposalID]; ok {
			return events.Errorf(ErrDuplicate, "proposal %s was submitted before", p.ProposalID)
		}
		b.proposals[p.ProposalID] = &Proposal{ID: p.ProposalID, Country: in.Source.Country, Project: in.Project,
			Title: p.Title, Status: events.ProposalOpen, Submitted: in.Stored, Votes: map[string]Vote{}}
		return nil
	case events.ProposalEndorsed:
		return b.vote(in, p.ProposalID, true, p.Comment)
	case events.ProposalObjected:
		return b.vote(in, p.ProposalID, false, p.Reason)
	case events.ProposalCommented:
		pr, err := b.find(in, p.ProposalID)
		if err != nil {
			return err
		}
		if in.Source.Country == pr.Country {
			pr.Answered = in.Seq
		}
		return nil
	case events.ProposalStatusChanged:
		pr, err := b.find(in, p.ProposalID)
		if err != nil {
			return err
		}
		from, to := events.ProposalStatus(p.From), events.ProposalStatus(p.To)
		switch {
		case from != pr.Status:
			return events.Errorf(ErrTransition, "%s from %s to %s: the proposal is %s", p.ProposalID, from, to, pr.Status)
		case Final(pr.Status):
			return events.Errorf(ErrClosed, "%s is %s: it does not move again", p.ProposalID, pr.Status)
		case !Allowed(from, to):
			return events.Errorf(ErrTransition, "%s from %s to %s: an %s proposal becomes %s only", p.ProposalID, from, to, from, strings.Join(transitions[from], ", "))
		}
		pr.History = append(pr.History, Change{From: from, To: to, By: in.Source.String(), Reason: p.Reason, At: in.Stored})
		pr.Status = to
		return nil
	}
	return nil
}

func (b *Board) find(in Input, id string) (*Proposal, error) {
	pr, ok := b.proposals[id]
	if !ok {
		return nil, events.Errorf(ErrUnknownProposal, "%s names proposal %s, which was never submitted", events.DescribePayload(in.Payload), id)
	}
	if pr.Project != in.Project {
		return nil, events.Errorf(ErrUnknownProposal, "proposal %s is about %s, not %s", id, pr.Project, in.Project)
	}
	return pr, nil
}

func (b *Board) vote(in Input, id string, endorse bool, text string) error {
	pr, err := b.find(in, id)
	if err != nil {
		return err
	}
	if pr.Status != events.ProposalOpen {
		return events.Errorf(ErrClosed, "%s is %s: votes were taken while it was open", id, pr.Status)
	}
	pr.Votes[in.Source.Country] = Vote{Country: in.Source.Country, Endorse: endorse, Text: text, At: in.Stored, Seq: in.Seq}
	return nil
}

// Decision is a status change the rules call for.
type Decision struct {
	ProposalID string
	Project    string
	From, To   string
	Reason     string
}

// Decide returns what the rules decide at time now, for every open
// proposal, in id order. It changes nothing: the decisions take effect
// when their events come back through the stream.
func (b *Board) Decide(now time.Time) []Decision {
	var out []Decision
	for _, id := range b.IDs() {
		pr := b.proposals[id]
		if pr.Status != events.ProposalOpen {
			continue
		}
		if to, reason := decide(pr, b.rules.For(pr.Project), now); to != "" {
			out = append(out, Decision{ProposalID: id, Project: pr.Project, From: pr.Status, To: to, Reason: reason})
		}
	}
	return out
}

// decide applies r to an open proposal at now: acceptance first, then
// the two ways to decline.
func decide(p *Proposal, r Rules, now time.Time) (to, reason string) {
	endorsers, objectors, unanswered := p.Endorsers(), p.Objectors(), p.Unanswered()
	if len(endorsers) >= r.MinEndorsements && len(unanswered) == 0 {
		reason := fmt.Sprintf("endorsed by %d countries (%s), at least %d", len(endorsers), strings.Join(endorsers, ", "), r.MinEndorsements)
		if len(objectors) > 0 {
			reason += fmt.Sprintf("; the proposer answered the objections of %s", strings.Join(objectors, ", "))
		}
		return events.ProposalAccepted, reason
	}
	if len(unanswered) > 0 {
		if o := unanswered[0]; !now.Before(o.At.Add(time.Duration(r.AnswerWithin))) {
			return events.ProposalDeclined, fmt.Sprintf("the objection of %s stayed unanswered for %s", o.Country, human(time.Duration(r.AnswerWithin)))
		}
	}
	if !now.Before(p.Submitted.Add(time.Duration(r.DecideAfter))) && len(objectors) > len(endorsers) {
		return events.ProposalDeclined, fmt.Sprintf("%s after submission, %d objections (%s) outnumber %d endorsements",
			human(time.Duration(r.DecideAfter)), len(objectors), strings.Join(objectors, ", "), len(endorsers))
	}
	return "", ""
}

// Outlook is a proposal's standing under its project's rules: the rules,
// what would move it next, and when the next timed rule applies.
type Outlook struct {
	Rules      string    `json:"rules"`
	Next       string    `json:"next,omitempty"`
	Deadline   time.Time `json:"deadline,omitempty"`
	Unanswered []string  `json:"unanswered,omitempty"`
}

// Outlook returns proposal id's standing at now.
func (b *Board) Outlook(id string, now time.Time) (Outlook, bool) {
	p, ok := b.proposals[id]
	if !ok {
		return Outlook{}, false
	}
	r := b.rules.For(p.Project)
	o := Outlook{Rules: r.Summary()}
	for _, v := range p.Unanswered() {
		o.Unanswered = append(o.Unanswered, v.Country)
	}
	if p.Status != events.ProposalOpen {
		return o, true
	}
	var needs []string
	if n := r.MinEndorsements - len(p.Endorsers()); n > 0 {
		needs = append(needs, plural(n, "more endorsement", "more endorsements"))
	}
	if len(o.Unanswered) > 0 {
		needs = append(needs, "the proposer's answer to the objection of "+strings.Join(o.Unanswered, ", "))
	}
	if len(needs) > 0 {
		o.Next = "accepted with " + strings.Join(needs, " and ")
	}
	o.Deadline = p.Submitted.Add(time.Duration(r.DecideAfter))
	if u := p.Unanswered(); len(u) > 0 {
		if d := u[0].At.Add(time.Duration(r.AnswerWithin)); d.Before(o.Deadline) {
			o.Deadline = d
		}
	}
	return o, true
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// Digest is the SHA-256 of the whole board, in id order: two boards built
// from the same stream have the same digest.
func (b *Board) Digest() string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	for _, id := range b.IDs() {
		_ = enc.Encode(b.proposals[id]) // maps are encoded in key order
	}
	return hex.EncodeToString(h.Sum(nil))
}
