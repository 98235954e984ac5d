package deploy

import (
	"fmt"
	"net"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/dpihub/dpihub/events/access"
)

// The configurations are nats-server's own format, written by hand here
// rather than through a template package: each is a dozen lines, and
// reading this file shows exactly what a server gets.

const header = "# Written by dpihub deploy init; dpihub deploy add-country rewrites it.\n"

// pings: a server pings each connection every 10s and drops it after two
// unanswered pings, so a leaf link whose network went away is noticed in
// about 30s, not nats-server's default 2 minutes x 2, and the site's
// remote starts reconnecting.
const pings = "ping_interval: \"10s\"\nping_max: 2\n"

// accountsConf: operator (JWT) mode with the accounts preloaded, so
// users need not be known to any server: their JWTs are signed by
// account DPI. Every server of the deployment includes it.
func accountsConf(t access.Trust) string {
	var b strings.Builder
	b.WriteString(header)
	b.WriteString("# The operator and account JWTs are public; their keys are in auth/.\n")
	fmt.Fprintf(&b, "operator: %q\n", t.Operator)
	fmt.Fprintf(&b, "system_account: %s\n", t.SystemAccount)
	b.WriteString("resolver: MEMORY\nresolver_preload: {\n")
	keys := make([]string, 0, len(t.Accounts))
	for k := range t.Accounts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "  %s: %q\n", k, t.Accounts[k])
	}
	b.WriteString("}\n")
	return b.String()
}

func hostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

func listen(l string) string {
	if l == "" {
		return "0.0.0.0"
	}
	return l
}

// server writes what every server's configuration starts with: its name,
// client port, monitoring port (when monitor > 0), limits, pings and
// JetStream in domain.
func server(b *strings.Builder, name, addr string, client, monitor int, store, domain string) {
	fmt.Fprintf(b, "server_name: %s\n", name)
	fmt.Fprintf(b, "listen: %q\n", hostPort(listen(addr), client))
	if monitor > 0 {
		fmt.Fprintf(b, "http: %q\n", hostPort(listen(addr), monitor))
	}
	fmt.Fprintf(b, "max_payload: %d\n", MaxPayload)
	b.WriteString(pings)
	fmt.Fprintf(b, "jetstream {\n  store_dir: %q\n  domain: %s\n}\n", store, domain)
}

// hubConf: a member of the hub cluster, JetStream in domain hub. Routes
// name every member (a server ignores the route to itself).
func hubConf(p Plan, m Member) string {
	var b strings.Builder
	b.WriteString(header)
	fmt.Fprintf(&b, "# Hub cluster member %s.\n", m.Name)
	server(&b, m.Name, m.Listen, m.Client, m.Monitor, m.Store, access.HubDomain)
	fmt.Fprintf(&b, "cluster {\n  name: %s\n  listen: %q\n  routes: [\n", ClusterName, hostPort(listen(m.Listen), m.Cluster))
	for _, o := range p.Hub {
		fmt.Fprintf(&b, "    %q\n", "nats-route://"+hostPort(o.Host, o.Cluster))
	}
	b.WriteString("  ]\n}\n")
	fmt.Fprintf(&b, "leafnodes {\n  listen: %q\n}\n", hostPort(listen(m.Listen), m.Leaf))
	fmt.Fprintf(&b, "include %q\n", AccountsFile)
	return b.String()
}

// siteConf: a country's site, JetStream in its own domain, a leaf node of
// every hub member, bound to account DPI on both sides with the site's
// credentials (access.Site).
func siteConf(p Plan, s Site, t access.Trust) string {
	var b strings.Builder
	b.WriteString(header)
	fmt.Fprintf(&b, "# Site of %s: a leaf node of the hub with its own JetStream domain.\n", s.Country)
	server(&b, s.Name, s.Listen, s.Client, s.Monitor, s.Store, s.Country)
	b.WriteString("leafnodes {\n  reconnect: \"1s\"\n  remotes: [{\n    urls: [\n")
	for _, m := range p.Hub {
		h := m.Host
		if m.LeafHost != "" {
			h = m.LeafHost
		}
		fmt.Fprintf(&b, "      %q\n", "nats-leaf://"+hostPort(h, m.Leaf))
	}
	b.WriteString("    ]\n")
	fmt.Fprintf(&b, "    credentials: %q\n", path.Join(p.Dir, CredsDir, access.Site(s.Country).CredsFile()))
	fmt.Fprintf(&b, "    account: %s\n", t.Account)
	b.WriteString("  }]\n}\n")
	fmt.Fprintf(&b, "include %q\n", AccountsFile)
	return b.String()
}
