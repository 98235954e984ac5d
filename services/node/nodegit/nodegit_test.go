package nodegit_test

import (
	"context"
	"errors"
	"testing"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/services/node"
	"github.com/dpihub/dpihub/services/node/internal/gittest"
	"github.com/dpihub/dpihub/services/node/nodegit"
)

// TestAssessSaysWhatKindOfFailureItIs: the node decides from the kind of
// an Assessor's error (never its text) whether a fix is malformed for
// good or a fork is only unreadable for now.
func TestAssessSaysWhatKindOfFailureItIs(t *testing.T) {
	g := gittest.New(t)
	repo := g.Init()
	g.Commit(repo, "initial", map[string]string{"a.txt": "one\n"})
	g.Commit(repo, "Change a", map[string]string{"a.txt": "two\n"})
	patch := []byte(g.Run(repo, "format-patch", "-1", "--stdout") + "\n")
	g.Run(repo, "reset", "-q", "--hard", "HEAD~1")

	for _, tt := range []struct {
		name        string
		dir, branch string
		diff        []byte
		kind        error
		wantVerdict string
	}{
		{name: "a patch that applies is a verdict", dir: repo, branch: "main", diff: patch, wantVerdict: events.VerdictApplies},
		{name: "input that is not a patch is a malformed fix", dir: repo, branch: "main", diff: []byte("not a patch\n@@ nonsense\n"), kind: node.ErrMalformedFix},
		{name: "a directory without git is an unreadable fork", dir: t.TempDir(), branch: "main", diff: patch, kind: node.ErrForkUnreadable},
		{name: "a branch that names no commit is an unreadable fork", dir: repo, branch: "gone", diff: patch, kind: node.ErrForkUnreadable},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := nodegit.Git{}.Assess(context.Background(), tt.dir, tt.branch, tt.diff)
			if tt.kind != nil {
				if !errors.Is(err, tt.kind) {
					t.Fatalf("err = %v, want one wrapping %v", err, tt.kind)
				}
				return
			}
			if err != nil || res.Verdict != tt.wantVerdict || res.Head == "" {
				t.Fatalf("Assess = %+v, %v; want %s at a head", res, err, tt.wantVerdict)
			}
		})
	}
}
