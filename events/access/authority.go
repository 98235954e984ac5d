package access

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// Names of the two accounts.
const (
	// SystemAccountName is the server's own account (monitoring,
	// advisories between servers); no identity connects to it.
	SystemAccountName = "SYS"
	// AccountName is the account that holds dpihub's streams, and the
	// account of every identity.
	AccountName = "DPI"
)

// The files of an authority's directory: one nkey seed each, mode 0600.
const (
	operatorFile = "operator.nk"
	systemFile   = "system.nk"
	accountFile  = "dpi.nk"
)

// Authority holds the keys that vouch for every identity: the operator,
// which the server trusts, the system account, and the account DPI, which
// signs the users. Whoever holds it can issue any identity; keep its
// directory as secret as the signing keys. Its String never shows a seed.
type Authority struct {
	operator, system, account nkeys.KeyPair
}

// New makes an authority with fresh keys.
func New() (*Authority, error) {
	op, err := nkeys.CreateOperator()
	if err != nil {
		return nil, fmt.Errorf("new authority: %w", err)
	}
	sys, err := nkeys.CreateAccount()
	if err != nil {
		return nil, fmt.Errorf("new authority: %w", err)
	}
	acc, err := nkeys.CreateAccount()
	if err != nil {
		return nil, fmt.Errorf("new authority: %w", err)
	}
	return &Authority{operator: op, system: sys, account: acc}, nil
}

// Load reads the authority that Save wrote in dir.
func Load(dir string) (*Authority, error) {
	read := func(name string, prefix nkeys.PrefixByte) (nkeys.KeyPair, error) {
		seed, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("load authority: %w", err)
		}
		kp, err := nkeys.FromSeed(seed)
		if err != nil {
			return nil, fmt.Errorf("load authority: %s: not an nkey seed", filepath.Join(dir, name))
		}
		if pub, _ := kp.PublicKey(); !nkeys.IsValidPublicKey(pub) || nkeys.Prefix(pub) != prefix {
			return nil, fmt.Errorf("load authority: %s holds the wrong kind of key", filepath.Join(dir, name))
		}
		return kp, nil
	}
	var a Authority
	var err error
	if a.operator, err = read(operatorFile, nkeys.PrefixByteOperator); err != nil {
		return nil, err
	}
	if a.system, err = read(systemFile, nkeys.PrefixByteAccount); err != nil {
		return nil, err
	}
	if a.account, err = read(accountFile, nkeys.PrefixByteAccount); err != nil {
		return nil, err
	}
	return &a, nil
}

// Save writes the authority's seeds into dir (made 0700 if missing), one
// file each, mode 0600. It never overwrites: replacing an authority would
// void every credential issued under it.
func (a *Authority) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save authority: %w", err)
	}
	for name, kp := range map[string]nkeys.KeyPair{operatorFile: a.operator, systemFile: a.system, accountFile: a.account} {
		seed, err := kp.Seed()
		if err != nil {
			return fmt.Errorf("save authority: %w", err)
		}
		if err := writeNew(filepath.Join(dir, name), seed); err != nil {
			return fmt.Errorf("save authority: %w", err)
		}
	}
	return nil
}

// LoadOrCreate loads the authority in dir, or makes and saves one if dir
// holds none; created says which.
func LoadOrCreate(dir string) (a *Authority, created bool, err error) {
	_, err = os.Stat(filepath.Join(dir, operatorFile))
	switch {
	case err == nil:
		a, err = Load(dir)
		return a, false, err
	case !errors.Is(err, fs.ErrNotExist):
		return nil, false, fmt.Errorf("load authority: %w", err)
	}
	if a, err = New(); err != nil {
		return nil, false, err
	}
	if err := a.Save(dir); err != nil {
		return nil, false, err
	}
	return a, true, nil
}

// String names the operator by its public key, never a seed.
func (a Authority) String() string {
	pub, _ := a.operator.PublicKey()
	return "access.Authority{operator " + pub + "}"
}

