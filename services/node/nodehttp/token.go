package nodehttp

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"strings"

	"github.com/dpihub/dpihub/events"
)

// The API's bearer token. Every request that changes the node (register a
// fork, publish a fix, refresh) must carry it: anyone who could reach the
// API could otherwise publish any commit, signed with the country's key,
// to every country. Reads stay open; the feed shows the same data.

// tokenBytes is how many random bytes a token made by LoadOrMakeToken
// holds: 32, 43 characters of base64url.
const tokenBytes = 32

// minTokenLen is the shortest token LoadOrMakeToken accepts from a file an
// operator wrote: 128 bits of base64.
const minTokenLen = 22

// LoadOrMakeToken returns the token kept in the file at path. When the
// file does not exist it makes one (32 random bytes, base64url without
// padding), writes it there with mode 0600 and reports made. A file that
// holds no usable token (shorter than 22 characters, or with characters
// an Authorization header cannot carry) is an error: delete it and a new
// token is made.
func LoadOrMakeToken(path string) (token string, made bool, err error) {
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		token = strings.TrimSpace(string(b))
		if len(token) < minTokenLen || strings.IndexFunc(token, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0 {
			return "", false, fmt.Errorf("token file %s holds no usable token (at least %d printable ASCII characters); delete it to make a new one", path, minTokenLen)
		}
		return token, false, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", false, fmt.Errorf("read token file: %w", err)
	}
	raw := make([]byte, tokenBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", false, err
	}
	token = base64.RawURLEncoding.EncodeToString(raw)
	// O_EXCL: two nodes starting at once on one file both end up with the
	// token that was written first.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return LoadOrMakeToken(path)
	}
	if err != nil {
		return "", false, fmt.Errorf("make token file: %w", err)
	}
	_, err = f.WriteString(token + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return "", false, fmt.Errorf("write token file %s: %w", path, err)
	}
	return token, true, nil
}

// bearer guards the handlers of requests that change the node: they run
// only for a request whose Authorization header is "Bearer <token>". Any
// other is answered 401 with a WWW-Authenticate challenge (RFC 6750), its
// body unread.
type bearer struct {
	sum [sha256.Size]byte // of the token; empty token: nothing passes
	set bool
}

func newBearer(token string) bearer {
	return bearer{sum: sha256.Sum256([]byte(token)), set: token != ""}
}

// check returns an error of kind events.ErrUnauthorized, and the
// challenge to send with it, unless r carries the token.
func (b bearer) check(r *http.Request) (challenge string, err error) {
	scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "Bearer", events.Errorf(events.ErrUnauthorized,
			"this request changes the node: send Authorization: Bearer <token>, the token being the content of the file the node's log names at start")
	}
	// Comparing digests takes the same time whatever the token sent: its
	// length and its first wrong byte stay secret.
	sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
	if subtle.ConstantTimeCompare(sum[:], b.sum[:]) != 1 || !b.set {
		return `Bearer error="invalid_token"`, events.Errorf(events.ErrUnauthorized, "the bearer token is not this node's")
	}
	return "", nil
}

// guard runs next only for a request that carries the token.
func (s *server) guard(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if challenge, err := s.auth.check(r); err != nil {
			w.Header().Set("WWW-Authenticate", challenge)
			s.fail(w, r, err)
			return
		}
		next(w, r)
	}
}
