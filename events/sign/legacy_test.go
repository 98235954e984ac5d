package sign

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// signLegacy signs e as dpihub did before 2026-11-29 (legacy.go), for the
// tests of the legacy path and the side-by-side benchmark. It is the
// Signer.Sign of commit c0ef66a.
func signLegacy(t testing.TB, s *Signer, e *event.Event) {
	t.Helper()
	e.SetExtension(extLegacySignedAttrs, strings.Join(SignedExtensions, ","))
	parts, err := legacyDigests(*e, SignedExtensions)
	if err != nil {
		t.Fatal(err)
	}
	body := sha256.Sum256(parts)
	env, err := s.env.SignPayload(context.Background(), PayloadType, body[:])
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(env)
	e.SetExtension(ExtDigests, base64.StdEncoding.EncodeToString(parts))
	e.SetExtension(ExtMaterial, base64.StdEncoding.EncodeToString(b))
}

// fixture is a key, its trust list, a verifier without a cache (so every
// call checks the signature) and a sample event of the key's country.
type fixture struct {
	key PrivateKey
	s   *Signer
	v   *Verifier
}

func newFixture(t testing.TB) fixture {
	t.Helper()
	k, err := GenerateKey("ma")
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	v := &Verifier{now: time.Now, cache: newSigCache(0)}
	if err := v.SetTrustList(&TrustList{Keys: []TrustedKey{Trusted(k, time.Time{}, time.Time{})}}); err != nil {
		t.Fatal(err)
	}
	return fixture{key: k, s: s, v: v}
}

func (f fixture) event() event.Event {
	e := event.New()
	e.SetID("ma-0193a8c2-0000-7000-8000-000000000001")
	e.SetSource("urn:dpihub:ma:node")
	e.SetType("org.dpihub.fix.published.v1")
	e.SetSubject("mosip-id-repository")
	e.SetTime(time.Now().Add(-time.Minute).Truncate(time.Millisecond).Add(120 * time.Millisecond))
	e.SetDataSchema("urn:dpihub:schema:org.dpihub.fix.published.v1")
	e.SetExtension("country", "ma")
	_ = e.SetData("application/json", map[string]string{"fix_id": "ma-fix-1", "title": "Corrigé <b>&</b>\u2028 日本"})
	return e
}

// seal signs payload with the fixture's key as dssematerial: envelopes
// that Sign would never make, to check what Verify does with them.
func (f fixture) seal(e *event.Event, payload string) {
	sig := ed25519.Sign(f.key.Key, dsse.PAE(PayloadType, []byte(payload)))
	env, _ := json.Marshal(dsse.Envelope{PayloadType: PayloadType, Payload: base64.StdEncoding.EncodeToString([]byte(payload)),
		Signatures: []dsse.Signature{{KeyID: f.key.KeyID, Sig: base64.StdEncoding.EncodeToString(sig)}}})
	e.SetExtension(ExtMaterial, base64.StdEncoding.EncodeToString(env))
}

func TestLegacyEventsStillVerifyAndTamperingIsStillNamed(t *testing.T) {
	f := newFixture(t)
	legacy := func() event.Event {
		e := f.event()
		signLegacy(t, f.s, &e)
		return e
	}
	for _, tc := range []struct {
		name   string
		change func(*event.Event)
		want   Reason
	}{
		{"as signed", func(*event.Event) {}, ""},
		{"changed data", func(e *event.Event) { _ = e.SetData("application/json", map[string]string{"fix_id": "ma-fix-2"}) }, ReasonTamperedData},
		{"a time cut to whole seconds", func(e *event.Event) { e.SetTime(e.Time().Truncate(time.Second)) }, ReasonTamperedAttribute},
		{"signedextattrs removed", func(e *event.Event) { e.SetExtension(extLegacySignedAttrs, nil) }, ReasonTamperedAttribute},
		{"another country", func(e *event.Event) { e.SetExtension("country", "ph") }, ReasonTamperedAttribute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := legacy()
			tc.change(&e)
			got, err := f.v.Verify(e)
			if r := ReasonOf(err); r != tc.want {
				t.Fatalf("reason %q (%v), want %q", r, err, tc.want)
			}
			if err == nil && (got.Extensions()["country"] != "ma" || len(got.Extensions()) != 1) {
				t.Fatalf("verified legacy event keeps %v, want country only (strict mode)", got.Extensions())
			}
		})
	}
}

func TestSignWritesThePublishedFormatOnly(t *testing.T) {
	f := newFixture(t)
	e := f.event()
	signLegacy(t, f.s, &e) // re-signing replaces the legacy signature
	if err := f.s.Sign(&e); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.Extensions()[extLegacySignedAttrs]; ok {
		t.Fatal("Sign left the legacy signedextattrs attribute on the event")
	}
	raw, _ := materialBytes(extension(e, ExtMaterial))
	env, err := ParseEnvelope(raw)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := env.DecodeB64Payload()
	m, err := parseMaterial(payload)
	if err != nil {
		t.Fatalf("payload %q: %v", payload, err)
	}
	if strings.Join(m.SignedExtAttrs, ",") != "country" || m.Ext == nil {
		t.Fatalf("payload %s: want country signed", payload)
	}
	if want := `{"core":"` + base64.StdEncoding.EncodeToString(m.Core) + `","ext":"` + base64.StdEncoding.EncodeToString(m.Ext) + `","signedextattrs":["country"]}`; string(payload) != want {
		t.Fatalf("payload %s, want %s", payload, want)
	}
	if _, err := f.v.Verify(e); err != nil {
		t.Fatal(err)
	}
}

