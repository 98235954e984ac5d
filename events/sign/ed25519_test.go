package sign

import (
	"compress/gzip"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Edge cases of ed25519 where verifiers disagree ("Taming the many
// EdDSAs", Chalkias et al. 2020): the points of small order, canonical
// and not, as keys and as R; scalars at and above the group order.
var (
	smallOrderPoints = []string{
		"0100000000000000000000000000000000000000000000000000000000000000", // identity
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // order 2
		"0000000000000000000000000000000000000000000000000000000000000000", // order 4
		"0000000000000000000000000000000000000000000000000000000000000080", // order 4
		"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", // order 8
		"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", // order 8
		"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", // order 8
		"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85", // order 8
		// Non-canonical encodings: y >= p, or x = 0 with the sign bit set.
		"0100000000000000000000000000000000000000000000000000000000000080",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
		// Not on the curve.
		"0200000000000000000000000000000000000000000000000000000000000000",
	}
	groupOrder, _ = new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)
)

// scalar is n as 32 little-endian bytes, reduced to 256 bits.
func scalar(n *big.Int) []byte {
	b := make([]byte, 32)
	be := new(big.Int).And(n, new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))).Bytes()
	for i, c := range be {
		b[len(be)-1-i] = c
	}
	return b
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameAsStdlib fails t if edKey and crypto/ed25519 disagree on (pub, msg,
// sig), and reports crypto/ed25519's answer.
func sameAsStdlib(t testing.TB, pub, msg, sig []byte) bool {
	t.Helper()
	want := len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, msg, sig)
	if got := newEdKey(pub).verify(msg, sig); got != want {
		t.Errorf("pub %x msg %x sig %x: verify says %v, crypto/ed25519 says %v", pub, msg, sig, got, want)
	}
	return want
}

// edgeCases are (pub, msg, sig) triples at every edge the rules of
// crypto/ed25519 draw: small-order and non-canonical keys and R, s = 0,
// 1, L-1, L, L+1 and 2^256-1, and a real key's good signature with s and
// s+L, its R bit-flipped and its message changed.
func edgeCases(t testing.TB) [][3][]byte {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("dpihub edge case")
	good := ed25519.Sign(priv, msg)
	s := new(big.Int).SetBytes(reverse(good[32:]))
	var cases [][3][]byte
	add := func(pub, msg, r, s []byte) {
		cases = append(cases, [3][]byte{pub, msg, append(append([]byte{}, r...), s...)})
	}
	scalars := [][]byte{
		scalar(big.NewInt(0)), scalar(big.NewInt(1)),
		scalar(new(big.Int).Sub(groupOrder, big.NewInt(1))), scalar(groupOrder),
		scalar(new(big.Int).Add(groupOrder, big.NewInt(1))), unhex(t, strings.Repeat("ff", 32)),
	}
	for _, a := range smallOrderPoints {
		for _, r := range smallOrderPoints {
			for _, sc := range scalars {
				add(unhex(t, a), msg, unhex(t, r), sc)
			}
		}
		add(pub, msg, unhex(t, a), scalar(big.NewInt(0))) // a real key, small-order R
		add(unhex(t, a), msg, good[:32], good[32:])       // a small-order key, a real signature
	}
	add(pub, msg, good[:32], good[32:])                               // good
	add(pub, msg, good[:32], scalar(new(big.Int).Add(s, groupOrder))) // s + L: malleated
	flipped := append([]byte{}, good[:32]...)
	flipped[0] ^= 1
	add(pub, msg, flipped, good[32:])
	add(pub, []byte("dpihub edge casE"), good[:32], good[32:])
	return cases
}

func reverse(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		out[len(b)-1-i] = c
	}
	return out
}

// TestEd25519LikeStdlib: the expanded-key verification accepts exactly
// what crypto/ed25519 accepts on every edge case.
func TestEd25519LikeStdlib(t *testing.T) {
	accepted := 0
	cases := edgeCases(t)
	for _, c := range cases {
		if sameAsStdlib(t, c[0], c[1], c[2]) {
			accepted++
		}
	}
	// The good signature and some small-order combinations pass, the
	// malleated and flipped ones fail: both answers are exercised.
	if accepted < 2 || accepted > len(cases)-3 {
		t.Fatalf("crypto/ed25519 accepted %d of %d edge cases: the cases do not exercise both answers", accepted, len(cases))
	}
	// Wrong sizes are refused, never a panic.
	k := newEdKey(make([]byte, 31))
	if k.verify([]byte("m"), make([]byte, 64)) {
		t.Fatal("a 31-byte key verified a signature")
	}
	if newEdKey(unhex(t, smallOrderPoints[4])).verify([]byte("m"), make([]byte, 63)) {
		t.Fatal("a 63-byte signature verified")
	}
}

// TestEd25519VectorsLikeStdlib runs the published test vectors that
// curve25519-voi ships in its module (C2SP ed25519vectors, Wycheproof,
// ZIP-215 and the speccheck cases of "Taming the many EdDSAs") through
// both verifiers.
func TestEd25519VectorsLikeStdlib(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command to find the module")
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/oasisprotocol/curve25519-voi").Output()
	if err != nil {
		t.Fatalf("go list -m curve25519-voi: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "primitives", "ed25519", "testdata")
	load := func(name string, v any) {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		z, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.NewDecoder(z).Decode(v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	n, accepted := 0, 0
	check := func(pub, msg, sig []byte) {
		n++
		if sameAsStdlib(t, pub, msg, sig) {
			accepted++
		}
	}
	var spec []struct {
		Message   string `json:"message"`
		PubKey    string `json:"pub_key"`
		Signature string `json:"signature"`
	}
	load("speccheck_cases.json.gz", &spec)
	for _, c := range spec {
		check(unhex(t, c.PubKey), unhex(t, c.Message), unhex(t, c.Signature))
	}
	var zip215 [][2]string
	load("zip215.json.gz", &zip215)
	for _, c := range zip215 {
		check(unhex(t, c[0]), []byte("Zcash"), unhex(t, c[1]))
	}
	var c2sp []struct{ A, R, S, M string }
	load("ed25519vectors.json.gz", &c2sp)
	for _, c := range c2sp {
		check(unhex(t, c.A), []byte(c.M), append(unhex(t, c.R), unhex(t, c.S)...))
	}
	var wycheproof struct {
		TestGroups []struct {
			Key   struct{ Pk string }
			Tests []struct{ Msg, Sig string }
		}
	}
	load("eddsa_test.json.gz", &wycheproof)
	for _, g := range wycheproof.TestGroups {
		for _, c := range g.Tests {
			check(unhex(t, g.Key.Pk), unhex(t, c.Msg), unhex(t, c.Sig))
		}
	}
	if n < 1000 || accepted == 0 || accepted == n {
		t.Fatalf("%d vectors, %d accepted: the vector files did not load as expected", n, accepted)
	}
	t.Logf("%d vectors, %d accepted by both", n, accepted)
}

// FuzzEd25519LikeStdlib: on any key, message and signature, the
// expanded-key verification answers as crypto/ed25519 does.
func FuzzEd25519LikeStdlib(f *testing.F) {
	for _, c := range edgeCases(f) {
		f.Add(c[0], c[1], c[2])
	}
	f.Fuzz(func(t *testing.T, pub, msg, sig []byte) {
		if len(pub) != ed25519.PublicKeySize {
			if newEdKey(pub).verify(msg, sig) {
				t.Fatalf("a %d-byte key verified", len(pub))
			}
			return
		}
		sameAsStdlib(t, pub, msg, sig)
	})
}
