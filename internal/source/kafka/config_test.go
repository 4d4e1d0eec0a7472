package kafka

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hydrant-dev/hydrant/internal/journal"
	"github.com/hydrant-dev/hydrant/internal/source"
)

func TestClusterConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		c    ClusterConfig
		ok   bool
	}{
		{"brokers only", ClusterConfig{BootstrapBrokers: []string{"b-1.example:9092", "10.0.0.1:9092"}}, true},
		{"no broker", ClusterConfig{}, false},
		{"broker without port", ClusterConfig{BootstrapBrokers: []string{"b-1.example"}}, false},
		{"scram with password", ClusterConfig{BootstrapBrokers: []string{"b:9096"},
			SASL: &SASLConfig{Mechanism: MechanismScramSHA512, Username: "u", Password: "p"}}, true},
		{"plain with password file", ClusterConfig{BootstrapBrokers: []string{"b:9096"},
			SASL: &SASLConfig{Mechanism: MechanismPlain, Username: "u", PasswordFile: "/run/p"}}, true},
		{"unknown mechanism", ClusterConfig{BootstrapBrokers: []string{"b:9096"},
			SASL: &SASLConfig{Mechanism: "GSSAPI", Username: "u", Password: "p"}}, false},
		{"no username", ClusterConfig{BootstrapBrokers: []string{"b:9096"},
			SASL: &SASLConfig{Mechanism: MechanismPlain, Password: "p"}}, false},
		{"no password", ClusterConfig{BootstrapBrokers: []string{"b:9096"},
			SASL: &SASLConfig{Mechanism: MechanismPlain, Username: "u"}}, false},
		{"both passwords", ClusterConfig{BootstrapBrokers: []string{"b:9096"},
			SASL: &SASLConfig{Mechanism: MechanismPlain, Username: "u", Password: "p", PasswordFile: "/run/p"}}, false},
		{"tls", ClusterConfig{BootstrapBrokers: []string{"b:9094"},
			TLS: &TLSConfig{Enabled: true, CAFile: "/ca.pem", ServerName: "b"}}, true},
		{"tls settings while disabled", ClusterConfig{BootstrapBrokers: []string{"b:9094"},
			TLS: &TLSConfig{CAFile: "/ca.pem"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok %v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("Validate() = %v, not ErrInvalidConfig", err)
			}
		})
	}
}

func TestNewReadsFiles(t *testing.T) {
	f := newFixture(t, journal.Config{}, kfake.SeedTopics(1, testTopic))
	tests := []struct {
		name string
		c    ClusterConfig
	}{
		{"missing password file", ClusterConfig{BootstrapBrokers: []string{"b:9096"},
			SASL: &SASLConfig{Mechanism: MechanismPlain, Username: "u", PasswordFile: filepath.Join(t.TempDir(), "none")}}},
		{"missing CA file", ClusterConfig{BootstrapBrokers: []string{"b:9094"},
			TLS: &TLSConfig{Enabled: true, CAFile: filepath.Join(t.TempDir(), "none")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := f.config(time.Unix(0, 0))
			cfg.Cluster = tt.c
			w := source.NewWriter(f.j, nil, testStream, time.Now(), f.log)
			_, err := New(cfg, w, f.rec, f.log)
			if !errors.Is(err, ErrInvalidConfig) || !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("New = %v, want ErrInvalidConfig and fs.ErrNotExist", err)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		n        int
		min, max time.Duration
	}{
		{1, 500 * time.Millisecond, time.Second},
		{2, time.Second, 2 * time.Second},
		{5, 8 * time.Second, 16 * time.Second},
		{6, 15 * time.Second, 30 * time.Second},
		{100, 15 * time.Second, 30 * time.Second},
	}
	for _, tt := range tests {
		for range 50 {
			if d := backoff(tt.n); d < tt.min || d > tt.max {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", tt.n, d, tt.min, tt.max)
			}
		}
	}
}

// TestTLS reads from a cluster with a certificate of a CA given as CAFile.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	caFile, serverCert := testCerts(t, dir)
	f := newFixture(t, journal.Config{}, kfake.SeedTopics(1, testTopic),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{serverCert}, MinVersion: tls.VersionTLS12}))
	roots := x509.NewCertPool()
	pemCA, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots.AppendCertsFromPEM(pemCA)
	f.kopts = []kgo.Opt{kgo.DialTLSConfig(&tls.Config{RootCAs: roots, ServerName: "kafka.test", MinVersion: tls.VersionTLS12})}
	want := load(t, f.client(t), 4, func() int32 { return 1 }, nil)
	cfg := f.config(time.Unix(0, 0))
	cfg.Cluster.TLS = &TLSConfig{Enabled: true, CAFile: caFile, ServerName: "kafka.test"}
	r := f.reader(t, cfg, nil)
	start(t, r)
	got := waitRecords(t, f.j, len(want), 20*time.Second)
	checkOnce(t, want, got.records)
}

// testCerts writes a CA's certificate to dir and returns its file and a server certificate
// for kafka.test and 127.0.0.1 signed by it.
func testCerts(tb testing.TB, dir string) (string, tls.Certificate) {
	tb.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kafka.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"kafka.test"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		tb.Fatal(err)
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		tb.Fatal(err)
	}
	return caFile, tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: key}
}
