package sign

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// The Verifiability extension's own examples, as published in
// cloudevents/spec, cloudevents/extensions/verifiability.md at commit
// 95514c4 (the merge of PR #1386; the file is that of d54e6bb). Each test
// below names the section it checks. Eleven printed values cannot be
// reproduced from the text, and the tests say so instead of skipping them:
//   - the core digests of the walkthrough and of cases 3, 4, 6a, 6b and 7:
//     no form of their data (the compact one the text names included)
//     gives them; case 5's does, and is checked;
//   - the payloads of the walkthrough's step 5 and of cases 6a and 6b end
//     in a stray "=" byte: their signatures verify only without it
//     (TestSpecPayloadsWithAStrayByteVerifyOnlyWithoutIt);
//   - the Examples section and cases 1 and 2 still carry the raw 32-byte
//     payload of the earlier draft, which this package reads as its
//     legacy format.

const (
	// The spec's key: ECDSA P-256, signatures r‖s (64 bytes).
	specX = "46950820868899156662930047687818585632848591499744589407958293238635476079160"
	specY = "5640078356564379163099075877009565129882514886557779369047442380624545832820"

	// The walkthrough's step 4: the DSSE envelope, as JSON.
	specWalkthroughEnvelope = `{
  "payloadType": "https://cloudevents.io/verifiability/dsse/v0.1",
  "payload": "eyJjb3JlIjoidmpYckhOdC9rLzNyU1M5V2VqemVROHZKNHNVMXVRaCtKNTFWcXJ5N1huTT0iLCJleHQiOiJrVTFQOGJEYUVueU5oZ2xXemRUSk5IaDc3a2hOV1NaZWJCVXh1ZlZNMnBVPSIsInNpZ25lZGV4dGF0dHJzIjpbImV4dGEiXX0=",
  "signatures": [{
    "keyid": "testkey",
    "sig": "hHmGOmdE+Zp7FjCQ+SxwbYKzckKkUHLuOlaGUJ9Hc91K2vXvGX03vMLRimnQMaPudmfmwjRbcOqbd7Y7STXnxg=="
  }]
}`

	// Case 5, the event.
	specCase5Event = `{
 "specversion" : "1.0",
 "id" : "1",
 "source" : "example/uri",
 "type" : "example.type.binary",
 "datacontenttype" : "application/octet-stream",
 "data_base64" : "8J+koQ=="
}`

	// Case 6a and 7, the event (6b adds extb to 6a's and signs exta only).
	specCase7Event = `{
 "specversion" : "1.0",
 "id" : "1",
 "source" : "example/uri",
 "type" : "example.type",
 "datacontenttype" : "application/json",
 "exta" : "value1",
 "extb" : "value2",
 "data" : {
  "hello" : "world"
 }
}`
)

