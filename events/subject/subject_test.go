package subject_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/subject"
)

const project = "mosip-id-repository"

func TestParseAcceptsEventSubjects(t *testing.T) {
	tests := []struct {
		in   string
		want subject.Subject
		typ  string
	}{
		{"dpi.ma.fix.published.mosip-id-repository",
			subject.Subject{Country: "ma", Kind: "fix", Verb: "published", Project: project},
			events.TypeFixPublished},
		{"dpi.hub.fork.duplicate-detected.mosip-id-repository",
			subject.Subject{Country: "hub", Kind: "fork", Verb: "duplicate-detected", Project: project},
			events.TypeForkDuplicateDetected},
		{"dpi.ph.proposal.status-changed.mojaloop-central-ledger",
			subject.Subject{Country: "ph", Kind: "proposal", Verb: "status-changed", Project: "mojaloop-central-ledger"},
			events.TypeProposalStatusChanged},
		{"dpi.lk.node.heartbeat._",
			subject.Subject{Country: "lk", Kind: "node", Verb: "heartbeat", Project: subject.NoProject},
			events.TypeNodeHeartbeat},
		{"dpi.ma.fix.published.0",
			subject.Subject{Country: "ma", Kind: "fix", Verb: "published", Project: "0"},
			events.TypeFixPublished},
		{"dpi.ma.fix.published." + strings.Repeat("a", 100),
			subject.Subject{Country: "ma", Kind: "fix", Verb: "published", Project: strings.Repeat("a", 100)},
			events.TypeFixPublished},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := subject.Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got != tt.want {
				t.Errorf("Parse = %+v, want %+v", got, tt.want)
			}
			if got.String() != tt.in {
				t.Errorf("String() = %q, want the input back", got.String())
			}
			if got.Type() != tt.typ {
				t.Errorf("Type() = %q, want %q", got.Type(), tt.typ)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct{ name, in string }{
		{"the empty string", ""},
		{"the root alone", "dpi"},
		{"four tokens", "dpi.ma.fix.published"},
		{"six tokens (a verb with a dot)", "dpi.hub.fork.duplicate.detected.mosip-id-repository"},
		{"another root", "dpx.ma.fix.published.mosip-id-repository"},
		{"an upper-case root", "DPI.ma.fix.published.mosip-id-repository"},
		{"an upper-case country", "dpi.MA.fix.published.mosip-id-repository"},
		{"a three-letter country", "dpi.mar.fix.published.mosip-id-repository"},
		{"a one-letter country", "dpi.m.fix.published.mosip-id-repository"},
		{"a numeric country", "dpi.12.fix.published.mosip-id-repository"},
		{"an upper-case kind", "dpi.ma.Fix.published.mosip-id-repository"},
		{"a kind with a dash", "dpi.ma.fix-x.published.mosip-id-repository"},
		{"a kind starting with a digit", "dpi.ma.1fix.published.mosip-id-repository"},
		{"an upper-case verb", "dpi.ma.fix.Published.mosip-id-repository"},
		{"a verb ending in a dash", "dpi.ma.fix.published-.mosip-id-repository"},
		{"a verb starting with a dash", "dpi.ma.fix.-published.mosip-id-repository"},
		{"a verb with a double dash", "dpi.ma.proposal.status--changed.mosip-id-repository"},
		{"an upper-case project", "dpi.ma.fix.published.MOSIP-id-repository"},
		{"a project starting with a dash", "dpi.ma.fix.published.-mosip"},
		{"a project with an underscore", "dpi.ma.fix.published.mosip_id"},
		{"a project of two underscores", "dpi.ma.fix.published.__"},
		{"a project over 100 characters", "dpi.ma.fix.published." + strings.Repeat("a", 101)},
		{"an empty country", "dpi..fix.published.mosip-id-repository"},
		{"an empty kind", "dpi.ma..published.mosip-id-repository"},
		{"an empty verb", "dpi.ma.fix..mosip-id-repository"},
		{"an empty project", "dpi.ma.fix.published."},
		{"a leading dot", ".dpi.ma.fix.published.mosip-id-repository"},
		{"a wildcard country", "dpi.*.fix.published.mosip-id-repository"},
		{"a wildcard kind", "dpi.ma.*.published.mosip-id-repository"},
		{"a wildcard verb", "dpi.ma.fix.*.mosip-id-repository"},
		{"a wildcard project", "dpi.ma.fix.published.*"},
		{"a full wildcard as project", "dpi.ma.fix.published.>"},
		{"the full wildcard", "dpi.>"},
		{"a space in a token", "dpi.ma.fix.published.mosip id"},
		{"a trailing newline", "dpi.ma.fix.published.mosip-id-repository\n"},
		{"a non-ASCII letter", "dpi.ma.fix.publiéd.mosip-id-repository"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := subject.Parse(tt.in)
			if !errors.Is(err, subject.ErrInvalid) {
				t.Fatalf("Parse(%q) = %+v, %v; want an error wrapping ErrInvalid", tt.in, got, err)
			}
			if got != (subject.Subject{}) {
				t.Errorf("Parse returned %+v with its error, want the zero Subject", got)
			}
		})
	}
}

func TestForMapsEveryCatalogTypeAndBack(t *testing.T) {
	for _, spec := range events.Catalog() {
		for _, cc := range []string{"ma", "hub"} {
			t.Run(cc+"/"+spec.Type, func(t *testing.T) {
				p := ""
				if spec.Project {
					p = project
				}
				s, err := subject.For(cc, spec.Type, p)
				if err != nil {
					t.Fatalf("For: %v", err)
				}
				want := "dpi." + cc + "." + spec.Kind + "." + strings.ReplaceAll(spec.Verb, ".", "-") + "."
				if p == "" {
					want += "_"
				} else {
					want += p
				}
				if s.String() != want {
					t.Errorf("For = %q, want %q", s, want)
				}
				if s.Type() != spec.Type {
					t.Errorf("Type() = %q, want %q", s.Type(), spec.Type)
				}
				back, err := subject.Parse(s.String())
				if err != nil || back != s {
					t.Errorf("Parse(%q) = %+v, %v; want %+v", s, back, err, s)
				}
			})
		}
	}
}

func TestForRejects(t *testing.T) {
	tests := []struct{ name, cc, typ, project string }{
		{"a type outside org.dpihub", "ma", "com.example.fix.published.v1", project},
		{"a type without a verb", "ma", "org.dpihub.fix.v1", project},
		{"a type without a version", "ma", "org.dpihub.fix.published", project},
		{"a major version the subject cannot carry", "ma", "org.dpihub.fix.published.v2", project},
		{"an upper-case kind", "ma", "org.dpihub.Fix.published.v1", project},
		{"an empty country", "", events.TypeFixPublished, project},
		{"an upper-case country", "MA", events.TypeFixPublished, project},
		{"a wildcard country", "*", events.TypeFixPublished, project},
		{"a wildcard project", "ma", events.TypeFixPublished, "*"},
		{"a full-wildcard project", "ma", events.TypeFixPublished, ">"},
		{"a project with a dot", "ma", events.TypeFixPublished, "mosip.id-repository"},
		{"an upper-case project", "ma", events.TypeFixPublished, "Mosip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if s, err := subject.For(tt.cc, tt.typ, tt.project); !errors.Is(err, subject.ErrInvalid) {
				t.Errorf("For(%q, %q, %q) = %q, %v; want ErrInvalid", tt.cc, tt.typ, tt.project, s, err)
			}
		})
	}
}

