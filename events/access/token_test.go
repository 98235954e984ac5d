package access_test

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dpihub/dpihub/events/access"
)

func TestTheTokenIsMadeOnceKeptPrivateAndReused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node-ma.token")
	token, made, err := access.LoadOrMakeToken(path)
	if err != nil || !made {
		t.Fatalf("first start: made %v, %v", made, err)
	}
	if raw, err := base64.RawURLEncoding.DecodeString(token); err != nil || len(raw) != 32 {
		t.Fatalf("token %q is not 32 bytes of base64url (%v)", token, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v, want 0600", fi.Mode().Perm())
	}
	again, made, err := access.LoadOrMakeToken(path)
	if err != nil || made || again != token {
		t.Fatalf("second start: made %v, same token %v, %v", made, again == token, err)
	}
	other, _, err := access.LoadOrMakeToken(filepath.Join(t.TempDir(), "node-ph.token"))
	if err != nil || other == token {
		t.Fatalf("two nodes share a token (%v)", err)
	}

	t.Run("a token an operator wrote is used, trimmed", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "mine.token")
		own := strings.Repeat("s3cret-", 5)
		if err := os.WriteFile(path, []byte("  "+own+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if got, made, err := access.LoadOrMakeToken(path); err != nil || made || got != own {
			t.Fatalf("got %q, made %v, %v", got, made, err)
		}
	})
	t.Run("a file without a usable token is an error, not a weak token", func(t *testing.T) {
		for name, content := range map[string]string{"empty": "", "short": "hunter2", "spaced": strings.Repeat("a b ", 10)} {
			path := filepath.Join(t.TempDir(), name+".token")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, _, err := access.LoadOrMakeToken(path); err == nil {
				t.Errorf("%s file: no error", name)
			}
		}
	})
	t.Run("a directory that does not exist is an error", func(t *testing.T) {
		if _, _, err := access.LoadOrMakeToken(filepath.Join(t.TempDir(), "no", "such", "dir", "x.token")); err == nil {
			t.Fatal("no error")
		}
	})
}
