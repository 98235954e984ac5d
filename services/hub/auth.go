package hub

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"go.uber.org/zap"

	"github.com/dpihub/dpihub/events/access"
)

// The hub's data holds the authority NATS trusts, and the credentials the
// hub wrote for those who run it:
//
//	<data>/auth/            0700: operator.nk, system.nk, dpi.nk (0600)
//	<data>/auth/creds/      admin.creds, observer.creds, service-<name>.creds
//
// Keep <data>/auth as secret as the signing keys: it issues any identity.

// Services are the hub services whose credentials the hub writes at
// start, for when they run apart from it. In the hub's process they use
// its own connection.
var Services = []string{"feed"}

// AuthDir is where the authority of the hub with data dir data lives.
func AuthDir(data string) string { return filepath.Join(data, "auth") }

// CredsFile is where the hub with data dir data keeps the credentials of
// id that it wrote.
func CredsFile(data string, id access.Identity) string {
	return filepath.Join(AuthDir(data), "creds", id.CredsFile())
}

// CredsFile is where the hub keeps the credentials of id that it wrote.
func (h *Hub) CredsFile(id access.Identity) string { return CredsFile(h.dataDir, id) }

// openAuthority loads the authority in data, or makes it on the first
// start, and writes the credentials of the admin, the observer and the
// hub services that are missing (all of them, the first time).
func openAuthority(data string, log *zap.Logger) (*access.Authority, bool, error) {
	a, created, err := access.LoadOrCreate(AuthDir(data))
	if err != nil {
		return nil, false, err
	}
	if created {
		log.Info("NATS authority made: every client needs credentials", zap.String("dir", AuthDir(data)))
	}
	ids := []access.Identity{access.Admin, access.Observer}
	for _, s := range Services {
		ids = append(ids, access.Service(s))
	}
	for _, id := range ids {
		path := CredsFile(data, id)
		switch _, err := os.Stat(path); {
		case err == nil:
			continue
		case !errors.Is(err, fs.ErrNotExist):
			return nil, false, fmt.Errorf("credentials of %s: %w", id, err)
		}
		if err := a.WriteCreds(path, id); err != nil {
			return nil, false, fmt.Errorf("credentials of %s: %w", id, err)
		}
		log.Info("NATS credentials written", zap.String("identity", id.String()), zap.String("file", path))
	}
	return a, created, nil
}

// DataDir is the hub's state directory.
func (h *Hub) DataDir() string { return h.dataDir }
