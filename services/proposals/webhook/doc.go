// Package webhook delivers a project's proposal events to the upstream
// maintainers who subscribe to them, as CloudEvents over HTTP webhooks.
//
// A Dispatcher keeps its subscriptions in the JetStream key-value bucket
// PROPOSAL_WEBHOOKS, one per receiver URL and project. Subscribing runs the
// handshake of the CloudEvents HTTP Web Hook spec first: an OPTIONS request
// with WebHook-Request-Origin, to which the receiver must answer 2xx with
// WebHook-Allowed-Origin; nothing is ever sent to a URL that did not
// agree. The subscriber then gets a secret, once.
//
// Each subscription has its own durable consumer on stream DPI (webhook-<id>,
// subjects dpi.*.proposal.*.<project>, one unacknowledged message at a
// time) and its own worker, which for each event, in stream order:
//
//   - admits it as every consumer of the hub does (bus.Admit: signature
//     against the trust list, contract, authority); an event that is not
//     admitted is skipped, never delivered;
//   - POSTs it in structured mode: the body is the stored message itself
//     (application/cloudevents+json), so the event's own signature
//     (dssematerial, dpihubdigests) reaches the receiver intact and can be
//     checked there against the hub's trust list;
//   - signs the request as Standard Webhooks prescribes: webhook-id (the
//     same on every attempt), webhook-timestamp and webhook-signature
//     (HMAC-SHA256 with the secret), which a receiver checks with
//     VerifyRequest;
//   - on anything but 2xx retries with exponential back-off and jitter,
//     keeping the message in hand, until it is accepted, or until it has
//     failed for Config.GiveUpAfter or Config.MaxAttempts times: then it
//     is dead-lettered on DPI_DLQ with reason webhook-undeliverable and
//     the worker goes on with the next event. A 410 Gone answer
//     unsubscribes.
//
// A receiver therefore gets each event at least once, in order; a repeat
// (after a crash between its answer and the acknowledgement) has the same
// webhook-id. Handshake and VerifyRequest are the receiver's half.
package webhook