// The dssematerial values the text prints ("verification material").
const (
	specCase1            = "eyJwYXlsb2FkVHlwZSI6Imh0dHBzOi8vY2xvdWRldmVudHMuaW8vdmVyaWZpYWJpbGl0eS9kc3NlL3YwLjEiLCJwYXlsb2FkIjoiNXh6NS9WdG94TkpWWWFZeG1MZUw2eEw5STZDYXY5UDNnb2g2cXlDWUdmUT0iLCJzaWduYXR1cmVzIjpbeyJrZXlpZCI6InRlc3RrZXkiLCJzaWciOiJ3WWo4YlJQWFlDSUxyeXdzUDdXR1VCd1RKc25aSFlYTUhpWEZtWWh1QkdhOU1ocDdYNHZFN1FBYkhXbytXZitjTURBYjN6dXlwRjVVbVdwZGtJUGppUT09In1dfQ=="
	specCase2            = "eyJwYXlsb2FkVHlwZSI6Imh0dHBzOi8vY2xvdWRldmVudHMuaW8vdmVyaWZpYWJpbGl0eS9kc3NlL3YwLjEiLCJwYXlsb2FkIjoiNXh6NS9WdG94TkpWWWFZeG1MZUw2eEw5STZDYXY5UDNnb2g2cXlDWUdmUT0iLCJzaWduYXR1cmVzIjpbeyJrZXlpZCI6InRlc3RrZXkiLCJzaWciOiJ3WWo4YlJQWFlDSUxyeXdzUDdXR1VCd1RKc25aSFlYTUhpWEZtWWh1QkdhOU1ocDdYNHZFN1FBYkhXbytXZitjTURBYjN6dXlwRjVVbVdwZGtJUGppUT09In1dfQ=="
	specCase3            = "eyJwYXlsb2FkVHlwZSI6Imh0dHBzOi8vY2xvdWRldmVudHMuaW8vdmVyaWZpYWJpbGl0eS9kc3NlL3YwLjEiLCJwYXlsb2FkIjoiZXlKamIzSmxJam9pZDB0RFlUaHpjVE5rZVdjdk1EQmFhVVJSZVM5aFdFRlpNWFJsY0ZGdWNrdE1ZVFo0VURCWk0wUXZVVDBpZlE9PSIsInNpZ25hdHVyZXMiOlt7ImtleWlkIjoidGVzdGtleSIsInNpZyI6IlVNcWlOWXA3U1FacTZNSGRtczRkbjJtc0hHaW5MSHZaYVVWM2doY2ovY241QmkzZDVqejBzZmhtOXBaODlDY09hK1dXdGpZNmNadmo3Yy90T1dzVFZnPT0ifV19"
	specCase4            = "eyJwYXlsb2FkVHlwZSI6Imh0dHBzOi8vY2xvdWRldmVudHMuaW8vdmVyaWZpYWJpbGl0eS9kc3NlL3YwLjEiLCJwYXlsb2FkIjoiZXlKamIzSmxJam9pZDB0RFlUaHpjVE5rZVdjdk1EQmFhVVJSZVM5aFdFRlpNWFJsY0ZGdWNrdE1ZVFo0VURCWk0wUXZVVDBpZlE9PSIsInNpZ25hdHVyZXMiOlt7ImtleWlkIjoidGVzdGtleSIsInNpZyI6IlVNcWlOWXA3U1FacTZNSGRtczRkbjJtc0hHaW5MSHZaYVVWM2doY2ovY241QmkzZDVqejBzZmhtOXBaODlDY09hK1dXdGpZNmNadmo3Yy90T1dzVFZnPT0ifV19"
	specCase5            = "eyJwYXlsb2FkVHlwZSI6Imh0dHBzOi8vY2xvdWRldmVudHMuaW8vdmVyaWZpYWJpbGl0eS9kc3NlL3YwLjEiLCJwYXlsb2FkIjoiZXlKamIzSmxJam9pY1VOVFpXbGFhMU1yYUVnNVYybERiR1p4Tm5Cc1puRlpUbFo1TW10MmVGZFNabTlDY2t4RmVtOUVhejBpZlE9PSIsInNpZ25hdHVyZXMiOlt7ImtleWlkIjoidGVzdGtleSIsInNpZyI6IkYyaXAweG1nSlgzdWdIWkM2dE1ycjdBMkVxYWkwOHJhR3JUd2R5aC9PR0RJSXJGN0J5TTJ5SVRMS3FOckYzZHpaR1IybzBDczlmRUJGZEx4Uk9VeUVRPT0ifV19"
	specCase6a           = "eyJwYXlsb2FkVHlwZSI6Imh0dHBzOi8vY2xvdWRldmVudHMuaW8vdmVyaWZpYWJpbGl0eS9kc3NlL3YwLjEiLCJwYXlsb2FkIjoiZXlKamIzSmxJam9pVEZSblVVdElSMmhsWnpaVU5EaDRjRWRIY2pWNlRtdGthSEF5TW10bGJscERUM0ZwWTBaMFNUUlRRVDBpTENKbGVIUWlPaUpyVlRGUU9HSkVZVVZ1ZVU1b1oyeFhlbVJVU2s1SWFEYzNhMmhPVjFOYVpXSkNWWGgxWmxaTk1uQlZQU0lzSW5OcFoyNWxaR1Y0ZEdGMGRISnpJanBiSW1WNGRHRWlYWDA5Iiwic2lnbmF0dXJlcyI6W3sia2V5aWQiOiJ0ZXN0a2V5Iiwic2lnIjoibHBPcHNqUnZ2NFBDb05zQUlSRFl1MXphWlNBVkV2ajVSQzFGSk1yTDEyekJLa2IxTjhFSGlQc3FJMStId0V5V092SHU3eHE1aDBkN3BWWTRBdElOM3c9PSJ9XX0="
	specCase6b           = "eyJwYXlsb2FkVHlwZSI6Imh0dHBzOi8vY2xvdWRldmVudHMuaW8vdmVyaWZpYWJpbGl0eS9kc3NlL3YwLjEiLCJwYXlsb2FkIjoiZXlKamIzSmxJam9pVEZSblVVdElSMmhsWnpaVU5EaDRjRWRIY2pWNlRtdGthSEF5TW10bGJscERUM0ZwWTBaMFNUUlRRVDBpTENKbGVIUWlPaUpyVlRGUU9HSkVZVVZ1ZVU1b1oyeFhlbVJVU2s1SWFEYzNhMmhPVjFOYVpXSkNWWGgxWmxaTk1uQlZQU0lzSW5OcFoyNWxaR1Y0ZEdGMGRISnpJanBiSW1WNGRHRWlYWDA5Iiwic2lnbmF0dXJlcyI6W3sia2V5aWQiOiJ0ZXN0a2V5Iiwic2lnIjoibHBPcHNqUnZ2NFBDb05zQUlSRFl1MXphWlNBVkV2ajVSQzFGSk1yTDEyekJLa2IxTjhFSGlQc3FJMStId0V5V092SHU3eHE1aDBkN3BWWTRBdElOM3c9PSJ9XX0="
	specCase7            = "eyJwYXlsb2FkVHlwZSI6Imh0dHBzOi8vY2xvdWRldmVudHMuaW8vdmVyaWZpYWJpbGl0eS9kc3NlL3YwLjEiLCJwYXlsb2FkIjoiZXlKamIzSmxJam9pVEZSblVVdElSMmhsWnpaVU5EaDRjRWRIY2pWNlRtdGthSEF5TW10bGJscERUM0ZwWTBaMFNUUlRRVDBpTENKbGVIUWlPaUpJUWpGd1pUUXpNVVp2VVZwU2MwcGllVXhPVFhFd1VXRkJkbkZRZEcxb1pHazRaRWhIVTJoaVNrRlZQU0lzSW5OcFoyNWxaR1Y0ZEdGMGRISnpJanBiSW1WNGRHRWlMQ0psZUhSaUlsMTkiLCJzaWduYXR1cmVzIjpbeyJrZXlpZCI6InRlc3RrZXkiLCJzaWciOiIyZzFVb0FRcHoxb1BqWlRQUlplK3l2THpaUU5FQ1pha2piWlZYaXpEd2RNbmVJSCsrLzUzdVhOMmJDU2tWSkltZndPaVl5S0JtNG12c01ISlhJVWh6Zz09In1dfQ=="
	specWalkthroughStep5 = "eyJwYXlsb2FkVHlwZSI6Imh0dHBzOi8vY2xvdWRldmVudHMuaW8vdmVyaWZpYWJpbGl0eS9kc3NlL3YwLjEiLCJwYXlsb2FkIjoiZXlKamIzSmxJam9pZG1wWWNraE9kQzlyTHpOeVUxTTVWMlZxZW1WUk9IWktOSE5WTVhWUmFDdEtOVEZXY1hKNU4xaHVUVDBpTENKbGVIUWlPaUpyVlRGUU9HSkVZVVZ1ZVU1b1oyeFhlbVJVU2s1SWFEYzNhMmhPVjFOYVpXSkNWWGgxWmxaTk1uQlZQU0lzSW5OcFoyNWxaR1Y0ZEdGMGRISnpJanBiSW1WNGRHRWlYWDA5Iiwic2lnbmF0dXJlcyI6W3sia2V5aWQiOiJ0ZXN0a2V5Iiwic2lnIjoiaEhtR09tZEUrWnA3RmpDUStTeHdiWUt6Y2tLa1VITHVPbGFHVUo5SGM5MUsydlh2R1gwM3ZNTFJpbW5RTWFQdWRtZm13alJiY09xYmQ3WTdTVFhueGc9PSJ9XX0="
)

