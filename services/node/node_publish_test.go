package node_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/services/node"
)

// The node signs what it publishes with the country's key: an API caller
// must not make it publish a commit of any repository the node's process
// can read (found by an attacker: {"repo":"/some/other/repo"} published
// an unrelated commit, signed with Morocco's key, to every country).
func TestPublishFixPublishesOnlyCommitsOfRegisteredForks(t *testing.T) {
	s := newSite(t, "ma")
	mine := s.fork(t, project, "ma-1-main") // first in the store's order
	second := s.fork(t, project, "ma-2-lts")
	elsewhere := s.fork(t, other, "ma-main") // a fork of another project
	fp := aFix("ma", "fix", aDiff("fixed"))
	fp.FixID = ""
	s.git.commits["HEAD"] = fp
	const stranger = "/home/attacker/unrelated-repo"
	s.git.heads[stranger] = hex40("stranger") // git could read it

	for _, tt := range []struct {
		name, project, repo string
		reads               string // the repository git reads, "" when refused
	}{
		{"no repo: the project's first registered fork", project, "", mine.Dir},
		{"the dir of a registered fork", project, second.Dir, second.Dir},
		{"the dir of a registered fork, spelt differently", project, second.Dir + "/./", second.Dir},
		{"another repository of the machine is refused", project, stranger, ""},
		{"a path that leads out of a fork is refused", project, mine.Dir + "/../../../../home/attacker/unrelated-repo", ""},
		{"a subdirectory of a fork is refused", project, mine.Dir + "/sub", ""},
		{"the fork of another project is refused", project, elsewhere.Dir, ""},
		{"a project without a registered fork is refused", "unforked-project", "", ""},
		{"a project without a registered fork is refused, repo or not", "unforked-project", stranger, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s.git.fixReads = nil
			got, err := s.n.PublishFix(context.Background(), node.PublishRequest{Project: tt.project, Repo: tt.repo, Commit: "HEAD"})
			sent := s.pub.take()
			if tt.reads != "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(s.git.fixReads) != 1 || !strings.HasPrefix(s.git.fixReads[0], tt.reads+" ") {
					t.Errorf("git read %q, want the fork %s", s.git.fixReads, tt.reads)
				}
				if pubs, _ := ofType[events.FixPublished](sent); len(pubs) != 1 || pubs[0].FixID != got.FixID {
					t.Errorf("published %v", types(sent))
				}
				return
			}
			if !errors.Is(err, node.ErrInvalid) || !errors.Is(err, events.ErrBadInput) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			if tt.repo != "" && strings.Contains(err.Error(), tt.repo) || strings.Contains(err.Error(), "/home/") {
				t.Errorf("the error repeats the path: %v", err)
			}
			if len(s.git.fixReads) != 0 {
				t.Errorf("git read %q before the refusal", s.git.fixReads)
			}
			if len(sent) != 0 {
				t.Errorf("published %v", types(sent))
			}
		})
	}
	if slices.Contains(s.git.fixReads, stranger) {
		t.Fatal("git read the stranger's repository")
	}
}

func TestRegisterForkErrorsDoNotRepeatTheDir(t *testing.T) {
	s := newSite(t, "ma")
	const secret = "/home/someone/secret-place"
	_, err := s.n.RegisterFork(context.Background(), node.Fork{Project: project, Upstream: "https://example.org/u", Dir: "", Branch: "main"})
	if !errors.Is(err, node.ErrInvalid) {
		t.Fatalf("no dir: %v", err)
	}
	_, err = s.n.RegisterFork(context.Background(), node.Fork{Project: project, Upstream: "https://example.org/u", Dir: secret, Branch: "b~1"})
	if !errors.Is(err, node.ErrInvalid) || strings.Contains(err.Error(), secret) {
		t.Fatalf("bad branch: %v", err)
	}
}
