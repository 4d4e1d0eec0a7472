package listen

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hydrant-dev/hydrant/internal/testenv"
)

// protoHandler answers the request's protocol, as the server saw it.
var protoHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Proto) })

func TestTLSProtocols(t *testing.T) {
	caFile, certFile, keyFile := testenv.TLSFiles(t, t.TempDir())
	certs, err := LoadCerts(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	logs := &recordHandler{records: make(chan slog.Record, 16)}
	url := "https://" + startServer(t, protoHandler, Config{}, certs, slog.New(logs)) + "/"
	roots := certPool(t, caFile)

	tests := []struct {
		name      string
		transport *http.Transport
		want      string // the protocol the server saw; empty when the handshake must fail
	}{
		{
			name:      "h2",
			transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true},
			want:      "HTTP/2.0",
		},
		{
			name: "http/1.1",
			transport: &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: roots},
				TLSNextProto:    map[string]func(string, *tls.Conn) http.RoundTripper{},
			},
			want: "HTTP/1.1",
		},
		{
			name:      "untrusted",
			transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: x509.NewCertPool()}, ForceAttemptHTTP2: true},
		},
		{
			name:      "TLS 1.1",
			transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := testClient(t, tt.transport).Get(url)
			if tt.want == "" {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("GET succeeded over %s, want a handshake error", resp.Proto)
				}
				t.Logf("GET: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if got := string(b); got != tt.want || resp.Proto != tt.want {
				t.Errorf("protocol seen by the server %q, by the client %q; want %q", got, resp.Proto, tt.want)
			}
			if resp.TLS.Version < tls.VersionTLS12 {
				t.Errorf("TLS version %s, want 1.2 or later", tls.VersionName(resp.TLS.Version))
			}
		})
	}

	// The untrusting clients' handshakes failed on the server too; that is logged, at debug
	// level only.
	select {
	case r := <-logs.records:
		if r.Level != slog.LevelDebug || r.Message != "http server error" {
			t.Errorf("log record %s %q, want DEBUG %q", r.Level, r.Message, "http server error")
		}
	case <-time.After(5 * time.Second):
		t.Error("no log record of the failed handshakes")
	}
}

func TestTLSUntrustedIsVerificationError(t *testing.T) {
	_, certFile, keyFile := testenv.TLSFiles(t, t.TempDir())
	certs, err := LoadCerts(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	url := "https://" + startServer(t, protoHandler, Config{}, certs, nil) + "/"
	_, err = testClient(t, &http.Transport{}).Get(url)
	var verr *tls.CertificateVerificationError
	if !errors.As(err, &verr) {
		t.Fatalf("GET without the CA: %v, want a *tls.CertificateVerificationError", err)
	}
}

// TestReload replaces the certificate and key files with a pair from a new CA: after Reload a
// new connection sees the new certificate; a reload of broken files fails and the certificate
// served stays.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	caFile, certFile, keyFile := testenv.TLSFiles(t, dir)
	roots1 := certPool(t, caFile)
	first := leaf(t, certFile)
	certs, err := LoadCerts(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	url := "https://" + startServer(t, protoHandler, Config{}, certs, nil) + "/"
	if got := served(t, url, roots1); got.SerialNumber.Cmp(first.SerialNumber) != 0 {
		t.Fatalf("served serial %v, want %v", got.SerialNumber, first.SerialNumber)
	}

	ca2, cert2, key2 := testenv.TLSFiles(t, dir)
	if diff := cmp.Diff([]string{caFile, certFile, keyFile}, []string{ca2, cert2, key2}); diff != "" {
		t.Fatalf("TLSFiles wrote other paths (-first +second):\n%s", diff)
	}
	roots2 := certPool(t, caFile)
	second := leaf(t, certFile)
	if err := certs.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	got := served(t, url, roots2)
	if got.SerialNumber.Cmp(second.SerialNumber) != 0 || got.Issuer.String() != second.Issuer.String() {
		t.Fatalf("served %v from %s after Reload, want %v from %s", got.SerialNumber, got.Issuer, second.SerialNumber, second.Issuer)
	}
	if _, err := get1(url, roots1); err == nil {
		t.Error("a client trusting only the first CA connected after Reload")
	}
	good := map[string][]byte{certFile: readFile(t, certFile), keyFile: readFile(t, keyFile)}

	_, otherCert, otherKey := testenv.TLSFiles(t, t.TempDir())
	tests := []struct {
		name    string
		write   map[string][]byte // files replaced before the reload
		remove  string
		wantErr string // in the error, besides both paths
	}{
		{name: "broken key", write: map[string][]byte{keyFile: []byte("not a key\n")}, wantErr: "failed to find any PEM data in key input"},
		{name: "key of another certificate", write: map[string][]byte{keyFile: readFile(t, otherKey)}, wantErr: "private key does not match public key"},
		{name: "certificate of another key", write: map[string][]byte{certFile: readFile(t, otherCert)}, wantErr: "private key does not match public key"},
		{name: "empty certificate", write: map[string][]byte{certFile: nil}, wantErr: "failed to find any PEM data in certificate input"},
		{name: "missing key", remove: keyFile, wantErr: "no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for path, b := range good {
				writeFile(t, path, b)
			}
			for path, b := range tt.write {
				writeFile(t, path, b)
			}
			if tt.remove != "" {
				if err := os.Remove(tt.remove); err != nil {
					t.Fatal(err)
				}
			}
			err := certs.Reload()
			if err == nil {
				t.Fatal("Reload succeeded")
			}
			for _, s := range []string{certFile, keyFile, tt.wantErr} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Reload error %q does not contain %q", err, s)
				}
			}
			if got := served(t, url, roots2); got.SerialNumber.Cmp(second.SerialNumber) != 0 {
				t.Errorf("served serial %v after a failed reload, want %v still", got.SerialNumber, second.SerialNumber)
			}
			if got := certs.Certificate().Leaf; got.SerialNumber.Cmp(second.SerialNumber) != 0 {
				t.Errorf("Certificate() serial %v after a failed reload, want %v still", got.SerialNumber, second.SerialNumber)
			}
		})
	}
}

