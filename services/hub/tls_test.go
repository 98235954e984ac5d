package hub_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/dpihub/dpihub/events/access"
	"github.com/dpihub/dpihub/services/hub"
)

// privateCA makes a CA and a certificate it signs for 127.0.0.1 and
// localhost, and writes the CA's certificate and the server's certificate
// and key as PEM files in dir.
func privateCA(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dpihub test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "dpihub"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, b []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("cert.pem", "CERTIFICATE", der), write("key.pem", "EC PRIVATE KEY", keyDER)
}

func startTLSHub(t *testing.T, cfg hub.Config) *hub.Hub {
	t.Helper()
	cfg.DataDir, cfg.NATSPort, cfg.HTTPAddr = t.TempDir(), -1, "-"
	h, err := hub.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		h.Close(ctx)
	})
	return h
}

func TestNATSWithTLSLetsInOnlyClientsThatTrustItsCertificate(t *testing.T) {
	ca, cert, key := privateCA(t, t.TempDir())
	h := startTLSHub(t, hub.Config{NATSTLSCert: cert, NATSTLSKey: key})
	// The hub's own connection, in process, works.
	if _, err := h.JS.Stream(context.Background(), "DPI"); err != nil {
		t.Fatalf("the hub's own connection: %v", err)
	}
	creds := h.CredsFile(access.Observer)

	_, opts, err := access.ClientOptions(creds, ca)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(h.NATSURL(), append(opts, nats.MaxReconnects(0))...)
	if err != nil {
		t.Fatalf("a client that trusts the CA: %v", err)
	}
	if !nc.TLSRequired() {
		t.Error("the connection is not TLS")
	}
	if _, err := nc.TLSConnectionState(); err != nil {
		t.Errorf("no TLS state: %v", err)
	}
	nc.Close()

	_, opts, err = access.ClientOptions(creds, "")
	if err != nil {
		t.Fatal(err)
	}
	nc, err = nats.Connect(h.NATSURL(), append(opts, nats.MaxReconnects(0))...)
	var unknown x509.UnknownAuthorityError
	if err == nil {
		nc.Close()
		t.Fatal("a client that does not trust the CA connected")
	}
	if !errors.As(err, &unknown) {
		t.Fatalf("a client without the CA: %v, want an unknown authority", err)
	}
}

func TestNATSBeyondLoopbackWithoutTLSIsWarnedOf(t *testing.T) {
	warned := func(cfg hub.Config) bool {
		core, logs := observer.New(zap.WarnLevel)
		cfg.Logger = zap.New(core)
		startTLSHub(t, cfg)
		return logs.FilterMessageSnippet("without TLS").Len() > 0
	}
	if warned(hub.Config{}) {
		t.Error("a warning on loopback")
	}
	if !warned(hub.Config{NATSHost: "0.0.0.0"}) {
		t.Error("no warning on 0.0.0.0 without TLS")
	}
	_, cert, key := privateCA(t, t.TempDir())
	if warned(hub.Config{NATSHost: "0.0.0.0", NATSTLSCert: cert, NATSTLSKey: key}) {
		t.Error("a warning on 0.0.0.0 with TLS")
	}
}
