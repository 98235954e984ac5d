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
	// goodAt is good dated at, as a signer whose clock agrees with the hub's dates it.
	goodAt := func(at time.Time) func() event.Event {
		return func() event.Event {
			e := sampleEvent("ma")
			e.SetTime(at)
			return signed(t, w.ma, e)
		}
	}
	revokedList := &sign.TrustList{Keys: append([]sign.TrustedKey(nil), w.trust.Keys...)}
	revokedList.Keys[0].Revoked = true

	tests := []struct {
		name  string
		event func() event.Event
		trust *sign.TrustList
		want  sign.Reason
		// stored is when the hub stored the event; zero: Verify, which
		// takes the verifier's clock (t0).
		stored time.Time
	}{
		{"an unsigned event is refused as unsigned", func() event.Event { return sampleEvent("ma") }, nil, sign.ReasonUnsigned, time.Time{}},
		{"garbage material is a bad signature", func() event.Event {
			e := good()
			e.SetExtension(sign.ExtMaterial, "%%% not base64")
			return e
		}, nil, sign.ReasonBadSignature, time.Time{}},
		{"a flipped signature byte is a bad signature", func() event.Event {
			e := good()
			env := envelope(t, e)
			sig, _ := base64.StdEncoding.DecodeString(env["signatures"].([]any)[0].(map[string]any)["sig"].(string))
			sig[0] ^= 1
			env["signatures"].([]any)[0].(map[string]any)["sig"] = base64.StdEncoding.EncodeToString(sig)
			setEnvelope(t, &e, env)
			return e
		}, nil, sign.ReasonBadSignature, time.Time{}},
		{"changed data is tampered data", func() event.Event {
			e := good()
			_ = e.SetData("application/json", map[string]string{"proposal_id": "p-2"})
			return e
		}, nil, sign.ReasonTamperedData, time.Time{}},
		{"a changed subject is a tampered attribute", func() event.Event {
			e := good()
			e.SetSubject("mojaloop-central-ledger")
			return e
		}, nil, sign.ReasonTamperedAttribute, time.Time{}},
		{"a changed time is a tampered attribute", func() event.Event {
			e := good()
			e.SetTime(t0.Add(time.Second))
			return e
		}, nil, sign.ReasonTamperedAttribute, time.Time{}},
		{"a key missing from the trust list is unknown", func() event.Event { return signed(t, w.rogue, sampleEvent("ma")) }, nil, sign.ReasonUnknownKey, time.Time{}},
		{"an event stored before not_before is outside the window", func() event.Event {
			e := sampleEvent("ma")
			e.SetTime(t0.Add(-48 * time.Hour))
			return signed(t, w.ma, e)
		}, nil, sign.ReasonKeyOutsideWindow, t0.Add(-48 * time.Hour)},
		{"an event stored after not_after is outside the window", func() event.Event {
			e := sampleEvent("ma")
			e.SetTime(t0.Add(48 * time.Hour))
			return signed(t, w.ma, e)
		}, nil, sign.ReasonKeyOutsideWindow, t0.Add(48 * time.Hour)},
		{"a backdated event signed by an expired key is refused though its time is inside the window", good, nil, sign.ReasonKeyOutsideWindow, t0.Add(48 * time.Hour)},
		{"the same event stored while the key was valid passes", good, nil, "", t0.Add(23 * time.Hour)},
		{"an event claiming a time before not_before but stored inside the window passes: the claim decides nothing", func() event.Event {
			e := sampleEvent("ma")
			e.SetTime(t0.Add(-48 * time.Hour))
			return signed(t, w.ma, e)
		}, nil, "", t0},
		{"an event stored within the clock skew after not_after passes", goodAt(t0.Add(24 * time.Hour)), nil, "", t0.Add(24*time.Hour + sign.ClockSkew - time.Second)},
		{"an event stored just beyond the clock skew after not_after is refused", goodAt(t0.Add(24 * time.Hour)), nil, sign.ReasonKeyOutsideWindow, t0.Add(24*time.Hour + sign.ClockSkew + time.Second)},
		{"an event stored within the clock skew before not_before passes", goodAt(t0.Add(-24*time.Hour - sign.ClockSkew + time.Second)), nil, "", t0.Add(-24*time.Hour - sign.ClockSkew + time.Second)},
		{"an event stored just beyond the clock skew before not_before is refused", goodAt(t0.Add(-24*time.Hour - sign.ClockSkew - time.Second)), nil, sign.ReasonKeyOutsideWindow, t0.Add(-24*time.Hour - sign.ClockSkew - time.Second)},
		{"without a stored time the clock decides: an event of an expired key verified now is refused", func() event.Event {
			e := sampleEvent("ma")
			e.SetTime(t0.Add(-47 * time.Hour))
			return signed(t, w.ma, e)
		}, &sign.TrustList{Keys: []sign.TrustedKey{sign.Trusted(w.ma, t0.Add(-48*time.Hour), t0.Add(-24*time.Hour))}}, sign.ReasonKeyOutsideWindow, time.Time{}},
		{"an event dated in the future is refused", func() event.Event {
			e := sampleEvent("lk")
			e.SetTime(t0.Add(time.Hour))
			return signed(t, w.lk, e)
		}, nil, sign.ReasonKeyOutsideWindow, time.Time{}},
		{"an event dated after the time it was stored is refused", func() event.Event {
			e := sampleEvent("lk")
			e.SetTime(t0.Add(-time.Hour))
			return signed(t, w.lk, e)
		}, nil, sign.ReasonKeyOutsideWindow, t0.Add(-2 * time.Hour)},
		{"an event dated within the clock skew after it was stored passes", func() event.Event {
			e := sampleEvent("lk")
			e.SetTime(t0.Add(sign.ClockSkew - time.Second))
			return signed(t, w.lk, e)
		}, nil, "", t0},
		{"a revoked key is refused", good, revokedList, sign.ReasonKeyRevoked, time.Time{}},
		{"another country's key is refused", func() event.Event {
			// Sri Lanka's key, posing as Morocco.
			forger := sign.PrivateKey{Country: "ma", KeyID: w.lk.KeyID, Key: w.lk.Key}
			return signed(t, forger, sampleEvent("ma"))
		}, nil, sign.ReasonWrongCountryKey, time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tl := w.trust
			if tc.trust != nil {
				tl = tc.trust
			}
			v := verifier(t, tl)
			var err error
			if tc.stored.IsZero() {
				_, err = v.Verify(tc.event())
			} else {
				_, err = v.VerifyAt(tc.event(), tc.stored)
			}
			if got := sign.ReasonOf(err); got != tc.want {
				t.Fatalf("reason %q (%v), want %q", got, err, tc.want)
			}
		})
	}
}