func TestSignHashesTheDataAsTheMessageCarriesIt(t *testing.T) {
	f := newFixture(t)
	e := f.event()
	e.DataEncoded = []byte("{ \"title\": \"<b>&</b>\u2028\" }")
	if err := f.s.Sign(&e); err != nil {
		t.Fatal(err)
	}
	if want := `{"title":"\u003cb\u003e\u0026\u003c/b\u003e\u2028"}`; string(e.Data()) != want {
		t.Fatalf("signed data %s, want %s", e.Data(), want)
	}
	msg, _ := json.Marshal(e)
	if !strings.Contains(string(msg), `"data":`+string(e.Data())+`,`) && !strings.Contains(string(msg), `"data":`+string(e.Data())+`}`) {
		t.Fatalf("the message %s does not carry the signed bytes %s", msg, e.Data())
	}
	e.DataEncoded = []byte("{not json")
	if err := f.s.Sign(&e); err == nil {
		t.Fatal("signed data that is not JSON under application/json")
	}
}

func TestVerifyRefusesEnvelopesSignWouldNotMake(t *testing.T) {
	f := newFixture(t)
	e := f.event()
	m, _, err := newMaterial(e, SignedExtensions, extensionTypes)
	if err != nil {
		t.Fatal(err)
	}
	core, ext := base64.StdEncoding.EncodeToString(m.Core), base64.StdEncoding.EncodeToString(m.Ext)
	for _, tc := range []struct {
		name, payload string
		want          Reason
	}{
		{"the material Sign makes, sealed by hand", string(m.marshal()), ""},
		{"the same in URL-safe Base64, which DSSE allows", `{"core":"` + base64.URLEncoding.EncodeToString(m.Core) + `","ext":"` + base64.URLEncoding.EncodeToString(m.Ext) + `","signedextattrs":["country"],"future":1}`, ""},
		{"core only: country not covered", `{"core":"` + core + `"}`, ReasonTamperedAttribute},
		{"an extension of unknown type", `{"core":"` + core + `","ext":"` + ext + `","signedextattrs":["country","exta"]}`, ReasonTamperedAttribute},
		{"a repeated name (8a)", `{"core":"` + core + `","ext":"` + ext + `","signedextattrs":["country","country"]}`, ReasonTamperedAttribute},
		{"a context attribute (8b)", `{"core":"` + core + `","ext":"` + ext + `","signedextattrs":["country","id"]}`, ReasonTamperedAttribute},
		{"dssematerial (8c)", `{"core":"` + core + `","ext":"` + ext + `","signedextattrs":["country","dssematerial"]}`, ReasonTamperedAttribute},
		{"names without ext (8d)", `{"core":"` + core + `","signedextattrs":["country"]}`, ReasonBadSignature},
		{"ext without names (8e)", `{"core":"` + core + `","ext":"` + ext + `"}`, ReasonBadSignature},
		{"not JSON", `core=` + core, ReasonBadSignature},
		{"another event's core", `{"core":"` + ext + `","ext":"` + ext + `","signedextattrs":["country"]}`, ReasonTamperedAttribute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.Clone()
			f.seal(&e, tc.payload)
			if _, err := f.v.Verify(e); ReasonOf(err) != tc.want {
				t.Fatalf("reason %q (%v), want %q", ReasonOf(err), err, tc.want)
			}
		})
	}
}

// BenchmarkFormats signs and verifies one event in the legacy format and
// in the published one, side by side in one run (make bench): the
// published format must cost no more than the legacy one (± 10 %). The
// verifier has no cache, so every Verify checks the ed25519 signature.
// Each iteration does 2,000 operations and reports µs per operation, so
// that make bench's single iteration (-benchtime=1x) measures too; the
// formats run in mirrored order (legacy, published, published, legacy).
func BenchmarkFormats(b *testing.B) {
	const ops = 2000
	f := newFixture(b)
	for _, format := range []string{"legacy", "published", "published", "legacy"} {
		sign := func(e *event.Event) {
			if format == "legacy" {
				signLegacy(b, f.s, e)
			} else if err := f.s.Sign(e); err != nil {
				b.Fatal(err)
			}
		}
		b.Run("sign/"+format, func(b *testing.B) {
			b.ReportAllocs()
			start := time.Now()
			for i := 0; i < b.N*ops; i++ {
				e := f.event()
				sign(&e)
			}
			b.ReportMetric(float64(time.Since(start).Microseconds())/float64(b.N*ops), "us/sign")
		})
		e := f.event()
		sign(&e)
		b.Run("verify/"+format, func(b *testing.B) {
			b.ReportAllocs()
			start := time.Now()
			for i := 0; i < b.N*ops; i++ {
				if _, err := f.v.Verify(e); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(time.Since(start).Microseconds())/float64(b.N*ops), "us/verify")
		})
	}
}
