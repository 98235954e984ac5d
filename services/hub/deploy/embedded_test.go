package deploy_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/dpihub/dpihub/events/access"
	"github.com/dpihub/dpihub/events/bus"
	"github.com/dpihub/dpihub/events/bus/bustest"
	"github.com/dpihub/dpihub/services/hub"
	"github.com/dpihub/dpihub/services/hub/deploy"
	"github.com/dpihub/dpihub/services/hub/embedded"
)

// dpihub serve --site ma --hub ... runs ma's site in the dpihub process:
// an embedded nats-server that is a leaf node of the hub cluster, with
// its own authority for its local clients and the hub's credentials for
// its link.
func TestAnEmbeddedSiteJoinsTheHubCluster(t *testing.T) {
	bin := natsServer(t)
	dir := t.TempDir()
	var plan deploy.Plan
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("hub-%d", i)
		plan.Hub = append(plan.Hub, deploy.Member{Name: name, Host: "127.0.0.1", Listen: "127.0.0.1",
			Client: freePort(t), Cluster: freePort(t), Leaf: freePort(t), Store: filepath.Join(dir, "data", name)})
	}
	maPort := freePort(t)
	for _, s := range []deploy.Site{
		{Country: "ma", Host: "127.0.0.1", Client: maPort, Store: "unused: the site is embedded"},
		{Country: "ph", Host: "127.0.0.1", Listen: "127.0.0.1", Client: freePort(t), Store: filepath.Join(dir, "data", "site-ph")},
	} {
		if err := plan.AddSite(s); err != nil {
			t.Fatal(err)
		}
	}
	d := start(t, bin, dir, plan, nil, nil, "site-ma")

	ctx := context.Background()
	leaf := &embedded.Leaf{Domain: "ma", Creds: filepath.Join(dir, deploy.CredsDir, access.Site("ma").CredsFile())}
	for _, m := range plan.Hub {
		leaf.URLs = append(leaf.URLs, fmt.Sprintf("nats-leaf://127.0.0.1:%d", m.Leaf))
	}
	h, err := hub.Start(ctx, hub.Config{DataDir: t.TempDir(), ServerName: "site-ma", NATSPort: maPort, HTTPAddr: "-", Site: leaf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		h.Close(sctx)
	})
	d.applyStreams()

	opts, err := h.Auth.ConnectOptions(access.Country("ma"))
	if err != nil {
		t.Fatal(err)
	}
	maNC, err := nats.Connect(h.NATSURL(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer maNC.Close()
	s, _ := signers(t, "ma", "ph")
	if err := attach(t, maNC, "").Publisher(s["ma"]).PublishBatch(ctx, fixes(t, "ma", 20, "embedded")); err != nil {
		t.Fatal(err)
	}
	ph := attach(t, d.connect("site-ph", access.Country("ph")), "")
	if err := ph.Publisher(s["ph"]).PublishBatch(ctx, fixes(t, "ph", 1, "to-embedded")); err != nil {
		t.Fatal(err)
	}
	hubJS := jsOf(t, d.connectHub(access.Observer), access.HubDomain)
	bustest.Eventually(t, catchUp, "the embedded site's 20 fixes in the hub's DPI", func() bool {
		return count(t, hubJS, bus.Stream, deploy.Own("ma")) == 20
	})
	maJS, err := jetstream.New(maNC)
	if err != nil {
		t.Fatal(err)
	}
	bustest.Eventually(t, catchUp, "ph's fix at the embedded site", func() bool {
		return count(t, maJS, bus.Stream, deploy.Own("ph")) == 1
	})
}
