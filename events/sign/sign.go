package sign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// Attribute names of the Verifiability extension, and of dpihub's digest
// lists.
const (
	ExtMaterial = "dssematerial"
	ExtDigests  = "dpihubdigests"
	// PayloadType is the DSSE payload type the extension prescribes.
	PayloadType = "https://cloudevents.io/verifiability/dsse/v0.1"
)

// SignedExtensions are the extension attributes dpihub signs, in this
// order. Verify refuses an event whose signature does not cover them.
var SignedExtensions = []string{"country"}

// Signer signs events of one country with one key. It is safe for
// concurrent use.
type Signer struct {
	key PrivateKey
	env *dsse.EnvelopeSigner
}

// NewSigner returns a Signer for k.
func NewSigner(k PrivateKey) (*Signer, error) {
	if len(k.Key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("new signer: key %q is not an ed25519 private key", k.KeyID)
	}
	env, err := dsse.NewEnvelopeSigner(edSigner{k})
	if err != nil {
		return nil, fmt.Errorf("new signer: %w", err)
	}
	return &Signer{key: k, env: env}, nil
}

// Country is the country the signer speaks for.
func (s *Signer) Country() string { return s.key.Country }

// KeyID is the id of the signer's key.
func (s *Signer) KeyID() string { return s.key.KeyID }

// Sign signs e following the extension as published (docs/security.md
// gives the bytes): it sets dssematerial, the DSSE envelope over the
// verification material {core, ext, signedextattrs} covering
// SignedExtensions, and dpihubdigests, the digest lists. Any earlier
// signature is replaced. JSON data is first rewritten in the form the
// structured-mode encoding carries it (WireJSON), so that the bytes signed
// are the bytes in the message. It refuses an event whose country
// extension is not the signer's country: a country signs only its own
// events.
func (s *Signer) Sign(e *event.Event) error {
	if cc, _ := extension(*e, "country").(string); cc != s.key.Country {
		return fmt.Errorf("sign event %s: country %q, but the key belongs to %q", e.ID(), cc, s.key.Country)
	}
	if isJSON(e.DataContentType()) && len(e.DataEncoded) > 0 && !e.DataBase64 {
		data, err := WireJSON(e.DataEncoded)
		if err != nil {
			return fmt.Errorf("sign event %s: data: %w", e.ID(), err)
		}
		e.DataEncoded = data
	}
	e.SetExtension(extLegacySignedAttrs, nil)
	m, parts, err := newMaterial(*e, SignedExtensions, extensionTypes)
	if err != nil {
		return fmt.Errorf("sign event %s: %w", e.ID(), err)
	}
	env, err := s.env.SignPayload(context.Background(), PayloadType, m.marshal())
	if err != nil {
		return fmt.Errorf("sign event %s: %w", e.ID(), err)
	}
	b, err := json.Marshal(env)
	if err != nil {
		return fmt.Errorf("sign event %s: %w", e.ID(), err)
	}
	e.SetExtension(ExtDigests, base64.StdEncoding.EncodeToString(parts))
	e.SetExtension(ExtMaterial, base64.StdEncoding.EncodeToString(b))
	return nil
}

// extension returns e's extension attribute name, or nil. Unlike
// e.Extensions()[name] it does not copy every extension to find one.
func extension(e event.Event, name string) any {
	if ec, ok := e.Context.(*event.EventContextV1); ok {
		return ec.Extensions[name]
	}
	return e.Extensions()[name]
}

// differingPart compares two digest lists and returns the index of the first
// part that differs, or -1.
func differingPart(a, b []byte) int {
	for i := 0; i*sha256.Size < max(len(a), len(b)); i++ {
		lo, hi := i*sha256.Size, (i+1)*sha256.Size
		if hi > len(a) || hi > len(b) || !bytes.Equal(a[lo:hi], b[lo:hi]) {
			return i
		}
	}
	return -1
}

// edSigner adapts an ed25519 key to dsse.Signer.
type edSigner struct{ k PrivateKey }

func (s edSigner) Sign(_ context.Context, data []byte) ([]byte, error) {
	return ed25519.Sign(s.k.Key, data), nil
}
func (s edSigner) KeyID() (string, error) { return s.k.KeyID, nil }

// edVerifier adapts a trusted ed25519 key to dsse.Verifier, asking the
// Verifier's cache first so that an event is verified once per process.
type edVerifier struct {
	id    string
	key   edKey
	cache *sigCache
}

func (v edVerifier) Verify(_ context.Context, data, sig []byte) error {
	if !v.cache.verify(cacheKey(v.id, data, sig), func() bool { return v.key.verify(data, sig) }) {
		return errBadSig
	}
	return nil
}
func (v edVerifier) KeyID() (string, error)   { return v.id, nil }
func (v edVerifier) Public() crypto.PublicKey { return v.key.pub }
