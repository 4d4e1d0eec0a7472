// Package httpendpoint delivers batches of records to an HTTP endpoint with Firehose's HTTP
// delivery protocol: one POST of {"requestId","timestamp","records":[{"data"}]} with the
// X-Amz-Firehose-* headers, answered by {"requestId","timestamp"[,"errorMessage"]}. A Client
// holds the TLS configuration and the connections every endpoint shares; an Endpoint sends one
// stream's batches; every failure is an *Error with Firehose's HttpEndpoint.* code, classified
// permanent (413) or transient. Retries, batching and the error output are the delivery
// engine's. docs/design/http-endpoint.md describes the protocol and the choices.
package httpendpoint

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/klauspost/compress/gzip"
)

// Timeouts of one attempt.
const (
	// DefaultTimeout is Firehose's: an endpoint has 3 minutes to answer.
	DefaultTimeout = 3 * time.Minute
	// MaxTimeout bounds Options.Timeout.
	MaxTimeout = 15 * time.Minute
)

// Options configures the Client shared by every endpoint: Hydrant's configuration, not a
// stream's.
type Options struct {
	// Timeout bounds one attempt: connecting, sending and reading the whole answer. Zero means
	// DefaultTimeout.
	Timeout time.Duration
	// CAFile names a PEM file of certificates trusted beside the system's roots (which honour
	// SSL_CERT_FILE and SSL_CERT_DIR).
	CAFile string
	// AllowPlainHTTP accepts http:// endpoint URLs; without it only https:// is accepted.
	AllowPlainHTTP bool
}

// Validate reports the first invalid field of o, naming the field and its bound.
func (o Options) Validate() error {
	if o.Timeout < 0 || o.Timeout > MaxTimeout {
		return fmt.Errorf("httpEndpoint: requestTimeout %s out of range: must be 0 (default %s) or at most %s", o.Timeout, DefaultTimeout, MaxTimeout)
	}
	if o.CAFile != "" {
		if _, err := os.Stat(o.CAFile); err != nil {
			return fmt.Errorf("httpEndpoint: caFile: %w", err)
		}
	}
	return nil
}

// Client sends requests to endpoints: one TLS configuration and one connection pool.
type Client struct {
	http    *http.Client
	opts    Options
	now     func() time.Time
	bufPool sync.Pool // *bytes.Buffer of compressed bodies
	zPool   sync.Pool // *gzip.Writer
}

// NewClient returns a Client trusting the system's roots and o.CAFile; now stamps the
// requests' timestamps.
func NewClient(o Options, now func() time.Time) (*Client, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("httpEndpoint: read caFile: %w", err)
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("httpEndpoint: caFile %s holds no PEM certificate", o.CAFile)
		}
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		// Hydrant reads the answer as sent: it asks for no compression.
		DisableCompression: true,
		TLSClientConfig:    &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
	}
	if now == nil {
		now = time.Now
	}
	return &Client{
		http: &http.Client{
			Transport: tr,
			// Firehose follows no redirect: a 3xx is a failed attempt.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		opts: o,
		now:  now,
	}, nil
}

// Close lets the idle connections go.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// KeySource supplies the access key at each attempt (a Secrets Manager secret).
type KeySource interface {
	Key(ctx context.Context) (string, error)
}

// Attribute is one of RequestConfiguration.CommonAttributes.
type Attribute struct {
	Name, Value string
}

// Config is one stream's endpoint.
type Config struct {
	// URL is EndpointConfiguration.Url, requested verbatim.
	URL string
	// AccessKey is sent as X-Amz-Firehose-Access-Key when set and Key is nil.
	AccessKey string
	// Key, when set, supplies the access key instead (SecretsManagerConfiguration).
	Key KeySource
	// GZIP compresses the body (RequestConfiguration.ContentEncoding GZIP).
	GZIP bool
	// CommonAttributes are sent as X-Amz-Firehose-Common-Attributes when any is set.
	CommonAttributes []Attribute
	// SourceARN is the delivery stream's ARN (X-Amz-Firehose-Source-Arn).
	SourceARN string
}

// Endpoint sends one stream's batches to its URL.
type Endpoint struct {
	c     *Client
	cfg   Config
	attrs string // the common attributes header, "" without attributes
}

// CheckURL reports whether u can be an endpoint: an absolute https:// URL with a host, or
// http:// when allowPlain. Errors wrap ErrPlainHTTP or ErrInvalidURL.
func CheckURL(u string, allowPlain bool) error {
	p, err := url.Parse(u)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidURL, err)
	}
	if p.Host == "" {
		return fmt.Errorf("%w: %q has no host", ErrInvalidURL, u)
	}
	switch p.Scheme {
	case "https":
		return nil
	case "http":
		if allowPlain {
			return nil
		}
		return ErrPlainHTTP
	}
	return fmt.Errorf("%w: scheme %q is not https", ErrInvalidURL, p.Scheme)
}

// Endpoint returns the endpoint of cfg, or an error when its URL is not allowed.
func (c *Client) Endpoint(cfg Config) (*Endpoint, error) {
	if err := CheckURL(cfg.URL, c.opts.AllowPlainHTTP); err != nil {
		return nil, err
	}
	e := &Endpoint{c: c, cfg: cfg}
	if len(cfg.CommonAttributes) > 0 {
		m := make(map[string]string, len(cfg.CommonAttributes))
		for _, a := range cfg.CommonAttributes {
			m[a.Name] = a.Value
		}
		b, err := json.Marshal(struct {
			CommonAttributes map[string]string `json:"commonAttributes"`
		}{m})
		if err != nil {
			return nil, fmt.Errorf("encode common attributes: %w", err)
		}
		e.attrs = string(b)
	}
	return e, nil
}

