package deploy

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/dpihub/dpihub/events"
	"github.com/dpihub/dpihub/events/access"
)

// Member is one nats-server of the hub cluster.
type Member struct {
	Name string `json:"name"` // server_name, stable across restarts
	// Host is how the others (members, sites, clients) reach it; Listen is
	// the address it binds (default 0.0.0.0).
	Host   string `json:"host"`
	Listen string `json:"listen,omitempty"`
	// LeafHost is how the sites reach it, when not at Host (a public
	// address, while routes stay on a private network).
	LeafHost string `json:"leaf_host,omitempty"`
	// Ports: clients, cluster routes, leafnodes, monitoring (/healthz).
	Client  int `json:"client_port"`
	Cluster int `json:"cluster_port"`
	Leaf    int `json:"leaf_port"`
	Monitor int `json:"monitor_port"`
	// Store is the JetStream store directory as the server sees it.
	Store string `json:"store_dir"`
}

// Site is one country's nats-server, a leaf node of the hub.
type Site struct {
	Country string `json:"country"`
	Name    string `json:"name"` // server_name: site-<cc>
	Host    string `json:"host"`
	Listen  string `json:"listen,omitempty"`
	Client  int    `json:"client_port"`
	Monitor int    `json:"monitor_port"`
	Store   string `json:"store_dir"`
}

// Plan is a deployment: the hub cluster's members and the countries'
// sites. It is written as plan.json in the deployment directory, so that
// a country can be added to it later.
type Plan struct {
	Hub   []Member `json:"hub"`
	Sites []Site   `json:"sites"`
	// Dir is where the deployment directory is as the servers see it
	// (default: where it is written): their configurations name the leaf
	// links' credentials under it.
	Dir string `json:"dir,omitempty"`
}

// Defaults of DefaultPlan, as in docker-compose.yml.
const (
	ClientPort  = 4222
	ClusterPort = 6222
	LeafPort    = 7422
	MonitorPort = 8222
	// ClusterName is the hub cluster's name.
	ClusterName = "dpihub"
	// MaxPayload is every server's max_payload: what the embedded hub
	// uses (embedded.DefaultMaxPayload).
	MaxPayload = 8 << 20
)

// DefaultPlan is a deployment of a three-member hub (hosts hub-1, hub-2,
// hub-3) and a site per country (host nats-<cc>), each on the default
// ports and storing under /data, with the deployment directory at
// /etc/dpihub: the names docker-compose.yml uses.
func DefaultPlan(countries []string) (Plan, error) {
	p := Plan{Dir: "/etc/dpihub"}
	for i := 1; i <= 3; i++ {
		name := "hub-" + strconv.Itoa(i)
		p.Hub = append(p.Hub, Member{Name: name, Host: name, Client: ClientPort, Cluster: ClusterPort,
			Leaf: LeafPort, Monitor: MonitorPort, Store: "/data"})
	}
	for _, cc := range countries {
		if err := p.AddCountry(cc); err != nil {
			return Plan{}, err
		}
	}
	return p, nil
}

// AddCountry adds a site for cc on the default ports (host nats-<cc>,
// store /data).
func (p *Plan) AddCountry(cc string) error {
	return p.AddSite(Site{Country: cc, Host: "nats-" + cc, Client: ClientPort, Monitor: MonitorPort, Store: "/data"})
}

// AddSite adds s, naming it site-<cc> if it has no name.
func (p *Plan) AddSite(s Site) error {
	if err := access.Site(s.Country).Validate(); err != nil {
		return fmt.Errorf("add site: %w", err)
	}
	if slices.Contains(p.Countries(), s.Country) {
		return fmt.Errorf("add site: %s already has one", s.Country)
	}
	if s.Name == "" {
		s.Name = "site-" + s.Country
	}
	p.Sites = append(p.Sites, s)
	return nil
}

// Countries are the plan's countries, in the order they were added.
func (p Plan) Countries() []string {
	var cc []string
	for _, s := range p.Sites {
		cc = append(cc, s.Country)
	}
	return cc
}

// Site returns cc's site.
func (p Plan) Site(cc string) (Site, bool) {
	for _, s := range p.Sites {
		if s.Country == cc {
			return s, true
		}
	}
	return Site{}, false
}

