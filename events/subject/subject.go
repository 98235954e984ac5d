// Package subject maps dpihub events to NATS subjects and back.
//
// Every event travels on a subject of exactly five tokens:
//
//	dpi.<country>.<kind>.<verb>.<project>
//
// <kind> is the first word of the event type after org.dpihub (fix, fork,
// proposal, node); <verb> is the rest of it with dots turned into dashes
// (published, status-changed, duplicate-detected), so that every subject has
// the same number of tokens and wildcards line up: a maintainer subscribes
// to dpi.*.proposal.*.<project>, a country may publish only on dpi.<cc>.>.
// Events that are not about a project (node.heartbeat) use "_" as project.
package subject

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"
)

// Root is the first token of every event subject; All matches them all.
const (
	Root      = "dpi"
	All       = Root + ".>"
	NoProject = "_"
)

// ErrInvalid is wrapped by every parse and build error.
var ErrInvalid = errors.New("invalid subject")

var (
	countryRE = regexp.MustCompile(`^([a-z]{2}|hub)$`)
	wordRE    = regexp.MustCompile(`^[a-z][a-z0-9]*$`)
	verbRE    = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z][a-z0-9]*)*$`)
	projectRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,99}$`)
)

// Subject is a parsed event subject.
type Subject struct {
	Country string // "ma" or "hub"
	Kind    string // "fix"
	Verb    string // "published", "status-changed"
	Project string // project slug, or NoProject
}

// String returns the NATS subject.
func (s Subject) String() string {
	return Root + "." + s.Country + "." + s.Kind + "." + s.Verb + "." + s.Project
}

// Type returns the event type the subject carries, e.g.
// org.dpihub.proposal.status.changed.v1.
func (s Subject) Type() string {
	return "org.dpihub." + s.Kind + "." + strings.ReplaceAll(s.Verb, "-", ".") + ".v1"
}

// Validate checks every token.
func (s Subject) Validate() error {
	switch {
	case !countryRE.MatchString(s.Country):
		return fmt.Errorf("%w: country token %q", ErrInvalid, s.Country)
	case !wordRE.MatchString(s.Kind):
		return fmt.Errorf("%w: kind token %q", ErrInvalid, s.Kind)
	case !verbRE.MatchString(s.Verb):
		return fmt.Errorf("%w: verb token %q", ErrInvalid, s.Verb)
	case s.Project != NoProject && !projectRE.MatchString(s.Project):
		return fmt.Errorf("%w: project token %q", ErrInvalid, s.Project)
	}
	return nil
}

// Parse parses and validates a NATS subject.
func Parse(s string) (Subject, error) {
	t := strings.Split(s, ".")
	if len(t) != 5 || t[0] != Root {
		return Subject{}, fmt.Errorf("%w: %q is not dpi.<country>.<kind>.<verb>.<project>", ErrInvalid, s)
	}
	sub := Subject{Country: t[1], Kind: t[2], Verb: t[3], Project: t[4]}
	if err := sub.Validate(); err != nil {
		return Subject{}, fmt.Errorf("%w (in %q)", err, s)
	}
	return sub, nil
}

// For returns the subject of an event of type typ from country about
// project ("" for none).
func For(country, typ, project string) (Subject, error) {
	rest, ok := strings.CutPrefix(typ, "org.dpihub.")
	if !ok {
		return Subject{}, fmt.Errorf("%w: type %q is not org.dpihub.*", ErrInvalid, typ)
	}
	parts := strings.Split(rest, ".")
	if len(parts) < 3 || parts[len(parts)-1] != "v1" {
		return Subject{}, fmt.Errorf("%w: type %q is not org.dpihub.<kind>.<verb>.v1", ErrInvalid, typ)
	}
	for _, w := range parts[:len(parts)-1] {
		if !wordRE.MatchString(w) {
			return Subject{}, fmt.Errorf("%w: type %q has word %q; type words are [a-z][a-z0-9]*", ErrInvalid, typ, w)
		}
	}
	if project == "" {
		project = NoProject
	}
	s := Subject{
		Country: country,
		Kind:    parts[0],
		Verb:    strings.Join(parts[1:len(parts)-1], "-"),
		Project: project,
	}
	if err := s.Validate(); err != nil {
		return Subject{}, err
	}
	return s, nil
}

// Filter builds a subscription subject; an empty argument becomes the
// wildcard "*", and dots in verb become dashes as in event subjects.
// Filter("", "proposal", "", "mosip-id-repository") is
// dpi.*.proposal.*.mosip-id-repository. Filter does not validate; a
// filter that names no valid subject simply matches nothing.
func Filter(country, kind, verb, project string) string {
	verb = strings.ReplaceAll(verb, ".", "-")
	w := func(s string) string {
		if s == "" {
			return "*"
		}
		return s
	}
	return Root + "." + w(country) + "." + w(kind) + "." + w(verb) + "." + w(project)
}

// Of returns the subject an event travels on, from its country extension,
// type and subject (project).
func Of(e event.Event) (Subject, error) {
	cc, _ := e.Extensions()["country"].(string)
	return For(cc, e.Type(), e.Subject())
}