func TestLoadCertsErrors(t *testing.T) {
	dir := t.TempDir()
	_, certFile, keyFile := testenv.TLSFiles(t, dir)
	missing := filepath.Join(dir, "missing.pem")
	tests := []struct {
		name              string
		certFile, keyFile string
		wantIn            string // the path the cause names
		notExist          bool
	}{
		{name: "missing certificate", certFile: missing, keyFile: keyFile, wantIn: missing, notExist: true},
		{name: "missing key", certFile: certFile, keyFile: missing, wantIn: missing, notExist: true},
		{name: "swapped", certFile: keyFile, keyFile: certFile, wantIn: "PEM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certs, err := LoadCerts(tt.certFile, tt.keyFile)
			if err == nil {
				t.Fatalf("LoadCerts = %v, want an error", certs)
			}
			t.Log(err)
			want := "load TLS certificate " + tt.certFile + " and key " + tt.keyFile + ": "
			if !strings.HasPrefix(err.Error(), want) || !strings.Contains(strings.TrimPrefix(err.Error(), want), tt.wantIn) {
				t.Errorf("LoadCerts error %q, want %q then a cause naming %q", err, want, tt.wantIn)
			}
			if got := errors.Is(err, fs.ErrNotExist); got != tt.notExist {
				t.Errorf("errors.Is(err, fs.ErrNotExist) = %v, want %v", got, tt.notExist)
			}
		})
	}
}

func TestTLSConfig(t *testing.T) {
	_, certFile, keyFile := testenv.TLSFiles(t, t.TempDir())
	certs, err := LoadCerts(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := certs.TLSConfig()
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion = %s, want TLS 1.2", tls.VersionName(cfg.MinVersion))
	}
	if diff := cmp.Diff([]string{"h2", "http/1.1"}, cfg.NextProtos); diff != "" {
		t.Errorf("NextProtos (-want +got):\n%s", diff)
	}
	got, err := cfg.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil || got != certs.Certificate() {
		t.Errorf("GetCertificate = %p, %v; want the current certificate %p", got, err, certs.Certificate())
	}
}

// served returns the certificate a new connection to url trusting roots is served.
func served(t *testing.T, url string, roots *x509.CertPool) *x509.Certificate {
	t.Helper()
	c, err := get1(url, roots)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// get1 makes one request to url on a new connection trusting roots, and returns the server's
// certificate.
func get1(url string, roots *x509.CertPool) (*x509.Certificate, error) {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.TLS.PeerCertificates[0], nil
}

// leaf returns the first certificate of certFile.
func leaf(t *testing.T, certFile string) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(readFile(t, certFile))
	if block == nil {
		t.Fatalf("no PEM block in %s", certFile)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func certPool(t *testing.T, caFile string) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(readFile(t, caFile)) {
		t.Fatalf("no certificate in %s", caFile)
	}
	return pool
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