func TestOfNamesTheSubjectOfAnEvent(t *testing.T) {
	for _, spec := range events.Catalog() {
		t.Run(spec.Type, func(t *testing.T) {
			p, _ := events.Sample(spec.Type)
			proj := ""
			if spec.Project {
				proj = project
			}
			e, err := events.New(events.Source{Country: "lk", Service: "node"}, proj, p)
			if err != nil {
				t.Fatal(err)
			}
			s, err := subject.Of(e)
			if err != nil {
				t.Fatalf("Of: %v", err)
			}
			want, _ := subject.For("lk", spec.Type, proj)
			if s != want || s.Country != "lk" {
				t.Errorf("Of = %q, want %q", s, want)
			}
		})
	}
	t.Run("an event without a country extension", func(t *testing.T) {
		p, _ := events.Sample(events.TypeFixAdopted)
		e, err := events.New(events.Source{Country: "lk", Service: "node"}, project, p)
		if err != nil {
			t.Fatal(err)
		}
		e.SetExtension(events.ExtCountry, nil)
		if s, err := subject.Of(e); !errors.Is(err, subject.ErrInvalid) {
			t.Errorf("Of = %q, %v; want ErrInvalid", s, err)
		}
	})
}

// match reports whether NATS subject s matches filter f ("*" one token, ">"
// one or more trailing tokens).
func match(f, s string) bool {
	ft, st := strings.Split(f, "."), strings.Split(s, ".")
	for i, tok := range ft {
		if tok == ">" {
			return len(st) > i
		}
		if i >= len(st) || (tok != "*" && tok != st[i]) {
			return false
		}
	}
	return len(ft) == len(st)
}

