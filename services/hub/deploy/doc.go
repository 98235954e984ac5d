// Package deploy describes a multi-country deployment of dpihub and
// writes what it needs: the nats-server configurations of a hub cluster
// and of one leaf site per country, the trust they share, every
// identity's credentials, and the streams that join the sites to the hub.
//
// NATS is the distributed engine; this package only configures it:
//
//   - The hub is a cluster of (usually three) nats-servers with JetStream
//     in domain "hub". Its stream DPI keeps every event with three
//     replicas.
//   - Each country runs a site: one nats-server that is a leaf node of
//     the hub, with JetStream in its own domain (its country code). The
//     country's node publishes into the site's stream DPI, which captures
//     dpi.<cc>.> only, so the site keeps working while its link is down.
//   - The hub pulls each site's events by sourcing, in two steps: stream
//     SITE_<CC> sources the site's DPI (filter dpi.<cc>.>), and the hub's
//     DPI sources SITE_<CC> (filter dpi.<cc>.> again). The second filter
//     is applied by a consumer the hub runs on its own stream, so what a
//     site sends, whatever it does to its own server, reaches DPI only on
//     its own subjects; anything else stays in SITE_<CC>.
//   - Each site sources the hub's DPI, filtered to the other countries'
//     and the hub services' subjects, so its node keeps assessing what it
//     already had while cut off.
//   - The leaf link carries no event subject (access.RoleSite): events
//     cross by sourcing only, so each arrives once, and sourcing resumes
//     where it stopped when the link returns.
//
// Plan says where everything runs; Write writes a deployment directory
// from a Plan and an access.Authority; Streams sets up the streams.
package deploy
