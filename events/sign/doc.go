// Package sign signs and verifies dpihub events following the CloudEvents
// Verifiability extension as published (cloudevents/spec
// cloudevents/extensions/verifiability.md at commit 95514c4, the merge of
// PR #1386): a DSSE envelope (github.com/secure-systems-lab/go-securesystemslib/dsse)
// signed with ed25519 over the verification material {core, ext,
// signedextattrs}, carried Base64-encoded in the dssematerial attribute.
// docs/security.md gives every byte.
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
// Besides the standard attributes, Sign adds dpihubdigests: the digest
// lists whose SHA-256 are the signed core and ext digests. They are trusted
// only when they hash to what was signed, and let a verifier say whether
// the data or which attribute was altered, instead of only "does not
// match".
//
// Events signed before 2026-11-29 followed an intermediate draft of the
// extension; Verifier still accepts them (legacy.go), and nothing signs
// them any more.
package sign
