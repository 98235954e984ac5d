package sign

import (
	"crypto/ed25519"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// edKey is a trusted public key prepared for verifying many signatures.
//
// crypto/ed25519 decodes the key and builds its multiples again for every
// signature; curve25519-voi keeps them in an expanded key, which halves
// the cost of a verification (docs/performance.md). It verifies with
// VerifyOptionsStdLib, the rules of crypto/ed25519 (cofactorless, s below
// the group order, small-order and non-canonical A and R accepted as the
// standard library accepts them), so a signature is good here exactly when
// ed25519.Verify says so: TestEd25519LikeStdlib and its fuzz target hold
// it to that on every edge case of the scheme.
type edKey struct {
	pub ed25519.PublicKey
	x   *voi.ExpandedPublicKey // nil: the key is no point; nothing verifies
}

var stdlibRules = &voi.Options{Verify: voi.VerifyOptionsStdLib}

func newEdKey(pub ed25519.PublicKey) edKey {
	k := edKey{pub: pub}
	if len(pub) == ed25519.PublicKeySize {
		// An error means the bytes encode no point: crypto/ed25519 refuses
		// every signature of such a key, and so does verify.
		k.x, _ = voi.NewExpandedPublicKey(voi.PublicKey(pub))
	}
	return k
}

// verify reports whether sig is pub's ed25519 signature of msg, by the
// rules of crypto/ed25519.
func (k edKey) verify(msg, sig []byte) bool {
	if k.x == nil || len(sig) != ed25519.SignatureSize {
		return false
	}
	return voi.VerifyExpandedWithOptions(k.x, msg, sig, stdlibRules)
}
