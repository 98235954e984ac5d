// Package sign signs and verifies dpihub events following the CloudEvents
// Verifiability extension (cloudevents/spec extensions/verifiability.md):
// a DSSE envelope (github.com/secure-systems-lab/go-securesystemslib/dsse)
// over a SHA-256 digest of the event's attributes, data and the signed
// extension attributes, carried base64-encoded in the dssematerial
// attribute, with the signed extension names in signedextattrs.
//
// Keys are ed25519. Each country signs with its own keys; a TrustList says
// which public keys belong to which country and when each is valid. A
// Verifier refuses an event for one precise Reason: unsigned, bad
// signature, tampered data, tampered attribute, unknown key, key outside
// its validity window when the hub stored the event (VerifyAt), revoked
// key, key of another country, or (via CheckSubject) a NATS subject with a
// token that is not the event's. The hub's own services sign with keys of
// the pseudo country "hub".
//
// Besides the standard attributes, Sign adds dpihubdigests: the list of the
// per-part digests whose SHA-256 is the signed payload. It is authenticated
// through the signature and lets a verifier say whether the data or which
// attribute was altered, instead of only "does not match".
package sign
