package sign

import (
	"crypto/sha256"
	"testing"
)

// FuzzParseMaterial: any signed payload is either refused with an error,
// read as the legacy 32-byte digest, or gives material that keeps the
// extension's rules: a 32-byte core, and ext with its names or neither.
func FuzzParseMaterial(f *testing.F) {
	d := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	f.Add([]byte(`{"core":"` + d + `","ext":"` + d + `","signedextattrs":["country"]}`))
	f.Add([]byte(`{"core":"` + d + `"}`))
	f.Add([]byte(`{"core":"` + d + `","signedextattrs":["country"]}`))
	f.Add(make([]byte, 32))
	f.Add([]byte(`{"core":null,"ext":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseMaterial(b)
		switch {
		case err == errLegacyPayload:
			if len(b) != sha256.Size {
				t.Fatalf("a %d-byte payload read as legacy", len(b))
			}
		case err != nil:
		case len(m.Core) != sha256.Size:
			t.Fatalf("core of %d bytes accepted", len(m.Core))
		case (m.Ext == nil) != (m.SignedExtAttrs == nil):
			t.Fatalf("ext %x without names %v, or the other way round", m.Ext, m.SignedExtAttrs)
		case m.Ext != nil && len(m.Ext) != sha256.Size:
			t.Fatalf("ext of %d bytes accepted", len(m.Ext))
		}
	})
}
