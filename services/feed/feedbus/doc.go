// Package feedbus feeds the feed's store from JetStream.
//
// Project runs the live projection: a durable consumer over dpi.> whose
// handler applies each verified, valid event with its stream sequence and
// the time JetStream stored it (never the time of handling, so a replay
// gives the same tables), and records how long fixes take to reach each
// country as Prometheus histograms. Rebuild replays the whole stream into
// a store with an ordered consumer, verifying and validating each message
// with the same middleware as the live path.
//
// The package knows JetStream and the feed.Store interface, not SQL.
package feedbus