func TestFilterSelectsTheIntendedSubjects(t *testing.T) {
	subjects := []string{
		"dpi.ma.fix.published.mosip-id-repository",
		"dpi.ph.fix.assessed.mosip-id-repository",
		"dpi.ma.proposal.submitted.mosip-id-repository",
		"dpi.lk.proposal.endorsed.mosip-id-repository",
		"dpi.ph.proposal.status-changed.mojaloop-central-ledger",
		"dpi.hub.proposal.duplicate-detected.mosip-id-repository",
		"dpi.ma.node.heartbeat._",
	}
	tests := []struct {
		name                         string
		country, kind, verb, project string
		filter                       string
		want                         []int // indexes into subjects
	}{
		{"everything", "", "", "", "", "dpi.*.*.*.*", []int{0, 1, 2, 3, 4, 5, 6}},
		{"a maintainer's proposals", "", "proposal", "", project, "dpi.*.proposal.*.mosip-id-repository", []int{2, 3, 5}},
		{"one country's events", "ma", "", "", "", "dpi.ma.*.*.*", []int{0, 2, 6}},
		{"fixes published anywhere", "", "fix", "published", "", "dpi.*.fix.published.*", []int{0}},
		{"status changes (dashed verb)", "", "proposal", "status-changed", "", "dpi.*.proposal.status-changed.*", []int{4}},
		{"heartbeats (no project)", "", "node", "heartbeat", subject.NoProject, "dpi.*.node.heartbeat._", []int{6}},
		{"the hub's duplicate reports", events.HubCountry, "", "duplicate-detected", "", "dpi.hub.*.duplicate-detected.*", []int{5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := subject.Filter(tt.country, tt.kind, tt.verb, tt.project)
			if f != tt.filter {
				t.Fatalf("Filter = %q, want %q", f, tt.filter)
			}
			var got []int
			for i, s := range subjects {
				if match(f, s) {
					got = append(got, i)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("%s matches subjects %v, want %v", f, got, tt.want)
			}
		})
	}
	// Every event subject lies under All, the stream's subject.
	for _, s := range subjects {
		if !match(subject.All, s) {
			t.Errorf("%s is not under %s", s, subject.All)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"dpi.ma.fix.published.mosip-id-repository",
		"dpi.hub.proposal.status-changed.mojaloop-central-ledger",
		"dpi.lk.node.heartbeat._",
		"dpi.*.proposal.*.mosip-id-repository",
		"dpi.>",
		"dpi..fix.published.x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := subject.Parse(in)
		if err != nil {
			if !errors.Is(err, subject.ErrInvalid) {
				t.Fatalf("Parse(%q): %v does not wrap ErrInvalid", in, err)
			}
			return
		}
		if s.String() != in {
			t.Fatalf("Parse(%q).String() = %q", in, s.String())
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("Parse(%q) gave %+v that does not validate: %v", in, s, err)
		}
		if strings.ContainsAny(in, "*> \t\r\n") {
			t.Fatalf("Parse(%q) accepted a wildcard or whitespace", in)
		}
		if !strings.HasPrefix(s.Type(), "org.dpihub."+s.Kind+".") {
			t.Fatalf("Parse(%q).Type() = %q", in, s.Type())
		}
	})
}

// A maintainer of the MOSIP ID repository subscribes to every proposal event
// about it, from every country.
func ExampleFilter() {
	fmt.Println(subject.Filter("", "proposal", "", "mosip-id-repository"))
	fmt.Println(subject.Filter("ma", "", "", ""))
	fmt.Println(subject.Filter("", "proposal", "status-changed", ""))
	// Output:
	// dpi.*.proposal.*.mosip-id-repository
	// dpi.ma.*.*.*
	// dpi.*.proposal.status-changed.*
}

func ExampleFor() {
	s, err := subject.For("ma", events.TypeProposalStatusChanged, "mosip-id-repository")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s)
	fmt.Println(s.Type())
	// Output:
	// dpi.ma.proposal.status-changed.mosip-id-repository
	// org.dpihub.proposal.status.changed.v1
}