func TestCheckSubjectRefusesASubjectWithATokenThatIsNotTheEvents(t *testing.T) {
	e := sampleEvent("ma") // proposal.endorsed about mosip-id-repository
	if err := sign.CheckSubject("dpi.ma.proposal.endorsed.mosip-id-repository", e); err != nil {
		t.Fatalf("own subject refused: %v", err)
	}
	for name, subj := range map[string]string{
		"another country":                         "dpi.ph.proposal.endorsed.mosip-id-repository",
		"another kind":                            "dpi.ma.fix.endorsed.mosip-id-repository",
		"another verb":                            "dpi.ma.proposal.submitted.mosip-id-repository",
		"another kind and verb":                   "dpi.ma.fix.published.mosip-id-repository",
		"another project":                         "dpi.ma.proposal.endorsed.mojaloop-central-ledger",
		"no project for an event about one":       "dpi.ma.proposal.endorsed._",
		"a verb spelled with dots":                "dpi.ma.proposal.endorsed.v1",
		"not a subject":                           "not.a.subject",
		"a subject of six tokens":                 "dpi.ma.proposal.endorsed.mosip-id-repository.x",
		"the hub's subject for a country's event": "dpi.hub.proposal.endorsed.mosip-id-repository",
	} {
		t.Run("refuses "+name, func(t *testing.T) {
			if r := sign.ReasonOf(sign.CheckSubject(subj, e)); r != sign.ReasonSubjectMismatch {
				t.Errorf("CheckSubject(%q) reason %q, want %q", subj, r, sign.ReasonSubjectMismatch)
			}
		})
	}
	t.Run("an event about no project travels on _", func(t *testing.T) {
		hb := sampleEvent("ma")
		hb.SetType("org.dpihub.node.heartbeat.v1")
		hb.SetSubject("")
		if err := sign.CheckSubject("dpi.ma.node.heartbeat._", hb); err != nil {
			t.Fatal(err)
		}
		if sign.ReasonOf(sign.CheckSubject("dpi.ma.node.heartbeat.mosip-id-repository", hb)) != sign.ReasonSubjectMismatch {
			t.Fatal("a heartbeat on a project's subject passed")
		}
	})
	t.Run("a two-word verb travels dashed", func(t *testing.T) {
		sc := sampleEvent("hub")
		sc.SetType("org.dpihub.proposal.status.changed.v1")
		if err := sign.CheckSubject("dpi.hub.proposal.status-changed.mosip-id-repository", sc); err != nil {
			t.Fatal(err)
		}
		if sign.ReasonOf(sign.CheckSubject("dpi.hub.proposal.status.mosip-id-repository", sc)) != sign.ReasonSubjectMismatch {
			t.Fatal("status.changed on a status subject passed")
		}
	})
}

