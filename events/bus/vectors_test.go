package bus_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/events/sign"
	"github.com/dpihub/dpihub/events/subject"
)

// The example verifier (docs/examples/verify-python) is checked against
// vectors that dpihub signs: docs/examples/vectors holds a set, made from
// fixed keys, ids and times so that it is the same on every run (go test
// ./bus -run Vectors -update rewrites it). The Go verifier must reach the
// same verdict as the vector names, and so must the Python one.

var updateVectors = flag.Bool("update", false, "rewrite docs/examples/vectors")

const (
	vectorsDir  = "../../docs/examples/vectors"
	verifierDir = "../../docs/examples/verify-python"
)

// vectorCase is one entry of cases.json.
type vectorCase struct {
	File   string `json:"file"`
	Stored string `json:"stored"` // when the hub stored the message
	Want   string `json:"want"`   // "verified" or the refusal reason
	About  string `json:"about"`
	body   []byte
}

// fixedKey is country's vector key, derived from a public seed: vectors
// are reproducible, and these keys must never be trusted anywhere else.
func fixedKey(t testing.TB, name, country string) sign.PrivateKey {
	t.Helper()
	seed := sha256.Sum256([]byte("dpihub example vectors, not a real key: " + name))
	priv := ed25519.NewKeyFromSeed(seed[:])
	return sign.PrivateKey{Country: country, KeyID: sign.KeyID(country, priv.Public().(ed25519.PublicKey)), Key: priv}
}

