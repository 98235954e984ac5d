// Package events is the dpihub event contract: the catalog of event types,
// their payloads, the builder that turns a payload into a CloudEvent, and the
// validation every producer runs before publishing and every consumer runs
// after verifying a signature.
//
// Every event is a CloudEvents 1.0 event (github.com/cloudevents/sdk-go/v2):
//
//	type         org.dpihub.<kind>.<verb>.v<major>   e.g. org.dpihub.fix.published.v1
//	source       urn:dpihub:<cc>:<service>           e.g. urn:dpihub:ma:node
//	subject      the upstream project slug           e.g. mosip-id-repository
//	country      extension, equal to <cc> of source
//	dataschema   urn:dpihub:schema:<type>
//	data         JSON, valid against the type's JSON Schema (package schema)
//
// Build events with New, check them with Validate, and check with Authorize
// that their sender may say what they say (the authority table: who may emit
// each type about what; ids of fixes and proposals begin with their origin
// country, OriginOf). The subpackages carry the rest of the fabric: subject maps events to NATS subjects, sign signs and
// verifies them, bus moves them over JetStream.
package events