func TestAHubEventVerifiesWithAHubKeyAndNotWithACountrysKey(t *testing.T) {
	w := newWorld(t)
	hub, err := sign.GenerateKey("hub")
	if err != nil {
		t.Fatal(err)
	}
	tl := &sign.TrustList{Keys: append([]sign.TrustedKey(nil), w.trust.Keys...)}
	tl.Add(sign.Trusted(hub, time.Time{}, time.Time{}))
	v := verifier(t, tl)
	hubEvent := func() event.Event {
		e := sampleEvent("hub")
		e.SetSource("urn:dpihub:hub:dedup")
		return e
	}
	if _, err := v.Verify(signed(t, hub, hubEvent())); err != nil {
		t.Fatalf("a hub event signed with a hub key: %v", err)
	}
	// Morocco's key, its key id and all, posing as the hub.
	forger := sign.PrivateKey{Country: "hub", KeyID: w.ma.KeyID, Key: w.ma.Key}
	if r := sign.ReasonOf(func() error { _, err := v.Verify(signed(t, forger, hubEvent())); return err }()); r != sign.ReasonWrongCountryKey {
		t.Fatalf("a hub event signed with a country's key: reason %q, want %q", r, sign.ReasonWrongCountryKey)
	}
	// And a hub key cannot speak for a country either.
	asMorocco := sign.PrivateKey{Country: "ma", KeyID: hub.KeyID, Key: hub.Key}
	if r := sign.ReasonOf(func() error { _, err := v.Verify(signed(t, asMorocco, sampleEvent("ma"))); return err }()); r != sign.ReasonWrongCountryKey {
		t.Fatalf("a country's event signed with a hub key: reason %q, want %q", r, sign.ReasonWrongCountryKey)
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
	// One key under two countries would let its holder speak for both.
	twice := &sign.TrustList{Keys: []sign.TrustedKey{sign.Trusted(w.ma, time.Time{}, time.Time{})}}
	asLK := sign.PrivateKey{Country: "lk", KeyID: sign.KeyID("lk", w.ma.Public()), Key: w.ma.Key}
	twice.Add(sign.Trusted(asLK, time.Time{}, time.Time{}))
	if err := twice.Validate(); err == nil {
		t.Error("a trust list with one key under two countries was accepted")
	}
	// A window of no length is empty.
	empty := &sign.TrustList{Keys: []sign.TrustedKey{sign.Trusted(w.ma, t0, t0)}}
	if err := empty.Validate(); err == nil {
		t.Error("a key valid from t0 to t0 was accepted")
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

// The cache spares the ed25519 step only: a signature that verified once
// does not let a later check skip the key's window.
func TestVerifyCacheDoesNotSkipTheWindowCheck(t *testing.T) {
	w := newWorld(t)
	v := verifier(t, w.trust)
	e := signed(t, w.ma, sampleEvent("ma"))
	for range 2 {
		if _, err := v.VerifyAt(e, t0); err != nil {
			t.Fatal(err)
		}
	}
	if st := v.Stats(); st.Checked != 1 || st.Cached != 1 {
		t.Fatalf("stats %+v: want the second check served by the cache", st)
	}
	if r := sign.ReasonOf(func() error { _, err := v.VerifyAt(e, t0.Add(48*time.Hour)); return err }()); r != sign.ReasonKeyOutsideWindow {
		t.Fatalf("the cached signature, stored after not_after: reason %q, want %q", r, sign.ReasonKeyOutsideWindow)
	}
	revoked := &sign.TrustList{Keys: append([]sign.TrustedKey(nil), w.trust.Keys...)}
	revoked.Keys[0].Revoked = true
	if err := v.SetTrustList(revoked); err != nil {
		t.Fatal(err)
	}
	if r := sign.ReasonOf(func() error { _, err := v.VerifyAt(e, t0); return err }()); r != sign.ReasonKeyRevoked {
		t.Fatalf("the cached signature of a key revoked since: reason %q, want %q", r, sign.ReasonKeyRevoked)
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