// Header names of the protocol.
const (
	HeaderRequestID        = "X-Amz-Firehose-Request-Id"
	HeaderAccessKey        = "X-Amz-Firehose-Access-Key"
	HeaderSourceARN        = "X-Amz-Firehose-Source-Arn"
	HeaderProtocolVersion  = "X-Amz-Firehose-Protocol-Version"
	HeaderCommonAttributes = "X-Amz-Firehose-Common-Attributes"
)

// Send delivers one batch: it succeeds only when the endpoint answers 200 with a JSON body
// whose requestId is requestID. Failures are *Error, except when ctx ends (ctx.Err()).
func (e *Endpoint) Send(ctx context.Context, requestID string, records [][]byte) error {
	fail := func(code string, status int, err error, format string, args ...any) error {
		return &Error{Code: code, RequestID: requestID, Status: status, Message: truncate(fmt.Sprintf(format, args...), maxErrorMessageLength), Err: err}
	}
	key := e.cfg.AccessKey
	if e.cfg.Key != nil {
		k, err := e.cfg.Key.Key(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		key = k
	}
	actx, cancel := context.WithTimeout(ctx, e.c.opts.Timeout)
	defer cancel()
	// The JSON body is generated as it is sent; with GZIP only its compressed form is held.
	br := newBodyReader(requestID, e.c.now(), records)
	req, err := http.NewRequestWithContext(actx, http.MethodPost, e.cfg.URL, br)
	if err != nil {
		return fail(CodeConnectionFailed, 0, err, "build request: %v", err)
	}
	req.ContentLength, req.GetBody = br.size(), br.again
	if e.cfg.GZIP {
		z := e.c.getBuf()
		defer e.c.putBuf(z)
		z.Reset()
		zw := e.c.getGzip(z)
		if _, err := io.Copy(zw, br); err != nil {
			return fmt.Errorf("compress request: %w", err)
		}
		if err := zw.Close(); err != nil {
			return fmt.Errorf("compress request: %w", err)
		}
		e.c.putGzip(zw)
		body := z.Bytes()
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	if e.cfg.GZIP {
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("User-Agent", "Hydrant")
	h.Set(HeaderProtocolVersion, "1.0")
	h.Set(HeaderRequestID, requestID)
	h.Set(HeaderSourceARN, e.cfg.SourceARN)
	if key != "" {
		h.Set(HeaderAccessKey, key)
	}
	if e.attrs != "" {
		h.Set(HeaderCommonAttributes, e.attrs)
	}
	resp, err := e.c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if actx.Err() != nil {
			return fail(CodeRequestTimeout, 0, err, "The endpoint did not answer within %s.", e.c.opts.Timeout)
		}
		if isReset(err) {
			return fail(CodeConnectionReset, 0, err, "The connection to the endpoint was reset: %v", err)
		}
		return fail(CodeConnectionFailed, 0, err, "The connection to the endpoint failed: %v", err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if actx.Err() != nil {
			return fail(CodeRequestTimeout, resp.StatusCode, err, "The endpoint did not finish its answer within %s.", e.c.opts.Timeout)
		}
		return fail(CodeConnectionReset, resp.StatusCode, err, "The connection to the endpoint was reset while reading its answer: %v", err)
	}
	if len(answer) > MaxResponseBytes {
		return fail(CodeResponseTooLarge, resp.StatusCode, nil, "The endpoint answered %d with a body over %d bytes.", resp.StatusCode, MaxResponseBytes)
	}
	if resp.StatusCode != http.StatusOK {
		msg := ""
		var r Response
		if json.Unmarshal(answer, &r) == nil && r.ErrorMessage != "" {
			msg = ": " + r.ErrorMessage
		} else if len(answer) > 0 {
			msg = ": " + truncate(string(answer), 512)
		}
		return fail(CodeDestinationError, resp.StatusCode, nil, "The endpoint answered %d%s", resp.StatusCode, msg)
	}
	if ce := resp.Header.Get("Content-Encoding"); ce != "" && ce != "identity" {
		return fail(CodeInvalidResponse, resp.StatusCode, nil, "The endpoint answered with Content-Encoding %q; the response must not be encoded.", ce)
	}
	if _, err := ParseResponse(answer, requestID); err != nil {
		return fail(CodeInvalidResponse, resp.StatusCode, err, "The endpoint answered 200 with an invalid response: %v", err)
	}
	return nil
}

// isReset reports whether err is a connection reset or closed before the answer.
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// maxKeptBody is the largest compressed body buffer kept for reuse.
const maxKeptBody = 8 << 20

// getBuf returns a buffer for a compressed body, reused between requests.
func (c *Client) getBuf() *bytes.Buffer {
	if b, ok := c.bufPool.Get().(*bytes.Buffer); ok {
		return b
	}
	return new(bytes.Buffer)
}

func (c *Client) putBuf(b *bytes.Buffer) {
	if b.Cap() <= maxKeptBody {
		c.bufPool.Put(b)
	}
}

// getGzip returns a gzip writer onto w, reused between requests.
func (c *Client) getGzip(w io.Writer) *gzip.Writer {
	if z, ok := c.zPool.Get().(*gzip.Writer); ok {
		z.Reset(w)
		return z
	}
	z, _ := gzip.NewWriterLevel(w, gzip.DefaultCompression) // a valid level never fails
	return z
}

func (c *Client) putGzip(z *gzip.Writer) { c.zPool.Put(z) }
