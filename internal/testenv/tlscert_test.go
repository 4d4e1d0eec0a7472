package testenv

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTLSFiles(t *testing.T) {
	tests := []struct {
		name    string
		hosts   []string
		wantDNS []string
		wantIPs []string
		verify  []string // names the certificate must be valid for
		reject  []string // names it must not be valid for
	}{
		{
			name:    "default",
			wantDNS: []string{"localhost"},
			wantIPs: []string{"127.0.0.1"},
			verify:  []string{"127.0.0.1", "localhost"},
			reject:  []string{"::1", "example.com"},
		},
		{
			name:    "given",
			hosts:   []string{"hydrant.test", "::1", "10.1.2.3"},
			wantDNS: []string{"hydrant.test"},
			wantIPs: []string{"::1", "10.1.2.3"},
			verify:  []string{"hydrant.test", "::1", "10.1.2.3"},
			reject:  []string{"127.0.0.1", "localhost"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			caFile, certFile, keyFile := TLSFiles(t, t.TempDir(), tt.hosts...)
			pair, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				t.Fatalf("load the pair: %v", err)
			}
			leaf := pair.Leaf
			if diff := cmp.Diff(tt.wantDNS, leaf.DNSNames); diff != "" {
				t.Errorf("DNS SANs (-want +got):\n%s", diff)
			}
			var ips []string
			for _, ip := range leaf.IPAddresses {
				ips = append(ips, ip.String())
			}
			if diff := cmp.Diff(tt.wantIPs, ips); diff != "" {
				t.Errorf("IP SANs (-want +got):\n%s", diff)
			}
			roots := certPool(t, caFile)
			for _, name := range tt.verify {
				if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: name}); err != nil {
					t.Errorf("verify for %s: %v", name, err)
				}
			}
			for _, name := range tt.reject {
				if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: name}); err == nil {
					t.Errorf("verify for %s succeeded, want an error", name)
				}
			}
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: x509.NewCertPool()}); err == nil {
				t.Error("verify without the CA succeeded")
			}
		})
	}
}

// TestTLSFilesNew checks that a second call on the same directory writes a certificate of a
// new CA over the same paths, as certificate reload tests need.
func TestTLSFilesNew(t *testing.T) {
	dir := t.TempDir()
	ca1, cert1, key1 := TLSFiles(t, dir)
	first, err := tls.LoadX509KeyPair(cert1, key1)
	if err != nil {
		t.Fatal(err)
	}
	roots1 := certPool(t, ca1)
	ca2, cert2, key2 := TLSFiles(t, dir)
	if diff := cmp.Diff([]string{ca1, cert1, key1}, []string{ca2, cert2, key2}); diff != "" {
		t.Errorf("paths of the second call (-first +second):\n%s", diff)
	}
	second, err := tls.LoadX509KeyPair(cert2, key2)
	if err != nil {
		t.Fatal(err)
	}
	if first.Leaf.SerialNumber.Cmp(second.Leaf.SerialNumber) == 0 {
		t.Errorf("both certificates have serial %v", first.Leaf.SerialNumber)
	}
	if first.Leaf.Issuer.String() == second.Leaf.Issuer.String() {
		t.Errorf("both certificates have issuer %s", first.Leaf.Issuer)
	}
	if _, err := second.Leaf.Verify(x509.VerifyOptions{Roots: roots1, DNSName: "127.0.0.1"}); err == nil {
		t.Error("the second certificate verifies with the first CA")
	}
	if _, err := second.Leaf.Verify(x509.VerifyOptions{Roots: certPool(t, ca2), DNSName: "127.0.0.1"}); err != nil {
		t.Errorf("verify the second certificate with the second CA: %v", err)
	}
	fi, err := os.Stat(key2)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v, want -rw-------", fi.Mode().Perm())
	}
}

func certPool(t *testing.T, caFile string) *x509.CertPool {
	t.Helper()
	pemBytes, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatalf("no certificate in %s", caFile)
	}
	return pool
}
