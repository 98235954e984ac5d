package node

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/dpihub/dpihub/events"
)

// Heartbeat publishes that the node is alive (node.heartbeat): the
// node's software version, when it started, how many forks it tracks,
// and its lag, the events of the hub's stream it has yet to process,
// which the caller measured (the node knows no stream). Each heartbeat is
// a new fact, named by when it was sent.
func (n *Node) Heartbeat(ctx context.Context, version string, started, now time.Time, lag int) error {
	forks, err := n.store.Forks(ctx)
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	hb := events.NodeHeartbeat{Version: version, StartedAt: started.UTC(), Services: []string{SourceService}, Forks: len(forks), Lag: max(lag, 0)}
	id := n.factID("heartbeat", strconv.FormatInt(started.UnixNano(), 10), strconv.FormatInt(now.UnixNano(), 10))
	if err := n.pub.Publish(ctx, "", hb, id); err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	return nil
}