// GoString is String, so that %#v shows no seed either.
func (a Authority) GoString() string { return a.String() }

// Trust is what a nats-server needs to trust an authority: the operator's
// JWT, the system account's public key, and the JWT of each account by
// its public key (for a MEMORY resolver). None of it is secret.
type Trust struct {
	Operator      string
	SystemAccount string
	// Account is the public key of account DPI, which holds the streams
	// and every identity: a leafnode remote binds to it.
	Account  string
	Accounts map[string]string
}

// Trust returns what a server needs to trust the authority. Account DPI
// has JetStream with no limits of its own; the server's apply.
func (a *Authority) Trust() (Trust, error) {
	opub, _ := a.operator.PublicKey()
	spub, _ := a.system.PublicKey()
	apub, _ := a.account.PublicKey()
	oc := jwt.NewOperatorClaims(opub)
	oc.Name = "dpihub"
	oc.SystemAccount = spub
	ojwt, err := oc.Encode(a.operator)
	if err != nil {
		return Trust{}, fmt.Errorf("operator JWT: %w", err)
	}
	sc := jwt.NewAccountClaims(spub)
	sc.Name = SystemAccountName
	sjwt, err := sc.Encode(a.operator)
	if err != nil {
		return Trust{}, fmt.Errorf("system account JWT: %w", err)
	}
	ac := jwt.NewAccountClaims(apub)
	ac.Name = AccountName
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{
		MemoryStorage: jwt.NoLimit, DiskStorage: jwt.NoLimit, Streams: jwt.NoLimit, Consumer: jwt.NoLimit,
		MaxAckPending: jwt.NoLimit, MemoryMaxStreamBytes: jwt.NoLimit, DiskMaxStreamBytes: jwt.NoLimit,
	}
	ajwt, err := ac.Encode(a.operator)
	if err != nil {
		return Trust{}, fmt.Errorf("account JWT: %w", err)
	}
	return Trust{Operator: ojwt, SystemAccount: spub, Account: apub, Accounts: map[string]string{spub: sjwt, apub: ajwt}}, nil
}

// Configure makes o trust the authority: the operator, the two account
// JWTs in a resolver held in memory (users need not be known to the
// server: their JWTs are signed by the account), and the system account.
func (a *Authority) Configure(o *server.Options) error {
	t, err := a.Trust()
	if err != nil {
		return err
	}
	oc, err := jwt.DecodeOperatorClaims(t.Operator)
	if err != nil {
		return fmt.Errorf("operator JWT: %w", err)
	}
	res := &server.MemAccResolver{}
	for pub, token := range t.Accounts {
		if err := res.Store(pub, token); err != nil {
			return fmt.Errorf("account resolver: %w", err)
		}
	}
	o.TrustedOperators = []*jwt.OperatorClaims{oc}
	o.AccountResolver = res
	o.SystemAccount = t.SystemAccount
	return nil
}

// CredsOption sets an optional property of issued credentials.
type CredsOption func(*jwt.UserClaims)

// Expires makes credentials that the server refuses after t.
func Expires(t time.Time) CredsOption {
	return func(uc *jwt.UserClaims) { uc.Expires = t.Unix() }
}

// user issues a user JWT of id with a fresh key, and returns it with the
// key's seed.
func (a *Authority) user(id Identity, opts ...CredsOption) (token string, seed []byte, err error) {
	if err := id.Validate(); err != nil {
		return "", nil, err
	}
	ukp, err := nkeys.CreateUser()
	if err != nil {
		return "", nil, fmt.Errorf("credentials of %s: %w", id, err)
	}
	upub, _ := ukp.PublicKey()
	uc := jwt.NewUserClaims(upub)
	uc.Name = id.String()
	p := id.Permissions()
	uc.Pub.Allow.Add(p.Publish...)
	uc.Sub.Allow.Add(p.Subscribe...)
	for _, o := range opts {
		o(uc)
	}
	if token, err = uc.Encode(a.account); err != nil {
		return "", nil, fmt.Errorf("credentials of %s: %w", id, err)
	}
	if seed, err = ukp.Seed(); err != nil {
		return "", nil, fmt.Errorf("credentials of %s: %w", id, err)
	}
	return token, seed, nil
}

