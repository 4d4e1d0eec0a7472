// Package receivertest is a strict receiver of Firehose's HTTP endpoint protocol for tests. It
// makes every check the OpenTelemetry Collector's awsfirehose receiver makes — a request id
// header (400 without), the access key compared exactly when one is configured (401), the
// body's requestId equal to the header's (400), base64 data, the common attributes header
// parsed — and a few more of the documented protocol (POST, Content-Type application/json,
// protocol version 1.0, the source ARN, gzip bodies when Content-Encoding says so). It answers
// {"requestId","timestamp"[,"errorMessage"]} as JSON. A Script decides each answer, so tests
// inject failures: statuses, delays, mismatched ids, malformed bodies.
package receivertest

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Request is one request the receiver got, valid or not.
type Request struct {
	N         int // 1-based order of arrival
	RequestID string
	// Attempt is 1 for the first request with this request id, 2 for the next, ...
	Attempt int
	Path    string // the request URI as received: path and query
	Header  http.Header
	Gzip    bool
	// Timestamp is the body's timestamp (epoch ms).
	Timestamp int64
	Records   [][]byte
	// CommonAttributes is the parsed X-Amz-Firehose-Common-Attributes header.
	CommonAttributes map[string]string
	// Status is what the receiver answered; Problem why it refused the request, if it did.
	Status  int
	Problem string
}

// Reply is a Script's answer to a valid request.
type Reply struct {
	// Status defaults to 200.
	Status int
	// Delay holds the answer back (a request timeout when longer than the sender's).
	Delay time.Duration
	// RequestID overrides the answer's requestId (a mismatched id).
	RequestID string
	// Body, when set, is sent as is instead of the JSON answer (a malformed answer).
	Body string
	// ErrorMessage is the answer's errorMessage.
	ErrorMessage string
}

// Script returns the answer to a valid request; nil always answers 200.
type Script func(r *Request) Reply

// Options configure a Receiver.
type Options struct {
	// TLS serves HTTPS with the test server's own certificate (see CAFile).
	TLS bool
	// AccessKey, when set, must equal X-Amz-Firehose-Access-Key (401 otherwise).
	AccessKey string
	// Script decides the answers.
	Script Script
}

// Receiver is a running strict receiver.
type Receiver struct {
	// URL is the server's base URL; requests to any path are served.
	URL    string
	srv    *httptest.Server
	opts   Options
	closed chan struct{}

	mu       sync.Mutex
	requests []*Request
}

// Start starts a receiver on 127.0.0.1 and stops it when the test ends.
func Start(tb testing.TB, o Options) *Receiver {
	tb.Helper()
	r := &Receiver{opts: o, closed: make(chan struct{})}
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	if o.TLS {
		r.srv.EnableHTTP2 = true
		r.srv.StartTLS()
	} else {
		r.srv.Start()
	}
	r.URL = r.srv.URL
	tb.Cleanup(r.Close)
	return r
}

// Close stops the receiver; answers held back by a Delay end at once.
func (r *Receiver) Close() {
	select {
	case <-r.closed:
		return
	default:
	}
	close(r.closed)
	r.srv.CloseClientConnections()
	r.srv.Close()
}

// Addr returns the receiver's host:port.
func (r *Receiver) Addr() string { return r.srv.Listener.Addr().String() }

// Port returns the receiver's port.
func (r *Receiver) Port() string {
	_, p, _ := net.SplitHostPort(r.Addr())
	return p
}

// CAFile writes the TLS receiver's certificate as a PEM file in dir and returns its path, for
// a client to trust.
func (r *Receiver) CAFile(tb testing.TB, dir string) string {
	tb.Helper()
	c := r.srv.Certificate()
	if c == nil {
		tb.Fatal("receivertest: CAFile of a receiver without TLS")
	}
	path := filepath.Join(dir, "receiver-ca.pem")
	var b bytes.Buffer
	fmt.Fprintf(&b, "-----BEGIN CERTIFICATE-----\n")
	enc := base64.StdEncoding.EncodeToString(c.Raw)
	for len(enc) > 64 {
		b.WriteString(enc[:64] + "\n")
		enc = enc[64:]
	}
	b.WriteString(enc + "\n-----END CERTIFICATE-----\n")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// Requests returns every request so far, in order of arrival.
func (r *Receiver) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Request, len(r.requests))
	for i, q := range r.requests {
		out[i] = *q
	}
	return out
}

// Accepted returns the requests answered 200 with their own id, in order of arrival.
func (r *Receiver) Accepted() []Request {
	var out []Request
	for _, q := range r.Requests() {
		if q.Status == http.StatusOK && q.Problem == "" {
			out = append(out, q)
		}
	}
	return out
}

// Records returns the records of every accepted request, in order of arrival.
func (r *Receiver) Records() [][]byte {
	var out [][]byte
	for _, q := range r.Accepted() {
		out = append(out, q.Records...)
	}
	return out
}

