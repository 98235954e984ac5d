package sign_test

import (
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/dpihub/dpihub/events/sign"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 123456789, time.UTC)

type world struct {
	ma, lk, rogue sign.PrivateKey
	trust         *sign.TrustList
}

func newWorld(t testing.TB) world {
	t.Helper()
	gen := func(cc string) sign.PrivateKey {
		k, err := sign.GenerateKey(cc)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	w := world{ma: gen("ma"), lk: gen("lk"), rogue: gen("ma")}
	w.trust = &sign.TrustList{}
	w.trust.Add(sign.Trusted(w.ma, t0.Add(-24*time.Hour), t0.Add(24*time.Hour)))
	w.trust.Add(sign.Trusted(w.lk, time.Time{}, time.Time{}))
	return w
}

func sampleEvent(cc string) event.Event {
	e := event.New()
	e.SetID("0193a8c2-0000-7000-8000-000000000001")
	e.SetSource("urn:dpihub:" + cc + ":node")
	e.SetType("org.dpihub.proposal.endorsed.v1")
	e.SetSubject("mosip-id-repository")
	e.SetTime(t0)
	e.SetDataSchema("urn:dpihub:schema:org.dpihub.proposal.endorsed.v1")
	e.SetExtension("country", cc)
	_ = e.SetData("application/json", map[string]string{"proposal_id": "p-1", "comment": "we need this too"})
	return e
}

func signed(t testing.TB, k sign.PrivateKey, e event.Event) event.Event {
	t.Helper()
	s, err := sign.NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Sign(&e); err != nil {
		t.Fatal(err)
	}
	return e
}

func verifier(t testing.TB, tl *sign.TrustList) *sign.Verifier {
	t.Helper()
	v, err := sign.NewVerifier(tl, sign.WithClock(func() time.Time { return t0 }))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVerifyAcceptsASignedEventAfterAJSONRoundTrip(t *testing.T) {
	w := newWorld(t)
	e := signed(t, w.ma, sampleEvent("ma"))
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var got event.Event
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	ve, err := verifier(t, w.trust).Verify(got)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if _, ok := ve.Extensions()[sign.ExtMaterial]; ok {
		t.Error("verified event keeps the unsigned dssematerial attribute")
	}
	if ve.Extensions()["country"] != "ma" || string(ve.Data()) != string(e.Data()) {
		t.Errorf("verified event lost signed content: %v", ve)
	}
}

func TestVerifyRefusesEachClassWithItsReason(t *testing.T) {
	w := newWorld(t)
	good := func() event.Event { return signed(t, w.ma, sampleEvent("ma")) }
	revokedList := &sign.TrustList{Keys: append([]sign.TrustedKey(nil), w.trust.Keys...)}
	revokedList.Keys[0].Revoked = true

	tests := []struct {
		name  string
		event func() event.Event
		trust *sign.TrustList
		want  sign.Reason
	}{
		{"an unsigned event is refused as unsigned", func() event.Event { return sampleEvent("ma") }, nil, sign.ReasonUnsigned},
		{"garbage material is a bad signature", func() event.Event {
			e := good()
			e.SetExtension(sign.ExtMaterial, "%%% not base64")
			return e
		}, nil, sign.ReasonBadSignature},
		{"a flipped signature byte is a bad signature", func() event.Event {
			e := good()
			env := envelope(t, e)
			sig, _ := base64.StdEncoding.DecodeString(env["signatures"].([]any)[0].(map[string]any)["sig"].(string))
			sig[0] ^= 1
			env["signatures"].([]any)[0].(map[string]any)["sig"] = base64.StdEncoding.EncodeToString(sig)
			setEnvelope(t, &e, env)
			return e
		}, nil, sign.ReasonBadSignature},
		{"changed data is tampered data", func() event.Event {
			e := good()
			_ = e.SetData("application/json", map[string]string{"proposal_id": "p-2"})
			return e
		}, nil, sign.ReasonTamperedData},
		{"a changed subject is a tampered attribute", func() event.Event {
			e := good()
			e.SetSubject("mojaloop-central-ledger")
			return e
		}, nil, sign.ReasonTamperedAttribute},
		{"a changed time is a tampered attribute", func() event.Event {
			e := good()
			e.SetTime(t0.Add(time.Second))
			return e
		}, nil, sign.ReasonTamperedAttribute},
		{"dropping country from signedextattrs is a tampered attribute", func() event.Event {
			e := good()
			e.SetExtension(sign.ExtSignedAttrs, nil)
			return e
		}, nil, sign.ReasonTamperedAttribute},
		{"a key missing from the trust list is unknown", func() event.Event { return signed(t, w.rogue, sampleEvent("ma")) }, nil, sign.ReasonUnknownKey},
		{"an event dated before not_before is outside the window", func() event.Event {
			e := sampleEvent("ma")
			e.SetTime(t0.Add(-48 * time.Hour))
			return signed(t, w.ma, e)
		}, nil, sign.ReasonKeyOutsideWindow},
		{"an event dated after not_after is outside the window", func() event.Event {
			e := sampleEvent("ma")
			e.SetTime(t0.Add(48 * time.Hour))
			return signed(t, w.ma, e)
		}, nil, sign.ReasonKeyOutsideWindow},
		{"an event dated in the future is refused", func() event.Event {
			e := sampleEvent("lk")
			e.SetTime(t0.Add(time.Hour))
			return signed(t, w.lk, e)
		}, nil, sign.ReasonKeyOutsideWindow},
		{"a revoked key is refused", good, revokedList, sign.ReasonKeyRevoked},
		{"another country's key is refused", func() event.Event {
			// Sri Lanka's key, posing as Morocco.
			forger := sign.PrivateKey{Country: "ma", KeyID: w.lk.KeyID, Key: w.lk.Key}
			return signed(t, forger, sampleEvent("ma"))
		}, nil, sign.ReasonWrongCountryKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tl := w.trust
			if tc.trust != nil {
				tl = tc.trust
			}
			_, err := verifier(t, tl).Verify(tc.event())
			if got := sign.ReasonOf(err); got != tc.want {
				t.Fatalf("reason %q (%v), want %q", got, err, tc.want)
			}
		})
	}
}

func TestCheckSubjectRefusesAnotherCountrysSubject(t *testing.T) {
	e := sampleEvent("ma")
	if err := sign.CheckSubject("dpi.ma.proposal.endorsed.mosip-id-repository", e); err != nil {
		t.Fatalf("own subject refused: %v", err)
	}
	for _, subj := range []string{"dpi.ph.proposal.endorsed.mosip-id-repository", "not.a.subject"} {
		if r := sign.ReasonOf(sign.CheckSubject(subj, e)); r != sign.ReasonSubjectMismatch {
			t.Errorf("CheckSubject(%q) reason %q, want %q", subj, r, sign.ReasonSubjectMismatch)
		}
	}
}

func TestSignRefusesAnotherCountrysEvent(t *testing.T) {
	w := newWorld(t)
	s, _ := sign.NewSigner(w.ma)
	e := sampleEvent("lk")
	if err := s.Sign(&e); err == nil {
		t.Fatal("Morocco's signer signed a Sri Lankan event")
	}
}

func TestTrustListRoundTripsAndRejectsBadEntries(t *testing.T) {
	w := newWorld(t)
	path := t.TempDir() + "/trust.json"
	if err := w.trust.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	tl, err := sign.LoadTrustList(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(tl.Keys) != 2 || tl.Keys[0].KeyID != w.ma.KeyID || !tl.Keys[0].NotAfter.Equal(t0.Add(24*time.Hour)) {
		t.Fatalf("round trip changed the list: %+v", tl.Keys)
	}
	bad := []string{
		`{"keys":[{"country":"MA","keyid":"x","public_key":"AAAA"}]}`,
		`{"keys":[{"country":"ma","keyid":"ma:0000000000000000","public_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}]}`,
		`{"keys":`,
	}
	for _, b := range bad {
		if _, err := sign.ParseTrustList([]byte(b)); err == nil {
			t.Errorf("ParseTrustList(%s) accepted a bad list", b)
		}
	}
}

func TestPrivateKeyFileRoundTripsAndIsNotOverwritten(t *testing.T) {
	w := newWorld(t)
	path := t.TempDir() + "/ma.key"
	if err := sign.WritePrivateKey(path, w.ma); err != nil {
		t.Fatal(err)
	}
	if err := sign.WritePrivateKey(path, w.lk); err == nil {
		t.Fatal("an existing key file was overwritten")
	}
	k, err := sign.ReadPrivateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if k.KeyID != w.ma.KeyID || !k.Key.Equal(w.ma.Key) {
		t.Fatal("key changed in the round trip")
	}
}

func TestVerifyCacheDoesNotHideTampering(t *testing.T) {
	w := newWorld(t)
	v := verifier(t, w.trust)
	e := signed(t, w.ma, sampleEvent("ma"))
	if _, err := v.Verify(e); err != nil {
		t.Fatal(err)
	}
	e2 := e.Clone()
	_ = e2.SetData("application/json", map[string]string{"proposal_id": "p-9"})
	if r := sign.ReasonOf(func() error { _, err := v.Verify(e2); return err }()); r != sign.ReasonTamperedData {
		t.Fatalf("second verification of a tampered copy: reason %q", r)
	}
}

func envelope(t testing.TB, e event.Event) map[string]any {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(e.Extensions()[sign.ExtMaterial].(string))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func setEnvelope(t testing.TB, e *event.Event, env map[string]any) {
	t.Helper()
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	e.SetExtension(sign.ExtMaterial, base64.StdEncoding.EncodeToString(b))
}