// Creds issues credentials for id: a .creds file, as nsc writes them (the
// user JWT and its nkey seed), which nats.UserCredentials and the nats
// CLI read. Each call makes a new user key; all stay valid.
func (a *Authority) Creds(id Identity, opts ...CredsOption) ([]byte, error) {
	token, seed, err := a.user(id, opts...)
	if err != nil {
		return nil, err
	}
	return jwt.FormatUserConfig(token, seed)
}

// WriteCreds issues credentials for id into the file path, mode 0600,
// replacing what was there.
func (a *Authority) WriteCreds(path string, id Identity, opts ...CredsOption) error {
	creds, err := a.Creds(id, opts...)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	_ = os.Remove(tmp) // a leftover keeps its mode when rewritten
	if err := os.WriteFile(tmp, creds, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ConnectOptions are the options of a connection as id with credentials
// issued in memory, for a process that holds the authority (the hub, tests).
func (a *Authority) ConnectOptions(id Identity) ([]nats.Option, error) {
	token, seed, err := a.user(id)
	if err != nil {
		return nil, err
	}
	return withInbox(id, nats.UserJWTAndSeed(token, string(seed))), nil
}

// Client reads the .creds file at path and returns the identity it names
// and the options of a connection as that identity: the credentials and
// the identity's inbox prefix, without which its requests would get no
// replies.
func Client(path string) (Identity, []nats.Option, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Identity{}, nil, fmt.Errorf("credentials: %w", err)
	}
	id, err := Identify(b)
	if err != nil {
		return Identity{}, nil, fmt.Errorf("credentials %s: %w", path, err)
	}
	return id, withInbox(id, nats.UserCredentials(path)), nil
}

// ClientOptions are the options of a client of the hub (a remote service,
// the CLI): the credentials in the .creds file creds with its identity's
// inbox prefix (access.Client), and, when ca names a PEM file, that CA to
// verify the server's TLS certificate. An empty creds connects without
// credentials, which a hub refuses: the zero Identity says so.
func ClientOptions(creds, ca string) (Identity, []nats.Option, error) {
	var id Identity
	var opts []nats.Option
	if creds != "" {
		var err error
		if id, opts, err = Client(creds); err != nil {
			return Identity{}, nil, err
		}
	}
	if ca != "" {
		if _, err := os.Stat(ca); err != nil {
			return Identity{}, nil, fmt.Errorf("TLS CA: %w", err)
		}
		opts = append(opts, nats.RootCAs(ca))
	}
	return id, opts, nil
}

// Identify returns the identity of a .creds file's user JWT. It checks
// the JWT's form and expiry, not its signer: the server does that.
func Identify(creds []byte) (Identity, error) {
	token, err := jwt.ParseDecoratedJWT(creds)
	if err != nil {
		return Identity{}, fmt.Errorf("not a .creds file: %w", err)
	}
	uc, err := jwt.DecodeUserClaims(token)
	if err != nil {
		return Identity{}, fmt.Errorf("not a user JWT: %w", err)
	}
	if uc.Expires != 0 && time.Unix(uc.Expires, 0).Before(time.Now()) {
		return Identity{}, fmt.Errorf("the credentials of %s expired at %s", uc.Name, time.Unix(uc.Expires, 0).UTC().Format(time.RFC3339))
	}
	return Parse(uc.Name)
}

func withInbox(id Identity, creds nats.Option) []nats.Option {
	opts := []nats.Option{creds}
	if p := id.InboxPrefix(); p != "" {
		opts = append(opts, nats.CustomInboxPrefix(p))
	}
	return opts
}

// writeNew writes data to a new file path, mode 0600; it fails if path
// exists.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