// makeVectors builds the vector set: its trust list and cases.
func makeVectors(t *testing.T) (*sign.TrustList, []vectorCase) {
	t.Helper()
	at := time.Date(2026, 11, 29, 12, 0, 0, 120_000_000, time.UTC)
	stored := at.Add(time.Second)
	tl := &sign.TrustList{}
	keys := map[string]sign.PrivateKey{}
	for _, cc := range []string{"ma", "ph", "lk", "hub"} {
		keys[cc] = fixedKey(t, cc, cc)
		tl.Add(sign.Trusted(keys[cc], at.Add(-24*time.Hour), time.Time{}))
	}
	revoked := fixedKey(t, "ph revoked", "ph")
	r := sign.Trusted(revoked, time.Time{}, time.Time{})
	r.Revoked, r.Comment = true, "revoked: its events are refused whatever their date"
	tl.Add(r)
	expired := fixedKey(t, "lk expired", "lk")
	tl.Add(sign.Trusted(expired, at.Add(-48*time.Hour), at.Add(-24*time.Hour)))
	stranger := fixedKey(t, "stranger", "ma")

	var cases []vectorCase
	n := 0
	add := func(name, about, want string, e event.Event, st time.Time) {
		t.Helper()
		subj, err := subjectOf(e)
		if err != nil {
			t.Fatal(err)
		}
		m, err := bus.Encode(subj, e)
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, vectorCase{File: "messages/" + name + ".json", Stored: st.Format(time.RFC3339Nano), Want: want, About: about, body: m.Data})
	}
	build := func(typ string, p events.Payload) event.Event {
		t.Helper()
		src, _ := events.SampleSource(typ)
		proj := project
		if spec, _ := events.Lookup(typ); !spec.Project {
			proj = ""
		}
		n++
		e, err := events.New(src, proj, p, events.WithID(fmt.Sprintf("%s-0193a8c2-0000-7000-8000-%012d", src.Country, n)), events.WithTime(at))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	signWith := func(k sign.PrivateKey, e event.Event) event.Event {
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
	signed := func(e event.Event) event.Event { return signWith(keys[e.Extensions()["country"].(string)], e) }

	for _, spec := range events.Catalog() {
		p, _ := events.Sample(spec.Type)
		about := "a " + events.ShortType(spec.Type) + " as dpihub signs it"
		if !spec.Project {
			about += ", with no subject"
		}
		add(events.ShortType(spec.Type), about, "verified", signed(build(spec.Type, p)), stored)
	}
	fp, _ := events.Sample(events.TypeFixPublished)
	f := fp.(events.FixPublished)
	f.Title = "Corrigé: <script>&amp; « ligne »\u2028suivante \u2029 — 日本語 ✓ 🛂"
	f.Message = "Tab\tquote\" backslash\\ and a line\nbreak"
	unicode := signed(build(events.TypeFixPublished, f))
	add("unicode", "non-ASCII text, <>&, U+2028 and U+2029, escapes in the data", "verified", unicode, stored)

	null := build(events.TypeNodeHeartbeat, mustSample(t, events.TypeNodeHeartbeat))
	null.DataEncoded = []byte("null")
	add("data-null", `"data": null, signed as its four bytes null (not a valid dpihub event, but a valid signature)`, "verified", signed(null), stored)

	tamper := func(name, about, want string, change func(e *event.Event)) {
		e := unicode.Clone()
		change(&e)
		add(name, about, want, e, stored)
	}
	tamper("tampered-data", "a character of the data changed", string(sign.ReasonTamperedData), func(e *event.Event) {
		e.DataEncoded = bytes.Replace(e.DataEncoded, []byte("Corrig"), []byte("Corrog"), 1)
	})
	tamper("tampered-data-no-hint", "the data changed and dpihubdigests dropped: the changed part is unknown", string(sign.ReasonTamperedAttribute), func(e *event.Event) {
		e.DataEncoded = bytes.Replace(e.DataEncoded, []byte("Corrig"), []byte("Corrog"), 1)
		e.SetExtension(sign.ExtDigests, nil)
	})
	tamper("tampered-subject", "the subject changed", string(sign.ReasonTamperedAttribute), func(e *event.Event) { e.SetSubject("mojaloop-central-ledger") })
	tamper("tampered-time", "the time moved by one second", string(sign.ReasonTamperedAttribute), func(e *event.Event) { e.SetTime(e.Time().Add(-time.Second)) })
	tamper("tampered-country", "the signed country extension changed", string(sign.ReasonTamperedAttribute), func(e *event.Event) { e.SetExtension("country", "ph") })
	tamper("unsigned", "dssematerial dropped", string(sign.ReasonUnsigned), func(e *event.Event) { e.SetExtension(sign.ExtMaterial, nil) })
	tamper("bad-signature", "one byte of the signature flipped", string(sign.ReasonBadSignature), func(e *event.Event) {
		e.SetExtension(sign.ExtMaterial, flipSig(t, e.Extensions()[sign.ExtMaterial].(string)))
	})
	add("stranger", "signed by a key the trust list does not hold", string(sign.ReasonUnknownKey), signWith(stranger, unicode.Clone()), stored)
	add("other-country-key", "Morocco's event signed with Sri Lanka's key", string(sign.ReasonWrongCountryKey),
		signWith(sign.PrivateKey{Country: "ma", KeyID: keys["lk"].KeyID, Key: keys["lk"].Key}, unicode.Clone()), stored)
	ph, _ := events.Sample(events.TypeFixAssessed)
	add("revoked", "signed by a revoked key", string(sign.ReasonKeyRevoked), signWith(revoked, build(events.TypeFixAssessed, ph)), stored)
	lk, _ := events.Sample(events.TypeFixAdopted)
	add("expired", "stored after its key's not_after", string(sign.ReasonKeyOutsideWindow), signWith(expired, build(events.TypeFixAdopted, lk)), stored)
	add("future", "a time more than two minutes after it was stored", string(sign.ReasonKeyOutsideWindow), signed(build(events.TypeFixPublished, fp)), at.Add(-3*time.Minute))
	legacyVectors(t, tl, add)
	return tl, cases
}

// legacyVectors adds events of the stream the previous code wrote
// (testdata/legacy-stream), with their stored times, and trusts its keys.
func legacyVectors(t *testing.T, tl *sign.TrustList, add func(name, about, want string, e event.Event, st time.Time)) {
	t.Helper()
	old, err := sign.LoadTrustList("testdata/legacy-stream/trust.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range old.Keys {
		k.Comment = "a key of the legacy stream"
		tl.Add(k)
	}
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("testdata/legacy-stream/store")); err != nil {
		t.Fatal(err)
	}
	s := bustest.Server(t, dir, bustest.WithoutAuth())
	_, js := bustest.Connect(t, s)
	st, err := js.Stream(context.Background(), bus.Stream)
	if err != nil {
		t.Fatal(err)
	}
	for _, pick := range []struct {
		typ, name, about string
		last             bool
	}{
		{events.TypeNodeHeartbeat, "legacy-heartbeat", "legacy format: a node.heartbeat signed before 2026-11-29, time with .12", false},
		{events.TypeFixPublished, "legacy-unicode", "legacy format: non-ASCII text, <>& and U+2028 in the data", true},
	} {
		seqs := []uint64{}
		for seq := uint64(1); ; seq++ {
			m, err := st.GetMsg(context.Background(), seq)
			if err != nil {
				break
			}
			if e, _ := bus.Decode(nats.Header(m.Header), m.Data); e.Type() == pick.typ {
				seqs = append(seqs, seq)
			}
		}
		if len(seqs) == 0 {
			t.Fatalf("no %s in the legacy stream", pick.typ)
		}
		seq := seqs[0]
		if pick.last {
			seq = seqs[len(seqs)-1]
		}
		m, err := st.GetMsg(context.Background(), seq)
		if err != nil {
			t.Fatal(err)
		}
		e, err := bus.Decode(nats.Header(m.Header), m.Data)
		if err != nil {
			t.Fatal(err)
		}
		add(pick.name, pick.about, "verified", e, m.Time)
		if pick.last {
			e2 := e.Clone()
			e2.DataEncoded = bytes.Replace(e2.DataEncoded, []byte("Corrig"), []byte("Corrog"), 1)
			add(pick.name+"-tampered", "legacy format, a character of the data changed", string(sign.ReasonTamperedData), e2, m.Time)
		}
	}
}

