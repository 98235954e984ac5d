// Package bus moves dpihub events over NATS JetStream.
//
// Stream DPI holds every event (subjects dpi.>, file storage, limits
// retention, at most Config.MaxBytes of messages of at most
// Config.MaxMsgSize each); stream DPI_DLQ holds what consumers refused,
// each entry the original message plus headers that say why
// (Dpihub-Dlq-Reason, Dpihub-Dlq-Detail, Dpihub-Dlq-Consumer, ...), or,
// for a message that is not a CloudEvent, a bounded record of it. Open
// creates or updates both.
//
// Publishing (Publisher) validates an event against the contract, signs it,
// encodes it in CloudEvents structured mode (application/cloudevents+json)
// and publishes it with Nats-Msg-Id derived from (source, id), so a retried
// publish is stored once; every acknowledgement is checked.
//
// Consuming (Consume) runs a durable pull consumer. A consumer's logic is a
// plain Handler, func(ctx, event.Event) error, that knows nothing of acks.
// Around it the bus runs, for each message:
//
//	decode (structured or binary mode) → Admit:              in parallel workers
//	  Verify (subject tokens, signature, key at stored time)
//	  → Validate → Authorize (events.Authorize)
//	→ Dedupe by (source, id) → handler → metrics            in stream order
//
// and owns the outcome: ack on success; nak with back-off when the handler
// fails; after MaxDeliver attempts, or at once for a message that is not a
// CloudEvent, is not signed by its country, breaks the contract, is sent
// by someone who may not send it or is refused with Permanent, a
// dead-letter entry and term. One bad message
// never stops a consumer. Max-deliveries advisories of the server (a
// handler that hung, a process that died) end in the dead-letter stream
// too.
package bus