func (r *Receiver) serve(w http.ResponseWriter, hr *http.Request) {
	q := &Request{RequestID: hr.Header.Get("X-Amz-Firehose-Request-Id"), Path: hr.RequestURI, Header: hr.Header.Clone()}
	r.mu.Lock()
	q.Attempt = 1
	for _, p := range r.requests {
		if p.RequestID == q.RequestID {
			q.Attempt++
		}
	}
	r.requests = append(r.requests, q)
	q.N = len(r.requests)
	r.mu.Unlock()
	answer := func(status int, id, msg, raw string) {
		r.mu.Lock()
		q.Status = status
		r.mu.Unlock()
		if raw != "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, raw)
			return
		}
		body, _ := json.Marshal(struct {
			RequestID    string `json:"requestId"`
			Timestamp    int64  `json:"timestamp"`
			ErrorMessage string `json:"errorMessage,omitempty"`
		}{id, time.Now().UnixMilli(), msg})
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}
	refuse := func(status int, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		r.mu.Lock()
		q.Problem = msg
		r.mu.Unlock()
		answer(status, q.RequestID, msg, "")
	}
	if q.RequestID == "" {
		refuse(http.StatusBadRequest, "missing X-Amz-Firehose-Request-Id header")
		return
	}
	if hr.Method != http.MethodPost {
		refuse(http.StatusMethodNotAllowed, "method %s is not POST", hr.Method)
		return
	}
	if r.opts.AccessKey != "" && hr.Header.Get("X-Amz-Firehose-Access-Key") != r.opts.AccessKey {
		refuse(http.StatusUnauthorized, "the access key does not match")
		return
	}
	if ct := hr.Header.Get("Content-Type"); ct != "application/json" {
		refuse(http.StatusBadRequest, "Content-Type %q is not application/json", ct)
		return
	}
	if v := hr.Header.Get("X-Amz-Firehose-Protocol-Version"); v != "1.0" {
		refuse(http.StatusBadRequest, "X-Amz-Firehose-Protocol-Version %q is not 1.0", v)
		return
	}
	if hr.Header.Get("X-Amz-Firehose-Source-Arn") == "" {
		refuse(http.StatusBadRequest, "missing X-Amz-Firehose-Source-Arn header")
		return
	}
	if attrs := hr.Header.Get("X-Amz-Firehose-Common-Attributes"); attrs != "" {
		var ca struct {
			CommonAttributes map[string]string `json:"commonAttributes"`
		}
		if err := json.Unmarshal([]byte(attrs), &ca); err != nil {
			refuse(http.StatusBadRequest, "X-Amz-Firehose-Common-Attributes does not parse: %v", err)
			return
		}
		q.CommonAttributes = ca.CommonAttributes
	}
	var body io.Reader = hr.Body
	switch ce := hr.Header.Get("Content-Encoding"); ce {
	case "":
	case "gzip":
		zr, err := gzip.NewReader(hr.Body)
		if err != nil {
			refuse(http.StatusBadRequest, "gzip body: %v", err)
			return
		}
		body, q.Gzip = zr, true
	default:
		refuse(http.StatusBadRequest, "Content-Encoding %q is not gzip", ce)
		return
	}
	var req struct {
		RequestID string `json:"requestId"`
		Timestamp *int64 `json:"timestamp"`
		Records   []struct {
			Data *string `json:"data"`
		} `json:"records"`
	}
	d := json.NewDecoder(body)
	d.DisallowUnknownFields()
	if err := d.Decode(&req); err != nil {
		refuse(http.StatusBadRequest, "body does not parse: %v", err)
		return
	}
	if req.RequestID != q.RequestID {
		refuse(http.StatusBadRequest, "body requestId %q does not match the header's %q", req.RequestID, q.RequestID)
		return
	}
	if req.Timestamp == nil {
		refuse(http.StatusBadRequest, "body has no timestamp")
		return
	}
	recs := make([][]byte, 0, len(req.Records))
	for i, rec := range req.Records {
		if rec.Data == nil {
			refuse(http.StatusBadRequest, "record %d has no data", i)
			return
		}
		b, err := base64.StdEncoding.DecodeString(*rec.Data)
		if err != nil {
			refuse(http.StatusBadRequest, "record %d: data is not base64: %v", i, err)
			return
		}
		recs = append(recs, b)
	}
	r.mu.Lock()
	q.Timestamp, q.Records = *req.Timestamp, recs
	r.mu.Unlock()
	rep := Reply{}
	if r.opts.Script != nil {
		rep = r.opts.Script(q)
	}
	if rep.Status == 0 {
		rep.Status = http.StatusOK
	}
	if rep.Delay > 0 {
		t := time.NewTimer(rep.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-hr.Context().Done():
			r.mu.Lock()
			q.Problem = "the client went away"
			r.mu.Unlock()
			return
		case <-r.closed:
			return
		}
	}
	id := q.RequestID
	if rep.RequestID != "" {
		id = rep.RequestID
		r.mu.Lock()
		q.Problem = "answered with another requestId"
		r.mu.Unlock()
	}
	if rep.Body != "" {
		r.mu.Lock()
		q.Problem = "answered a malformed body"
		r.mu.Unlock()
	}
	answer(rep.Status, id, rep.ErrorMessage, rep.Body)
}
