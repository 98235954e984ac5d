package nodehttp

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/dpihub/dpihub/events"
)

// The API's bearer token. Every request that changes the node (register a
// fork, publish a fix, refresh) must carry it: anyone who could reach the
// API could otherwise publish any commit, signed with the country's key,
// to every country. Reads stay open; the feed shows the same data.

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
