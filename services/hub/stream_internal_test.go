package hub

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/dpihub/dpihub/events/bus/bustest"
)

// storeFailure is the real server's answer to a stream whose store it
// cannot make: its directory is taken by a file.
func storeFailure(t *testing.T) (js jetstream.JetStream, err error) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	_, js = bustest.Connect(t, bustest.Server(t, dir))
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "PROBE", Subjects: []string{"probe"}}); err != nil {
		t.Fatal(err)
	}
	found, _ := filepath.Glob(filepath.Join(dir, "jetstream", "*", "streams", "PROBE"))
	if len(found) != 1 {
		t.Fatalf("the probe stream's directory: %v", found)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(found[0]), "TAKEN"), []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: "TAKEN", Subjects: []string{"taken"}})
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode != errCodeStreamCreate {
		t.Fatalf("create with the store's directory taken: %v, want err_code %d", err, errCodeStreamCreate)
	}
	return js, err
}

// The server's store failure is tried again (here it happens twice, a
// fault injected with the server's real answer) and the stream is made;
// any other error ends it at once.
func TestCreateStoreRetryingTriesAgainOnlyWhileTheStoreCannotBeMade(t *testing.T) {
	ctx := context.Background()
	js, storeErr := storeFailure(t)
	calls := 0
	err := createStoreRetrying(ctx, func() error {
		if calls++; calls <= 2 {
			return storeErr
		}
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "TEST", Subjects: []string{"test"}})
		return err
	})
	if err != nil || calls != 3 {
		t.Fatalf("createStoreRetrying: %v after %d calls, want nil after 3", err, calls)
	}
	if _, err := js.Stream(ctx, "TEST"); err != nil {
		t.Fatalf("stream TEST: %v", err)
	}

	calls = 0
	err = createStoreRetrying(ctx, func() error {
		calls++
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "TEST", Subjects: []string{"other"}})
		return err
	})
	if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) || calls != 1 {
		t.Fatalf("a stream of another config: %v after %d calls, want %v after 1", err, calls, jetstream.ErrStreamNameAlreadyInUse)
	}
}
