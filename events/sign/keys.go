package sign

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"time"
)

var countryRE = regexp.MustCompile(`^([a-z]{2}|hub)$`)

// KeyID derives the key id of a country's public key:
// "<country>:<first 16 hex digits of SHA-256(public key)>".
func KeyID(country string, pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return country + ":" + hex.EncodeToString(sum[:8])
}

// PrivateKey is one country's signing key.
type PrivateKey struct {
	Country string
	KeyID   string
	Key     ed25519.PrivateKey
}

// Public returns the public half of k.
func (k PrivateKey) Public() ed25519.PublicKey { return k.Key.Public().(ed25519.PublicKey) }

// GenerateKey makes a new ed25519 key for country.
func GenerateKey(country string) (PrivateKey, error) {
	if !countryRE.MatchString(country) {
		return PrivateKey{}, fmt.Errorf("generate key: country %q is not a lower-case ISO 3166-1 alpha-2 code or hub", country)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return PrivateKey{}, fmt.Errorf("generate key: %w", err)
	}
	return PrivateKey{Country: country, KeyID: KeyID(country, pub), Key: priv}, nil
}

type keyFile struct {
	Country string `json:"country"`
	KeyID   string `json:"keyid"`
	Seed    string `json:"ed25519_seed"` // base64, 32 bytes
}

// MarshalJSON encodes the key as {"country","keyid","ed25519_seed"}.
func (k PrivateKey) MarshalJSON() ([]byte, error) {
	return json.Marshal(keyFile{Country: k.Country, KeyID: k.KeyID, Seed: base64.StdEncoding.EncodeToString(k.Key.Seed())})
}

// UnmarshalJSON decodes what MarshalJSON wrote and checks it.
func (k *PrivateKey) UnmarshalJSON(b []byte) error {
	var f keyFile
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	seed, err := base64.StdEncoding.DecodeString(f.Seed)
	if err != nil || len(seed) != ed25519.SeedSize {
		return errors.New("ed25519_seed must be 32 bytes in base64")
	}
	if !countryRE.MatchString(f.Country) {
		return fmt.Errorf("country %q is not a lower-case ISO 3166-1 alpha-2 code or hub", f.Country)
	}
	*k = PrivateKey{Country: f.Country, KeyID: f.KeyID, Key: ed25519.NewKeyFromSeed(seed)}
	if k.KeyID == "" {
		k.KeyID = KeyID(k.Country, k.Public())
	}
	return nil
}

// WritePrivateKey writes k to path, readable by its owner only. It refuses
// to overwrite an existing file.
func WritePrivateKey(path string, k PrivateKey) error {
	b, err := json.MarshalIndent(k, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("write key %s: %w", path, err)
	}
	return f.Close()
}

// ReadPrivateKey reads a key written by WritePrivateKey.
func ReadPrivateKey(path string) (PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return PrivateKey{}, fmt.Errorf("read key: %w", err)
	}
	var k PrivateKey
	if err := json.Unmarshal(b, &k); err != nil {
		return PrivateKey{}, fmt.Errorf("read key %s: %w", path, err)
	}
	return k, nil
}

// TrustedKey is one public key of the trust list.
type TrustedKey struct {
	Country   string     `json:"country"`
	KeyID     string     `json:"keyid"`
	PublicKey []byte     `json:"public_key"` // 32 bytes; base64 in JSON
	NotBefore *time.Time `json:"not_before,omitempty"`
	NotAfter  *time.Time `json:"not_after,omitempty"`
	Revoked   bool       `json:"revoked,omitempty"`
	Comment   string     `json:"comment,omitempty"`
}

// Trusted returns the trust-list entry of k's public key, valid from
// notBefore (zero: no lower bound) to notAfter (zero: no upper bound).
func Trusted(k PrivateKey, notBefore, notAfter time.Time) TrustedKey {
	t := TrustedKey{Country: k.Country, KeyID: k.KeyID, PublicKey: k.Public()}
	if !notBefore.IsZero() {
		nb := notBefore.UTC()
		t.NotBefore = &nb
	}
	if !notAfter.IsZero() {
		na := notAfter.UTC()
		t.NotAfter = &na
	}
	return t
}

// TrustList says which public keys speak for which country.
type TrustList struct {
	Keys []TrustedKey `json:"keys"`
}

// Validate checks every entry: a known country code, a 32-byte key, a key
// id equal to KeyID(country, key), unique key ids and keys (one key under
// two countries would speak for both), and a window that is not empty.
func (tl *TrustList) Validate() error {
	seen, seenKey := map[string]bool{}, map[string]bool{}
	for i, k := range tl.Keys {
		switch {
		case !countryRE.MatchString(k.Country):
			return fmt.Errorf("trust list key %d: country %q is not a lower-case ISO 3166-1 alpha-2 code or hub", i, k.Country)
		case len(k.PublicKey) != ed25519.PublicKeySize:
			return fmt.Errorf("trust list key %d (%s): public_key must be %d bytes, got %d", i, k.KeyID, ed25519.PublicKeySize, len(k.PublicKey))
		case k.KeyID != KeyID(k.Country, k.PublicKey):
			return fmt.Errorf("trust list key %d: keyid %q, want %q for that country and key", i, k.KeyID, KeyID(k.Country, k.PublicKey))
		case seen[k.KeyID]:
			return fmt.Errorf("trust list key %d: keyid %q listed twice", i, k.KeyID)
		case seenKey[string(k.PublicKey)]:
			// The same key under two countries would speak for both.
			return fmt.Errorf("trust list key %d (%s): its public key is listed twice", i, k.KeyID)
		case k.NotBefore != nil && k.NotAfter != nil && !k.NotAfter.After(*k.NotBefore):
			return fmt.Errorf("trust list key %d (%s): not_after is not after not_before", i, k.KeyID)
		}
		seen[k.KeyID], seenKey[string(k.PublicKey)] = true, true
	}
	return nil
}

// Add appends k, or replaces the entry with the same key id.
func (tl *TrustList) Add(k TrustedKey) {
	if i := slices.IndexFunc(tl.Keys, func(t TrustedKey) bool { return t.KeyID == k.KeyID }); i >= 0 {
		tl.Keys[i] = k
		return
	}
	tl.Keys = append(tl.Keys, k)
}

// ParseTrustList decodes and validates a trust list document.
func ParseTrustList(b []byte) (*TrustList, error) {
	var tl TrustList
	if err := json.Unmarshal(b, &tl); err != nil {
		return nil, fmt.Errorf("parse trust list: %w", err)
	}
	if err := tl.Validate(); err != nil {
		return nil, err
	}
	return &tl, nil
}

// LoadTrustList reads and validates a trust list file.
func LoadTrustList(path string) (*TrustList, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load trust list: %w", err)
	}
	tl, err := ParseTrustList(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return tl, nil
}

// LoadVerifier reads the trust list at path and returns a Verifier that
// trusts its keys: what a service does with its -trust flag.
func LoadVerifier(path string, opts ...VerifierOption) (*Verifier, error) {
	tl, err := LoadTrustList(path)
	if err != nil {
		return nil, err
	}
	return NewVerifier(tl, opts...)
}

// ReadSigner reads a country's private key file and returns its Signer.
func ReadSigner(path string) (*Signer, error) {
	k, err := ReadPrivateKey(path)
	if err != nil {
		return nil, err
	}
	return NewSigner(k)
}

// WriteFile writes the trust list as indented JSON, atomically.
func (tl *TrustList) WriteFile(path string) error {
	if err := tl.Validate(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(tl, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write trust list: %w", err)
	}
	return os.Rename(tmp, path)
}
