package listen

import (
	"crypto/tls"
	"fmt"
	"sync/atomic"
)

// Certs holds the TLS certificate served, reloadable from its files: a reload replaces it for
// the handshakes that begin afterwards, and a reload that fails keeps the one served.
type Certs struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

// LoadCerts loads the PEM certificate (chain) and private key of certFile and keyFile. Its
// error names both files and the cause (a missing file matches fs.ErrNotExist).
func LoadCerts(certFile, keyFile string) (*Certs, error) {
	c := &Certs{certFile: certFile, keyFile: keyFile}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Reload reads the certificate and key files again and serves them to new connections. On
// failure it returns the error and the certificate served stays, so that a half-written
// renewal or a typo does not take the listener down.
func (c *Certs) Reload() error {
	pair, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("load TLS certificate %s and key %s: %w", c.certFile, c.keyFile, err)
	}
	c.cur.Store(&pair)
	return nil
}

// Certificate returns the certificate being served.
func (c *Certs) Certificate() *tls.Certificate { return c.cur.Load() }

// TLSConfig returns a server TLS configuration that offers HTTP/2 and HTTP/1.1 by ALPN, accepts
// TLS 1.2 and later, and serves the certificate current at each handshake.
func (c *Certs) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return c.cur.Load(), nil
		},
	}
}