// Validate checks what the configurations need.
func (p Plan) Validate() error {
	if len(p.Hub) == 0 {
		return errors.New("plan: no hub member")
	}
	names := map[string]bool{}
	for _, m := range p.Hub {
		if m.Name == "" || m.Host == "" || m.Store == "" || m.Client <= 0 || m.Cluster <= 0 || m.Leaf <= 0 {
			return fmt.Errorf("plan: hub member %q needs a name, a host, a store and its ports", m.Name)
		}
		if names[m.Name] {
			return fmt.Errorf("plan: two servers named %q", m.Name)
		}
		names[m.Name] = true
	}
	for _, s := range p.Sites {
		if err := access.Site(s.Country).Validate(); err != nil {
			return fmt.Errorf("plan: %w", err)
		}
		if s.Country == access.HubDomain || s.Country == events.HubCountry {
			return fmt.Errorf("plan: %q is the hub's domain, not a country", s.Country)
		}
		if s.Name == "" || s.Host == "" || s.Store == "" || s.Client <= 0 {
			return fmt.Errorf("plan: site of %s needs a name, a host, a store and a client port", s.Country)
		}
		if names[s.Name] {
			return fmt.Errorf("plan: two servers named %q", s.Name)
		}
		names[s.Name] = true
	}
	return nil
}

// The files of a deployment directory.
const (
	PlanFile     = "plan.json"
	AccountsFile = "accounts.conf"
	AuthDir      = "auth"  // the authority's seeds: secret
	CredsDir     = "creds" // every identity's .creds: secret, each for its holder
)

// HubServices are the hub services whose credentials Write issues.
var HubServices = []string{"feed", "proposals", "dedup"}

// ConfigFile is the name of server name's configuration: <name>.conf.
func ConfigFile(name string) string { return name + ".conf" }

// Write writes the deployment directory dir for plan, trusted by the
// authority in dir/auth (made if missing):
//
//	plan.json            the plan (deploy add-country reads it)
//	accounts.conf        the trust every server includes: operator, accounts
//	hub-N.conf           each hub member's configuration
//	site-<cc>.conf       each site's configuration
//	auth/                the authority (secret: it issues any identity)
//	creds/               site-<cc> (the leaf link), country-<cc>, service-<name>,
//	                     admin, observer
//
// Credentials already there are kept, so running it again after adding
// a country issues only the new country's.
func Write(dir string, plan Plan) error {
	if plan.Dir == "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return err
		}
		plan.Dir = abs
	}
	if err := plan.Validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("deployment directory: %w", err)
	}
	auth, _, err := access.LoadOrCreate(filepath.Join(dir, AuthDir))
	if err != nil {
		return err
	}
	trust, err := auth.Trust()
	if err != nil {
		return err
	}
	files := map[string]string{AccountsFile: accountsConf(trust)}
	for _, m := range plan.Hub {
		files[ConfigFile(m.Name)] = hubConf(plan, m)
	}
	for _, s := range plan.Sites {
		files[ConfigFile(s.Name)] = siteConf(plan, s, trust)
	}
	pj, err := json.MarshalIndent(plan, "", "  ")
	if err != nil {
		return err
	}
	files[PlanFile] = string(pj) + "\n"
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	ids := []access.Identity{access.Admin, access.Observer}
	for _, s := range HubServices {
		ids = append(ids, access.Service(s))
	}
	for _, cc := range plan.Countries() {
		ids = append(ids, access.Site(cc), access.Country(cc))
	}
	for _, id := range ids {
		path := filepath.Join(dir, CredsDir, id.CredsFile())
		if _, err := os.Stat(path); err == nil {
			continue
		}
		if err := auth.WriteCreds(path, id); err != nil {
			return fmt.Errorf("credentials of %s: %w", id, err)
		}
	}
	return nil
}

// Load reads the plan of the deployment directory dir.
func Load(dir string) (Plan, error) {
	b, err := os.ReadFile(filepath.Join(dir, PlanFile))
	if err != nil {
		return Plan{}, fmt.Errorf("deployment %s: %w", dir, err)
	}
	var p Plan
	if err := json.Unmarshal(b, &p); err != nil {
		return Plan{}, fmt.Errorf("deployment %s: %s: %w", dir, PlanFile, err)
	}
	return p, p.Validate()
}

// ClientURL is the URL clients use to reach a hub member or a site at
// host:port.
func ClientURL(host string, port int) string {
	return "nats://" + net.JoinHostPort(host, strconv.Itoa(port))
}

// HubURLs are the client URLs of every hub member, comma-separated, as
// nats.Connect takes them.
func (p Plan) HubURLs() string {
	var u []string
	for _, m := range p.Hub {
		u = append(u, ClientURL(m.Host, m.Client))
	}
	return strings.Join(u, ",")
}

// NATSServerVersion is the nats-server release the deployment's
// configurations are written for and tested with (go install
// github.com/nats-io/nats-server/v2@v2.15.2). v2.15.3 fixes duplicates
// after a leaf reconnects (nats-server PR 8069), but the module proxy
// this project builds from serves v2.15.2 only: the streams' duplicate
// window (Nats-Msg-Id, unique across countries) absorbs them, and the
// tests count by stream sequence.
const NATSServerVersion = "v2.15.2"
