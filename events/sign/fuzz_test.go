package sign_test

import (
	"encoding/base64"
	"testing"

	"github.com/dpihub/dpihub/events/sign"
)

// FuzzParseEnvelope: any bytes either parse into an envelope that names a
// key, or are refused with an error; never a panic.
func FuzzParseEnvelope(f *testing.F) {
	f.Add([]byte(`{"payloadType":"https://cloudevents.io/verifiability/dsse/v0.1","payload":"AAAA","signatures":[{"keyid":"ma:01","sig":"AAAA"}]}`))
	f.Add([]byte(`{"payloadType":"x","signatures":[]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := sign.ParseEnvelope(b)
		if err == nil && (env.PayloadType != sign.PayloadType || len(env.Signatures) == 0 || env.Signatures[0].KeyID == "") {
			t.Fatalf("accepted an envelope the extension forbids: %+v", env)
		}
	})
}

// FuzzVerifyMaterial: whatever an attacker puts in dssematerial, Verify
// refuses with a typed reason and never panics.
func FuzzVerifyMaterial(f *testing.F) {
	w := newWorld(f)
	good := signed(f, w.ma, sampleEvent("ma"))
	raw, _ := base64.StdEncoding.DecodeString(good.Extensions()[sign.ExtMaterial].(string))
	f.Add(raw)
	f.Add([]byte(`{"payloadType":"https://cloudevents.io/verifiability/dsse/v0.1","payload":"","signatures":[{"keyid":"` + w.ma.KeyID + `","sig":""}]}`))
	v := verifier(f, w.trust)
	f.Fuzz(func(t *testing.T, b []byte) {
		e := good.Clone()
		e.SetExtension(sign.ExtMaterial, base64.StdEncoding.EncodeToString(b))
		_, err := v.Verify(e)
		if string(b) == string(raw) {
			if err != nil {
				t.Fatalf("the original material was refused: %v", err)
			}
			return
		}
		if err == nil {
			t.Fatalf("forged material accepted: %q", b)
		}
		if sign.ReasonOf(err) == "" {
			t.Fatalf("refusal without a reason: %v", err)
		}
	})
}
