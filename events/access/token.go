package access

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// API tokens: the bearer tokens that guard the HTTP requests which change
// something (a node's API, the proposals service's). Each lives in a
// file, mode 0600, made on the first start.

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