func mustSample(t *testing.T, typ string) events.Payload {
	t.Helper()
	p, ok := events.Sample(typ)
	if !ok {
		t.Fatalf("no sample of %s", typ)
	}
	return p
}

func subjectOf(e event.Event) (string, error) {
	s, err := subject.Of(e)
	return s.String(), err
}

func flipSig(t *testing.T, material string) string {
	t.Helper()
	raw, _ := base64.StdEncoding.DecodeString(material)
	var env map[string]any
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	sig := env["signatures"].([]any)[0].(map[string]any)
	b, _ := base64.StdEncoding.DecodeString(sig["sig"].(string))
	b[10] ^= 1
	sig["sig"] = base64.StdEncoding.EncodeToString(b)
	out, _ := json.Marshal(env)
	return base64.StdEncoding.EncodeToString(out)
}

// goVerdict is what dpihub's own verifier says of a vector.
func goVerdict(t *testing.T, v *sign.Verifier, c vectorCase) string {
	t.Helper()
	h := nats.Header{}
	h.Set("Content-Type", bus.ContentTypeStructured)
	e, err := bus.Decode(h, c.body)
	if err != nil {
		t.Fatalf("%s: %v", c.File, err)
	}
	stored, err := time.Parse(time.RFC3339Nano, c.Stored)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.VerifyAt(e, stored); err != nil {
		return string(sign.ReasonOf(err))
	}
	return "verified"
}

func TestExampleVectorsAreCurrentAndTheGoVerifierAgrees(t *testing.T) {
	tl, cases := makeVectors(t)
	if *updateVectors {
		writeVectors(t, vectorsDir, tl, cases)
	}
	got := readDir(t, vectorsDir)
	want := readDir(t, writeVectors(t, t.TempDir(), tl, cases))
	for name, b := range want {
		if !bytes.Equal(got[name], b) {
			t.Errorf("%s/%s is stale; regenerate: cd events && go test ./bus -run Vectors -update", vectorsDir, name)
		}
		delete(got, name)
	}
	for name := range got {
		t.Errorf("%s/%s is not a vector any more; regenerate with -update", vectorsDir, name)
	}
	v, err := sign.NewVerifier(tl)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if got := goVerdict(t, v, c); got != c.Want {
			t.Errorf("%s (%s): Go says %s, the vector %s", c.File, c.About, got, c.Want)
		}
	}
}

// TestTheExampleVerifierAgreesWithDpihub runs the Python verifier's test
// suite against the committed vectors and against a fresh set made by
// this run's code.
func TestTheExampleVerifierAgreesWithDpihub(t *testing.T) {
	python := bustest.Python(t)
	tl, cases := makeVectors(t)
	fresh := writeVectors(t, t.TempDir(), tl, cases)
	for name, dir := range map[string]string{"committed": vectorsDir, "fresh": fresh} {
		t.Run(name, func(t *testing.T) {
			abs, err := filepath.Abs(dir)
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(python, "-m", "unittest", "-v", "test_verify")
			cmd.Dir = verifierDir
			cmd.Env = append(os.Environ(), "DPIHUB_VECTORS="+abs, "PYTHONDONTWRITEBYTECODE=1")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("the example verifier's tests failed: %v\n%s", err, out)
			}
			if n := strings.Count(string(out), "... ok"); n < len(cases) {
				t.Fatalf("%d tests passed, want at least one per vector (%d):\n%s", n, len(cases), out)
			}
		})
	}
}

func writeVectors(t *testing.T, dir string, tl *sign.TrustList, cases []vectorCase) string {
	t.Helper()
	if err := os.RemoveAll(filepath.Join(dir, "messages")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "messages"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := tl.WriteFile(filepath.Join(dir, "trust.json")); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if err := os.WriteFile(filepath.Join(dir, c.File), c.body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := json.MarshalIndent(cases, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cases.json"), append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if rel == "README.md" {
			return nil
		}
		b, err := os.ReadFile(path)
		out[rel] = b
		return err
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return out
}
