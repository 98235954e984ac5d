package sqlite

import "github.com/dpihub/dpihub/events/sign"

func newVerifier(tl *sign.TrustList) (*sign.Verifier, error) { return sign.NewVerifier(tl) }