// p256Verifier checks the spec's ECDSA signatures, r‖s over SHA-256.
type p256Verifier struct{ pub *ecdsa.PublicKey }

func (v p256Verifier) Verify(_ context.Context, data, sig []byte) error {
	if len(sig) != 64 {
		return errors.New("not a 64-byte r‖s signature")
	}
	h := sha256.Sum256(data)
	if !ecdsa.Verify(v.pub, h[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return errors.New("ECDSA signature does not verify")
	}
	return nil
}
func (v p256Verifier) KeyID() (string, error)   { return "testkey", nil }
func (v p256Verifier) Public() crypto.PublicKey { return v.pub }

// specOpen reads an envelope as Verifier does (steps 3 to 7: Binary value,
// UTF-8, DSSE JSON, payload type, signature) with the spec's key, and
// returns the signed payload.
func specOpen(t *testing.T, envJSON []byte) ([]byte, error) {
	t.Helper()
	x, _ := new(big.Int).SetString(specX, 10)
	y, _ := new(big.Int).SetString(specY, 10)
	ev, err := dsse.NewEnvelopeVerifier(p256Verifier{&ecdsa.PublicKey{Curve: elliptic.P256(), X: x, Y: y}})
	if err != nil {
		t.Fatal(err)
	}
	env, err := ParseEnvelope(envJSON)
	if err != nil {
		t.Fatalf("parse envelope: %v", err)
	}
	_, payload, err := ev.VerifyAndDecode(context.Background(), env)
	return payload, err
}

func specMaterial(t *testing.T, dssematerial string) []byte {
	t.Helper()
	raw, err := materialBytes(dssematerial)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func specEvent(t *testing.T, js string) event.Event {
	t.Helper()
	var e event.Event
	if err := json.Unmarshal([]byte(js), &e); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestSpecSignaturesVerifyAndTheirPayloadsParse(t *testing.T) {
	for name, env := range map[string][]byte{
		"case 3":              specMaterial(t, specCase3),
		"case 4":              specMaterial(t, specCase4),
		"case 5":              specMaterial(t, specCase5),
		"case 7":              specMaterial(t, specCase7),
		"walkthrough, step 4": []byte(specWalkthroughEnvelope),
	} {
		t.Run(name, func(t *testing.T) {
			payload, err := specOpen(t, env)
			if err != nil {
				t.Fatalf("signature: %v", err)
			}
			if _, err := parseMaterial(payload); err != nil {
				t.Fatalf("payload %s: %v", payload, err)
			}
		})
	}
}

func TestSpecPayloadsWithAStrayByteVerifyOnlyWithoutIt(t *testing.T) {
	for name, mat := range map[string]string{"case 6a": specCase6a, "case 6b": specCase6b, "walkthrough, step 5": specWalkthroughStep5} {
		t.Run(name, func(t *testing.T) {
			raw := specMaterial(t, mat)
			if _, err := specOpen(t, raw); err == nil {
				t.Fatal("the printed envelope verifies: the spec's erratum is fixed, check the vector")
			}
			var env map[string]any
			if err := json.Unmarshal(raw, &env); err != nil {
				t.Fatal(err)
			}
			payload, _ := base64.StdEncoding.DecodeString(env["payload"].(string))
			fixed, ok := strings.CutSuffix(string(payload), "=")
			if !ok {
				t.Fatalf("payload %q has no stray byte", payload)
			}
			env["payload"] = base64.StdEncoding.EncodeToString([]byte(fixed))
			b, _ := json.Marshal(env)
			if _, err := specOpen(t, b); err != nil {
				t.Fatalf("without the stray byte: %v", err)
			}
		})
	}
}

func TestSpecCases1And2CarryTheEarlierDraftsPayloadReadAsLegacy(t *testing.T) {
	for name, mat := range map[string]string{"case 1": specCase1, "case 2": specCase2} {
		payload, err := specOpen(t, specMaterial(t, mat))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := parseMaterial(payload); !errors.Is(err, errLegacyPayload) {
			t.Fatalf("%s: a 32-byte payload is read as %v, want the legacy format", name, err)
		}
	}
}

func TestSpecCase5MaterialIsReproducedByteForByte(t *testing.T) {
	payload, err := specOpen(t, specMaterial(t, specCase5))
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := newMaterial(specEvent(t, specCase5Event), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.marshal(); string(got) != string(payload) {
		t.Fatalf("material %s, the spec signed %s", got, payload)
	}
}

func TestSpecExtDigestsAreReproduced(t *testing.T) {
	e := specEvent(t, specCase7Event)
	typs := map[string]string{"exta": "String", "extb": "String"}
	for _, tc := range []struct {
		name, mat string
		exts      []string
	}{
		{"case 6a", specCase6a, []string{"exta"}},
		{"case 6b", specCase6b, []string{"exta"}},
		{"case 7", specCase7, []string{"exta", "extb"}},
	} {
		raw := specMaterial(t, tc.mat)
		var env dsse.Envelope
		if err := json.Unmarshal(raw, &env); err != nil {
			t.Fatal(err)
		}
		payload, _ := env.DecodeB64Payload()
		want, err := parseMaterial([]byte(strings.TrimSuffix(string(payload), "=")))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		m, _, err := newMaterial(e, tc.exts, typs)
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Ext) != string(want.Ext) || strings.Join(want.SignedExtAttrs, ",") != strings.Join(tc.exts, ",") {
			t.Errorf("%s: ext %x over %v, the spec signed %x over %v", tc.name, m.Ext, tc.exts, want.Ext, want.SignedExtAttrs)
		}
	}
}

func TestSpecTimeNormalisation(t *testing.T) {
	for in, want := range map[string]string{
		"2020-06-18T17:24:53Z":             "2020-06-18T17:24:53Z", // case 3
		"2020-06-18T19:24:53+02:00":        "2020-06-18T17:24:53Z", // case 4
		"2026-05-13T10:49:12.123456+01:00": "2026-05-13T09:49:12Z", // Canonical Value Serialization
		"2026-05-13T09:49:12.999Z":         "2026-05-13T09:49:12Z", // step 3.8 (b): cut, not rounded
	} {
		at, err := time.Parse(time.RFC3339Nano, in)
		if err != nil {
			t.Fatal(err)
		}
		if got := secondsUTC(at); got != want {
			t.Errorf("%s hashed as %s, want %s", in, got, want)
		}
		if got, _ := canonical(in, "Timestamp"); string(got) != want {
			t.Errorf("Timestamp extension %s hashed as %s, want %s", in, got, want)
		}
	}
}

// Case 8: payloads a verifier must discard even with a good signature.
func TestSpecCase8PayloadsAreRefused(t *testing.T) {
	d := base64.StdEncoding.EncodeToString(make([]byte, 32))
	for name, payload := range map[string]string{
		"8a duplicate names":             `{"core":"` + d + `","ext":"` + d + `","signedextattrs":["exta","exta"]}`,
		"8b a context attribute":         `{"core":"` + d + `","ext":"` + d + `","signedextattrs":["exta","id"]}`,
		"8c dssematerial":                `{"core":"` + d + `","ext":"` + d + `","signedextattrs":["dssematerial"]}`,
		"8d signedextattrs without ext":  `{"core":"` + d + `","signedextattrs":["exta"]}`,
		"8e ext without signedextattrs":  `{"core":"` + d + `","ext":"` + d + `"}`,
		"an empty signedextattrs":        `{"core":"` + d + `","ext":"` + d + `","signedextattrs":[]}`,
		"a short core":                   `{"core":"AAAA"}`,
		"no core":                        `{"ext":"` + d + `","signedextattrs":["exta"]}`,
		"signedextattrs that is no list": `{"core":"` + d + `","ext":"` + d + `","signedextattrs":"exta"}`,
	} {
		m, err := parseMaterial([]byte(payload))
		if err == nil {
			err = validSignedAttrs(m.SignedExtAttrs)
		}
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// 8f: a value of no CloudEvents type, and a name of unknown type.
	if _, err := canonical(map[string]any{"a": 1}, "String"); err == nil {
		t.Error("8f: an object value was hashed")
	}
	if _, err := extDigests(specEvent(t, specCase7Event), []string{"exta"}, extensionTypes, nil); err == nil {
		t.Error("an extension of unknown type was hashed")
	}
}
