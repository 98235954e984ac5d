package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dpihub/dpihub/events"
)

// Standard Webhooks (https://www.standardwebhooks.com/, spec 1.0.0): every
// delivery carries an id, a timestamp and an HMAC-SHA256 signature over
// both and the body, keyed with the subscription's secret. This file holds
// both sides of it: signing here, checking at the receiver.

// Headers of a delivery, as Standard Webhooks names them.
const (
	// HeaderID is the delivery's id: the same for an event and a
	// subscription on every attempt, so that a receiver can drop repeats.
	HeaderID = "webhook-id"
	// HeaderTimestamp is when this attempt was signed, in Unix seconds.
	HeaderTimestamp = "webhook-timestamp"
	// HeaderSignature holds one or more space-separated signatures,
	// "v1," followed by the Base64 of the HMAC-SHA256.
	HeaderSignature = "webhook-signature"
)

// DefaultTolerance is how far a delivery's timestamp may be from the
// receiver's clock when VerifyRequest is given no tolerance: Standard
// Webhooks' recommended five minutes.
const DefaultTolerance = 5 * time.Minute

// secretPrefix starts every secret, as Standard Webhooks prescribes; what
// follows is the standard Base64 of the key.
const secretPrefix = "whsec_"

// Refusals of VerifyRequest. They are events.ErrUnauthorized, so a
// receiver that answers with package problem says 401.
var (
	// ErrUnsigned: a webhook-id, webhook-timestamp or webhook-signature
	// header is missing.
	ErrUnsigned = events.Sentinel(events.ErrUnauthorized, "webhook: webhook-id, webhook-timestamp and webhook-signature are required")
	// ErrTimestamp: the timestamp is not Unix seconds, or is further from
	// now than the tolerance (a replay, or a clock far off).
	ErrTimestamp = events.Sentinel(events.ErrUnauthorized, "webhook: timestamp outside the tolerance")
	// ErrSignature: no v1 signature matches the body and the secret.
	ErrSignature = events.Sentinel(events.ErrUnauthorized, "webhook: no valid signature")
	// ErrSecret: the secret is not whsec_ followed by standard Base64.
	ErrSecret = events.Sentinel(events.ErrBadInput, "webhook: the secret is not whsec_ followed by Base64")
)

// newSecret returns a fresh secret: whsec_ and the standard Base64 of 32
// random bytes.
func newSecret() string {
	var k [32]byte
	rand.Read(k[:]) // never fails (crypto/rand)
	return secretPrefix + base64.StdEncoding.EncodeToString(k[:])
}

// secretKey returns the HMAC key of secret: its Base64 part, decoded. The
// prefix is optional, as in the Standard Webhooks libraries.
func secretKey(secret string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, secretPrefix))
	if err != nil || len(k) == 0 {
		return nil, ErrSecret // the secret's text stays out of the error
	}
	return k, nil
}

// signature returns the v1 signature of one attempt: the Base64 of
// HMAC-SHA256(key, id "." timestamp "." body). timestamp is the header's
// text, so that sender and receiver hash the same bytes.
func signature(key []byte, id, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// messageID is the webhook-id of an event for subscription sub: msg_ and
// the unpadded base64url of the first 16 bytes of SHA-256(sub ":" ref),
// where ref is the event's source "#" id (bus.MsgID). An event is unique by
// source and id, so the webhook-id is the same on every attempt and every
// redelivery, and differs between subscriptions, which have their own
// secrets.
func messageID(sub, ref string) string {
	h := sha256.Sum256([]byte(sub + ":" + ref))
	return "msg_" + base64.RawURLEncoding.EncodeToString(h[:16])
}

// VerifyRequest checks, at a receiver, that a delivery comes from the hub
// that holds secret (the one Subscribe returned) and was made within
// tolerance of now (DefaultTolerance if tolerance <= 0): the
// webhook-signature header must hold a v1 signature (any of several,
// space-separated, may match) of the webhook-id, the webhook-timestamp and
// body, which must be the request's body exactly as received. Signatures
// are compared in constant time. A refusal is ErrUnsigned, ErrTimestamp,
// ErrSignature or ErrSecret.
//
// It proves the sender, not the event's author: the CloudEvent in body
// carries its own signature, which a sign.Verifier checks against the
// trust list.
func VerifyRequest(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, ts, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || ts == "" || sigs == "" {
		return ErrUnsigned
	}
	key, err := secretKey(secret)
	if err != nil {
		return err
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %q is not Unix seconds", ErrTimestamp, ts)
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if off := time.Unix(sec, 0).Sub(now); off > tolerance || off < -tolerance {
		return fmt.Errorf("%w: %s is %v from now, more than %v", ErrTimestamp, ts, off.Round(time.Second), tolerance)
	}
	want := []byte(signature(key, id, ts, body))
	for s := range strings.FieldsSeq(sigs) {
		if hmac.Equal([]byte(s), want) {
			return nil
		}
	}
	return ErrSignature
}
