// Package listen is the HTTP listener's own defences: the time and header bytes one client may
// hold of a connection, the number of requests served at once, the TLS certificate (reloadable)
// and whether an address is reachable only from this machine (docs/design/auth.md, "TLS" and
// "The listener's bounds"). It knows nothing of the protocols served behind it.
package listen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
)

// Defaults of Config.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 60 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultMaxConcurrent     = 512

	// MinMaxHeaderBytes admits a signed SDK request with room to spare: its headers, with the
	// SigV4 Authorization, are well under 2 KiB.
	MinMaxHeaderBytes = 4 << 10
)

// Config bounds what one client can hold of the listener. Zero fields take the defaults above.
type Config struct {
	// ReadHeaderTimeout bounds the time to read a request's headers (default 10 s).
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds the time to read a whole request, headers and body (default 60 s), so
	// that a client sending a byte a second cannot hold a connection longer.
	ReadTimeout time.Duration
	// IdleTimeout bounds how long a keep-alive connection waits for its next request
	// (default 120 s).
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's headers (default 64 KiB); larger ones are answered 431.
	// Go's server reads up to 4 KiB beyond it before refusing.
	MaxHeaderBytes int
	// MaxConcurrent bounds the requests served at once (default 512), for the caller's Limiter.
	MaxConcurrent int
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.ReadHeaderTimeout == 0 {
		c.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.MaxConcurrent == 0 {
		c.MaxConcurrent = DefaultMaxConcurrent
	}
	return c
}

// Validate reports every field of c that is out of bounds, by its config key. Zero fields
// stand for their defaults and are valid.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"readHeaderTimeout", c.ReadHeaderTimeout},
		{"readTimeout", c.ReadTimeout},
		{"idleTimeout", c.IdleTimeout},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s %s: must be positive", d.key, d.v))
		}
	}
	if c.MaxHeaderBytes < MinMaxHeaderBytes {
		errs = append(errs, fmt.Errorf("maxHeaderBytes %d: must be at least %d", c.MaxHeaderBytes, MinMaxHeaderBytes))
	}
	if c.MaxConcurrent < 1 {
		errs = append(errs, fmt.Errorf("maxConcurrentRequests %d: must be at least 1", c.MaxConcurrent))
	}
	return errors.Join(errs...)
}

// NewServer returns a server of h with c's bounds (zero fields taking their defaults). It has
// no write timeout: some answers wait for delivery (/_hydrant/flush), which may take longer than
// any fixed bound, and a slow reader of answers is bounded by the answers' size. The server's
// own error log goes to log: TLS handshake failures and other client misbehaviour (mostly
// scanners, and clients that do not trust the certificate) at debug level, so that the
// internet's noise does not flood the log; a handler's panic at error and a failing accept at
// warn level, as they are the server's own trouble. A nil log discards it.
func NewServer(h http.Handler, c Config, log *slog.Logger) *http.Server {
	c = c.WithDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: c.ReadHeaderTimeout,
		ReadTimeout:       c.ReadTimeout,
		IdleTimeout:       c.IdleTimeout,
		MaxHeaderBytes:    c.MaxHeaderBytes,
		ErrorLog:          errorLog(log),
	}
}

// errorLog adapts log to the *log.Logger that http.Server writes to: one record per line, with
// a stable message and the server's text as err.
func errorLog(l *slog.Logger) *log.Logger {
	return log.New(errorWriter{l}, "", 0)
}

type errorWriter struct{ log *slog.Logger }

func (w errorWriter) Write(p []byte) (int, error) {
	line := string(bytes.TrimSpace(p))
	w.log.Log(context.Background(), serverErrorLevel(line), "http server error", "err", line)
	return len(p), nil
}

// serverErrorLevel returns the level of a line of http.Server's error log. The lines are not
// an API; these prefixes have been stable since Go 1.0, and an unknown line is noise.
func serverErrorLevel(line string) slog.Level {
	switch {
	case strings.HasPrefix(line, "http: panic serving"):
		return slog.LevelError
	case strings.HasPrefix(line, "http: Accept error"):
		return slog.LevelWarn
	}
	return slog.LevelDebug
}

// Serve serves hs on ln until hs is shut down or closed, as hs.Serve does: HTTPS with HTTP/2 and
// HTTP/1.1 when certs is not nil (it sets hs.TLSConfig from certs), plain HTTP/1.1 otherwise.
func Serve(hs *http.Server, ln net.Listener, certs *Certs) error {
	if certs == nil {
		return hs.Serve(ln)
	}
	hs.TLSConfig = certs.TLSConfig()
	// The certificate comes from GetCertificate, so no files are named here.
	return hs.ServeTLS(ln, "", "")
}
