// Package proposals is the hub's governance of roadmap proposals: the
// rules under which a proposal is accepted or declined (package
// governance), the service that applies them and signs its decisions as
// urn:dpihub:hub:proposals, and the subscriptions through which upstream
// maintainers receive their project's proposals (package webhook, server-
// sent events, NATS).
package proposals
