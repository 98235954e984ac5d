package governance

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/dpihub/dpihub/events"
)

// Rules govern the proposals of one project. The zero value of a field
// takes the default (Defaults).
type Rules struct {
	// MinEndorsements: a proposal is accepted once this many countries
	// endorse it and every objection is answered.
	MinEndorsements int `json:"min_endorsements,omitempty"`
	// AnswerWithin: an objection the proposer leaves unanswered this long
	// declines the proposal.
	AnswerWithin Duration `json:"answer_within,omitempty"`
	// DecideAfter: this long after it was submitted, a proposal still open
	// whose objections outnumber its endorsements is declined.
	DecideAfter Duration `json:"decide_after,omitempty"`
	// Maintainers are the SHA-256 (hex) of the tokens with which the
	// project's upstream maintainers mark its proposals implemented and
	// subscribe to them.
	Maintainers []string `json:"maintainers,omitempty"`
}

// Defaults are the rules of a project the rules file does not name, and
// fill the fields a project leaves out.
var Defaults = Rules{
	MinEndorsements: 2,
	AnswerWithin:    Duration(7 * 24 * time.Hour),
	DecideAfter:     Duration(30 * 24 * time.Hour),
}

// With returns r with its unset fields taken from d.
func (r Rules) With(d Rules) Rules {
	if r.MinEndorsements == 0 {
		r.MinEndorsements = d.MinEndorsements
	}
	if r.AnswerWithin == 0 {
		r.AnswerWithin = d.AnswerWithin
	}
	if r.DecideAfter == 0 {
		r.DecideAfter = d.DecideAfter
	}
	if r.Maintainers == nil {
		r.Maintainers = d.Maintainers
	}
	return r
}

func (r Rules) validate() error {
	switch {
	case r.MinEndorsements < 1:
		return fmt.Errorf("min_endorsements %d: at least 1", r.MinEndorsements)
	case r.AnswerWithin <= 0:
		return fmt.Errorf("answer_within %s: must be positive", r.AnswerWithin)
	case r.DecideAfter <= 0:
		return fmt.Errorf("decide_after %s: must be positive", r.DecideAfter)
	}
	for _, m := range r.Maintainers {
		if len(m) != 64 || strings.Trim(m, "0123456789abcdef") != "" {
			return fmt.Errorf("maintainer %q: the SHA-256 of a token, 64 lower-case hex digits", m)
		}
	}
	return nil
}

// Summary says the rules in one sentence.
func (r Rules) Summary() string {
	return fmt.Sprintf("accepted once %d countries endorse it and the proposer has answered every objection; "+
		"declined if an objection stays unanswered for %s, or if objections outnumber endorsements %s after submission",
		r.MinEndorsements, human(time.Duration(r.AnswerWithin)), human(time.Duration(r.DecideAfter)))
}

// RuleBook is the rules of every project: a file's defaults and its
// projects.
type RuleBook struct {
	Defaults Rules            `json:"defaults"`
	Projects map[string]Rules `json:"projects,omitempty"`
}

// For returns the rules of project.
func (b *RuleBook) For(project string) Rules {
	if b == nil {
		return Defaults
	}
	d := b.Defaults.With(Defaults)
	if r, ok := b.Projects[project]; ok {
		return r.With(d)
	}
	return d
}

// Validate checks every project's rules and name.
func (b *RuleBook) Validate() error {
	if err := b.Defaults.With(Defaults).validate(); err != nil {
		return fmt.Errorf("defaults: %w", err)
	}
	names := make([]string, 0, len(b.Projects))
	for p := range b.Projects {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		if !events.ValidProject(p) {
			return fmt.Errorf("project %q is not a project slug", p)
		}
		if err := b.For(p).validate(); err != nil {
			return fmt.Errorf("project %s: %w", p, err)
		}
	}
	return nil
}

// LoadRuleBook reads a rules file (JSON): {"defaults": {...}, "projects":
// {"<slug>": {...}}}. Unknown fields are errors: a misspelt rule must not
// silently take its default.
func LoadRuleBook(path string) (*RuleBook, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	var b RuleBook
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("rules %s: %w", path, err)
	}
	if err := b.Validate(); err != nil {
		return nil, fmt.Errorf("rules %s: %w", path, err)
	}
	return &b, nil
}

// Duration is a time.Duration written as Go writes one ("72h", "30m").
type Duration time.Duration

// MarshalJSON writes d as a string, e.g. "168h0m0s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a string such as "72h".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"72h\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

func (d Duration) String() string { return time.Duration(d).String() }

// human writes a duration in days or hours, for sentences.
func human(d time.Duration) string {
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	case d >= time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%d hours", d/time.Hour)
	}
	return d.String()
}
