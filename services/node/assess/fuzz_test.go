package assess

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/bluekeyes/go-gitdiff/gitdiff"
)

// memObjects serves blobs from memory, for checks that need no repository.
type memObjects map[string][]byte

func (m memObjects) object(_ context.Context, name string) (string, []byte, bool, error) {
	for oid, data := range m {
		if strings.HasPrefix(oid, name) {
			return "blob", data, true, nil
		}
	}
	return "", nil, false, nil
}

func (memObjects) merge(context.Context, []byte, []byte, []byte) ([]byte, bool, error) {
	return nil, false, nil
}

// FuzzParsePatch feeds arbitrary input to the patch parser, the entry point
// for untrusted fixes, and then to the apply checks: nothing may panic, and
// every refusal must be an ErrBadPatch. The seed corpus is in
// testdata/fuzz/FuzzParsePatch.
func FuzzParsePatch(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		fx, err := parsePatch(data)
		if err != nil {
			if !errors.Is(err, ErrBadPatch) {
				t.Fatalf("error %v does not wrap ErrBadPatch", err)
			}
			return
		}
		if len(fx.files) == 0 || len(fx.paths()) == 0 {
			t.Fatalf("parsed a patch without files from %q", data)
		}
		// Every path the patch expects holds the patch's own text, which
		// makes its hunks match often enough to exercise the checks.
		oid := blobID(data, 40)
		objs := memObjects{oid: data}
		entries := make(map[string]treeEntry)
		for _, p := range fx.oldPaths() {
			entries[p] = treeEntry{mode: 0o100644, typ: "blob", oid: oid}
		}
		for _, files := range [][]*gitdiff.File{fx.files, reversed(fx.files)} {
			for _, threeWay := range []bool{false, true} {
				if _, err := newTree(objs, entries).checkAll(context.Background(), files, threeWay); err != nil {
					t.Fatalf("check: %v", err)
				}
			}
		}
	})
}
