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
	"slices"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// Attribute names of the Verifiability extension, and of dpihub's digest
// list.
const (
	ExtMaterial    = "dssematerial"
	ExtSignedAttrs = "signedextattrs"
	ExtDigests     = "dpihubdigests"
	// PayloadType is the DSSE payload type the extension prescribes.
	PayloadType = "https://cloudevents.io/verifiability/dsse/v0.1"
)

// SignedExtensions are the extension attributes dpihub signs. Verify
// refuses an event whose signature does not cover them.
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

// Sign sets signedextattrs, dpihubdigests and dssematerial on e. Any
// earlier signature is replaced. It refuses an event whose country
// extension is not the signer's country: a country signs only its own
// events.
func (s *Signer) Sign(e *event.Event) error {
	if cc, _ := extension(*e, "country").(string); cc != s.key.Country {
		return fmt.Errorf("sign event %s: country %q, but the key belongs to %q", e.ID(), cc, s.key.Country)
	}
	e.SetExtension(ExtSignedAttrs, strings.Join(SignedExtensions, ","))
	parts, err := digestParts(*e, SignedExtensions)
	if err != nil {
		return fmt.Errorf("sign event %s: %w", e.ID(), err)
	}
	body := sha256.Sum256(parts)
	env, err := s.env.SignPayload(context.Background(), PayloadType, body[:])
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

// part names, in the order the extension hashes them; extension
// attributes follow as name/value pairs.
var coreParts = []string{"id", "source", "specversion", "type", "datacontenttype", "dataschema", "subject", "time", "data"}

// digestParts returns the byte sequence of step 4 of the extension's
// signing protocol: the concatenated SHA-256 digests of each part.
func digestParts(e event.Event, exts []string) ([]byte, error) {
	var t string
	if !e.Time().IsZero() {
		t = e.Time().UTC().Format(time.RFC3339Nano)
	}
	out := make([]byte, 0, sha256.Size*(len(coreParts)+2*len(exts)))
	add := func(s string) { d := sha256.Sum256([]byte(s)); out = append(out, d[:]...) }
	add(e.ID())
	add(e.Source())
	add(e.SpecVersion())
	add(e.Type())
	add(e.DataContentType())
	add(e.DataSchema())
	add(e.Subject())
	add(t)
	d := sha256.Sum256(e.Data())
	out = append(out, d[:]...)
	for _, name := range exts {
		v := extension(e, name)
		if v == nil {
			return nil, fmt.Errorf("signed extension %q is not set", name)
		}
		s, err := types.Format(v)
		if err != nil {
			return nil, fmt.Errorf("signed extension %q: %w", name, err)
		}
		add(name)
		add(s)
	}
	return out, nil
}

// extension returns e's extension attribute name, or nil. Unlike
// e.Extensions()[name] it does not copy every extension to find one.
func extension(e event.Event, name string) any {
	if ec, ok := e.Context.(*event.EventContextV1); ok {
		return ec.Extensions[name]
	}
	return e.Extensions()[name]
}

// partName names the part at digest index i, for error messages.
func partName(i int, exts []string) string {
	if i < len(coreParts) {
		return coreParts[i]
	}
	j := i - len(coreParts)
	if j/2 < len(exts) {
		return exts[j/2]
	}
	return fmt.Sprintf("part %d", i)
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

func validSignedAttrs(list []string) error {
	seen := map[string]bool{}
	for _, n := range list {
		switch {
		case n == "":
			return fmt.Errorf("empty name in %s", ExtSignedAttrs)
		case slices.Contains(coreParts, n):
			return fmt.Errorf("%s names core attribute %q", ExtSignedAttrs, n)
		case n == ExtMaterial || n == ExtSignedAttrs:
			return fmt.Errorf("%s names %q", ExtSignedAttrs, n)
		case seen[n]:
			return fmt.Errorf("%s repeats %q", ExtSignedAttrs, n)
		}
		seen[n] = true
	}
	return nil
}
