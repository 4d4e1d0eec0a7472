package s3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hydrant-dev/hydrant/internal/destination"
	"github.com/hydrant-dev/hydrant/internal/destination/destinationtest"
	"github.com/hydrant-dev/hydrant/internal/testenv"
)

// isolateAWSEnv keeps the machine's AWS configuration out of a test.
func isolateAWSEnv(t testing.TB) {
	t.Helper()
	dir := t.TempDir()
	for _, k := range []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE",
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// minioConfig returns a Config of m's root user at endpoint (m's own when empty).
func minioConfig(m *testenv.MinIO, endpoint string) Config {
	if endpoint == "" {
		endpoint = m.Endpoint()
	}
	return Config{Endpoint: endpoint, AccessKeyID: m.AccessKey(), SecretAccessKey: m.SecretKey()}
}

func newStore(t testing.TB, cfg Config, log *slog.Logger) *Store {
	t.Helper()
	s, err := New(context.Background(), cfg, log)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// readable reads objects back through MinIO, translating ARN bucket names to real ones.
type readable struct {
	*Store
	m     *testenv.MinIO
	names map[string]string
}

func (r readable) ReadObject(ctx context.Context, bucket, key string) ([]byte, error) {
	if n, ok := r.names[bucket]; ok {
		bucket = n
	}
	return r.m.ReadObject(ctx, bucket, key)
}

func TestConformance(t *testing.T) {
	isolateAWSEnv(t)
	m := testenv.StartMinIO(t)
	var n atomic.Int32
	destinationtest.Run(t, func(t *testing.T) destinationtest.Store {
		// The suite's bucket names (b, b1, b2) are too short for S3: map each to a fresh real
		// bucket, which also runs the suite through Bucket.Name.
		i := n.Add(1)
		cfg := minioConfig(m, "")
		cfg.Buckets = map[string]Bucket{}
		names := map[string]string{}
		for _, b := range []string{"b", "b1", "b2"} {
			real := fmt.Sprintf("conformance-%d-%s", i, b)
			m.CreateBucket(t, real)
			cfg.Buckets[b] = Bucket{Name: real}
			names[b] = real
		}
		return readable{newStore(t, cfg, nil), m, names}
	},
		// MinIO keeps each object in a directory named by its key, so it refuses a segment
		// longer than a file name (XMinioInvalidObjectName); AWS S3 would store it. This key
		// passes destination.CheckKey and is classified by the store's answer.
		destinationtest.PermanentKeys("a/"+strings.Repeat("s", 300)+"/k"))
}

func TestPermanent(t *testing.T) {
	tests := []struct {
		code string
		want bool
	}{
		{"InvalidBucketName", true},
		{"KeyTooLongError", true},
		{"EntityTooLarge", true},
		{"MetadataTooLarge", true},
		{"InvalidStorageClass", true},
		{"XMinioInvalidObjectName", true},
		{"NoSuchBucket", false},
		{"AccessDenied", false},
		{"InvalidAccessKeyId", false},
		{"SignatureDoesNotMatch", false},
		{"KMS.NotFoundException", false},
		{"InvalidArgument", false},
		{"InvalidRequest", false},
		{"BadDigest", false},
		{"XAmzContentChecksumMismatch", false},
		{"SlowDown", false},
		{"ServiceUnavailable", false},
		{"InternalError", false},
		{"RequestTimeout", false},
		{CodeRequestError, false},
		{CodeTimeout, false},
		{CodeCanceled, false},
		{"", false},
		{"SomethingNew", false},
	}
	for _, tc := range tests {
		t.Run(tc.code, func(t *testing.T) {
			e := &Error{Op: OpPut, Bucket: "b", Key: "k", Code: tc.code, Message: "m", Err: errors.New("sdk")}
			got := [...]bool{e.Permanent(), destination.IsPermanent(e), destination.IsPermanent(fmt.Errorf("deliver: %w", e))}
			if want := [...]bool{tc.want, tc.want, tc.want}; got != want {
				t.Errorf("{Permanent, IsPermanent, IsPermanent wrapped} = %v, want %v", got, want)
			}
		})
	}
	t.Run("5xx codes", func(t *testing.T) {
		for _, status := range []int{500, 502, 503, 504} {
			e := &Error{Code: http.StatusText(status), StatusCode: status}
			if e.Permanent() {
				t.Errorf("%d %s classified permanent", status, e.Code)
			}
		}
	})
	t.Run("cancelled request", func(t *testing.T) {
		e := newError(OpPut, "b", "k", fmt.Errorf("operation error S3: PutObject: %w", context.Canceled))
		if e.Code != CodeCanceled || destination.IsPermanent(e) {
			t.Errorf("newError(canceled) = Code %q, IsPermanent %v; want %s, false", e.Code, destination.IsPermanent(e), CodeCanceled)
		}
	})
}

func TestHeaders(t *testing.T) {
	isolateAWSEnv(t)
	m := testenv.StartMinIO(t)
	m.CreateBucket(t, "headers")
	s := newStore(t, minioConfig(m, ""), nil)
	tests := []struct {
		name                   string
		contentType, encoding  string
		wantType, wantEncoding string
	}{
		{"uncompressed", "", "", "application/octet-stream", ""},
		{"gzip", "", "gzip", "application/octet-stream", "gzip"},
		{"zip", "", "zip", "application/octet-stream", "zip"},
		{"snappy", "", "snappy-java", "application/octet-stream", "snappy-java"},
		{"hadoop snappy", "", "hadoop-snappy", "application/octet-stream", "hadoop-snappy"},
		{"explicit content type", "application/octet-stream", "gzip", "application/octet-stream", "gzip"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := "k/" + strings.ReplaceAll(tc.name, " ", "-")
			o := destination.Object{Bucket: "headers", Key: key, Body: []byte("body"), ContentType: tc.contentType, ContentEncoding: tc.encoding}
			if err := s.PutObject(context.Background(), o); err != nil {
				t.Fatal(err)
			}
			got := m.Head(t, "headers", key)
			want := testenv.ObjectMeta{ContentType: tc.wantType, ContentEncoding: tc.wantEncoding, ContentLength: 4}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("HeadObject (-want +got):\n%s", diff)
			}
		})
	}
}

// proxy is an HTTP proxy in front of MinIO that records requests and can alter them.
type proxy struct {
	*httptest.Server
	mu   sync.Mutex
	seen []seenRequest
	// intercept, when set, may answer a request itself (returning true) instead of forwarding.
	intercept func(w http.ResponseWriter, r *http.Request) bool
	// rewrite, when set, may alter the forwarded request.
	rewrite func(r *httputil.ProxyRequest)
}

type seenRequest struct {
	Method string
	Path   string
	Query  url.Values
	Header http.Header
}

func newProxy(t testing.TB, target string) *proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{}
	rp := &httputil.ReverseProxy{ErrorLog: log.New(io.Discard, "", 0), Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(u)
		r.Out.Host = r.In.Host // the host the client signed
		if p.rewrite != nil {
			p.rewrite(r)
		}
	}}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.seen = append(p.seen, seenRequest{r.Method, r.URL.Path, r.URL.Query(), r.Header.Clone()})
		intercept := p.intercept
		p.mu.Unlock()
		if intercept != nil && intercept(w, r) {
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *proxy) requests() []seenRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]seenRequest(nil), p.seen...)
}

// uploadParts returns the UploadPart requests seen, and whether an AbortMultipartUpload was.
func (p *proxy) uploadParts() (parts []seenRequest, aborted bool) {
	for _, r := range p.requests() {
		switch {
		case r.Method == http.MethodPut && r.Query.Has("partNumber"):
			parts = append(parts, r)
		case r.Method == http.MethodDelete && r.Query.Has("uploadId"):
			aborted = true
		}
	}
	return parts, aborted
}

func crc32Header(b []byte) string {
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc32.ChecksumIEEE(b))
	return base64.StdEncoding.EncodeToString(sum[:])
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

func randomBody(n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{1})
	r.Read(b)
	return b
}

func TestUnsignedPayloadOverHTTP(t *testing.T) {
	isolateAWSEnv(t)
	m := testenv.StartMinIO(t)
	m.CreateBucket(t, "unsigned")
	body := randomBody(1 << 20)
	tests := []struct {
		name       string
		sign       bool
		wantSHA256 string
	}{
		{"default", false, "UNSIGNED-PAYLOAD"},
		{"SignPayload", true, fmt.Sprintf("%x", sha256Sum(body))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newProxy(t, m.Endpoint())
			cfg := minioConfig(m, p.URL)
			cfg.SignPayload = tc.sign
			s := newStore(t, cfg, nil)
			if err := s.PutObject(context.Background(), destination.Object{Bucket: "unsigned", Key: tc.name, Body: body}); err != nil {
				t.Fatal(err)
			}
			var put *seenRequest
			for _, r := range p.requests() {
				if r.Method == http.MethodPut {
					put = &r
				}
			}
			if put == nil {
				t.Fatal("no PUT seen")
			}
			got := map[string]string{
				"X-Amz-Content-Sha256": put.Header.Get("X-Amz-Content-Sha256"),
				"X-Amz-Checksum-Crc32": put.Header.Get("X-Amz-Checksum-Crc32"),
			}
			want := map[string]string{"X-Amz-Content-Sha256": tc.wantSHA256, "X-Amz-Checksum-Crc32": crc32Header(body)}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("request headers (-want +got):\n%s", diff)
			}
			if stored, err := m.ReadObject(context.Background(), "unsigned", tc.name); err != nil || !bytes.Equal(stored, body) {
				t.Errorf("stored object differs (err %v)", err)
			}
		})
	}
}

// TestChecksumVerifiedByServer corrupts one byte of the body in flight: MinIO must refuse
// the object because the CRC32 header does not match, proving that the unsigned payload is
// still protected end to end.
func TestChecksumVerifiedByServer(t *testing.T) {
	isolateAWSEnv(t)
	m := testenv.StartMinIO(t)
	m.CreateBucket(t, "corrupt")
	p := newProxy(t, m.Endpoint())
	p.rewrite = func(r *httputil.ProxyRequest) {
		if r.In.Method == http.MethodPut {
			r.Out.Body = &flipByte{r: r.Out.Body, at: 1000}
		}
	}
	s := newStore(t, minioConfig(m, p.URL), nil)
	err := s.PutObject(context.Background(), destination.Object{Bucket: "corrupt", Key: "k", Body: randomBody(64 << 10)})
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("PutObject of a corrupted body = %v, want *Error", err)
	}
	t.Logf("MinIO refused the corrupted body: %v", e)
	if e.Code != "XAmzContentChecksumMismatch" && e.Code != "BadDigest" && e.Code != "InvalidDigest" {
		t.Errorf("Code = %q, want a checksum mismatch", e.Code)
	}
	if keys := m.Keys(t, "corrupt"); len(keys) != 0 {
		t.Errorf("corrupted object stored: %v", keys)
	}
}

// flipByte inverts the byte at offset at of the stream.
type flipByte struct {
	r   io.ReadCloser
	at  int64
	off int64
}

func (f *flipByte) Read(b []byte) (int, error) {
	n, err := f.r.Read(b)
	if f.at >= f.off && f.at < f.off+int64(n) {
		b[f.at-f.off] ^= 0xff
	}
	f.off += int64(n)
	return n, err
}

func (f *flipByte) Close() error { return f.r.Close() }

func TestMultipart(t *testing.T) {
	isolateAWSEnv(t)
	m := testenv.StartMinIO(t)
	m.CreateBucket(t, "multi")
	p := newProxy(t, m.Endpoint())
	cfg := minioConfig(m, p.URL)
	cfg.PartSize = MinPartSize
	s := newStore(t, cfg, nil)
	body := randomBody(23 << 20)
	o := destination.Object{Bucket: "multi", Key: "big.gz", Body: body, ContentEncoding: "gzip"}
	if err := s.PutObject(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	got, err := m.ReadObject(context.Background(), "multi", "big.gz")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, body) {
		t.Errorf("stored %d bytes differ from the %d put", len(got), len(body))
	}
	if meta := m.Head(t, "multi", "big.gz"); meta.ContentType != "application/octet-stream" || meta.ContentEncoding != "gzip" {
		t.Errorf("HeadObject = %+v", meta)
	}
	if ups := m.IncompleteUploads(t, "multi", "big.gz"); len(ups) != 0 {
		t.Errorf("incomplete uploads left: %v", ups)
	}
	parts, aborted := p.uploadParts()
	if len(parts) != 5 || aborted {
		t.Errorf("saw %d UploadPart (want 5), aborted %v", len(parts), aborted)
	}
	for _, r := range parts {
		if r.Header.Get("X-Amz-Content-Sha256") != "UNSIGNED-PAYLOAD" || r.Header.Get("X-Amz-Checksum-Crc32") == "" {
			t.Errorf("part %s sent x-amz-content-sha256 %q, x-amz-checksum-crc32 %q", r.Query.Get("partNumber"),
				r.Header.Get("X-Amz-Content-Sha256"), r.Header.Get("X-Amz-Checksum-Crc32"))
		}
	}
	// Rewriting the key with a small object replaces it whole.
	if err := s.PutObject(context.Background(), destination.Object{Bucket: "multi", Key: "big.gz", Body: []byte("small")}); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.ReadObject(context.Background(), "multi", "big.gz"); string(got) != "small" {
		t.Errorf("after rewrite: %d bytes, want %q", len(got), "small")
	}
}

// TestMultipartFailureAborts fails a multipart upload three ways and checks that the upload
// is aborted and no incomplete upload remains.
func TestMultipartFailureAborts(t *testing.T) {
	isolateAWSEnv(t)
	body := randomBody(12 << 20) // 3 parts of 5 MiB
	tests := []struct {
		name string
		// setup arranges the failure; cancel cancels PutObject's context.
		setup    func(p *proxy, cancel context.CancelFunc)
		wantCode string
	}{
		{
			name: "part refused",
			setup: func(p *proxy, _ context.CancelFunc) {
				p.intercept = func(w http.ResponseWriter, r *http.Request) bool {
					if r.Method != http.MethodPut || r.URL.Query().Get("partNumber") != "2" {
						return false
					}
					io.Copy(io.Discard, r.Body)
					w.Header().Set("Content-Type", "application/xml")
					w.WriteHeader(http.StatusBadRequest)
					io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InjectedFault</Code><Message>part refused by the test</Message></Error>`)
					return true
				}
			},
			wantCode: "InjectedFault",
		},
		{
			name: "context cancelled mid upload",
			setup: func(p *proxy, cancel context.CancelFunc) {
				p.intercept = func(w http.ResponseWriter, r *http.Request) bool {
					if r.Method == http.MethodPut && r.URL.Query().Get("partNumber") == "2" {
						io.Copy(io.Discard, r.Body)
						cancel()
						<-r.Context().Done() // hold the part until the client gives up
						return true
					}
					return false
				}
			},
			wantCode: CodeCanceled,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := testenv.StartMinIO(t)
			m.CreateBucket(t, "multi")
			p := newProxy(t, m.Endpoint())
			cfg := minioConfig(m, p.URL)
			cfg.PartSize = MinPartSize
			cfg.Concurrency = 1 // parts in order, so part 2 fails after part 1 is stored
			s := newStore(t, cfg, nil)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			tc.setup(p, cancel)
			err := s.PutObject(ctx, destination.Object{Bucket: "multi", Key: "k", Body: body})
			var e *Error
			if !errors.As(err, &e) || e.Code != tc.wantCode {
				t.Fatalf("PutObject = %v, want *Error with Code %s", err, tc.wantCode)
			}
			if parts, aborted := p.uploadParts(); !aborted || len(parts) < 2 {
				t.Errorf("saw %d UploadPart, aborted %v; want ≥2 and an abort", len(parts), aborted)
			}
			if ups := m.IncompleteUploads(t, "multi", "k"); len(ups) != 0 {
				t.Errorf("incomplete uploads left: %v", ups)
			}
		})
	}

	t.Run("server stopped mid upload", func(t *testing.T) {
		m := testenv.StartMinIO(t)
		m.CreateBucket(t, "multi")
		p := newProxy(t, m.Endpoint())
		p.intercept = func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodPut && r.URL.Query().Get("partNumber") == "2" {
				m.Stop() // the proxy then answers 502 Bad Gateway, as a load balancer would
			}
			return false
		}
		cfg := minioConfig(m, p.URL)
		cfg.PartSize = MinPartSize
		cfg.Concurrency = 1
		var logs syncBuffer
		s := newStore(t, cfg, slog.New(slog.NewTextHandler(&logs, nil)))
		start := time.Now()
		err := s.PutObject(context.Background(), destination.Object{Bucket: "multi", Key: "k", Body: body})
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("PutObject = %v, want *Error", err)
		}
		t.Logf("PutObject failed after %v: %v", time.Since(start), e)
		if _, aborted := p.uploadParts(); !aborted {
			t.Error("no AbortMultipartUpload attempted")
		}
		if !strings.Contains(logs.String(), `msg="s3 multipart abort failed"`) {
			t.Errorf("abort failure not logged:\n%s", logs.String())
		}
		// Once the server is back, the next stored object retries the abort.
		p.mu.Lock()
		p.intercept = nil
		p.mu.Unlock()
		m.Restart(t)
		if ups := m.IncompleteUploads(t, "multi", "k"); len(ups) != 1 {
			t.Fatalf("incomplete uploads after restart = %v, want the failed one", ups)
		}
		if err := s.PutObject(context.Background(), destination.Object{Bucket: "multi", Key: "k", Body: []byte("retried")}); err != nil {
			t.Fatal(err)
		}
		if ups := m.IncompleteUploads(t, "multi", "k"); len(ups) != 0 {
			t.Errorf("incomplete uploads left after the next put: %v", ups)
		}
	})
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestErrors(t *testing.T) {
	isolateAWSEnv(t)
	m := testenv.StartMinIO(t)
	m.CreateBucket(t, "exists")
	tests := []struct {
		name     string
		cfg      func(Config) Config
		bucket   string
		wantCode string
		wantHTTP int
	}{
		{"no such bucket", nil, "missing-bucket", "NoSuchBucket", 404},
		{"unknown access key", func(c Config) Config { c.AccessKeyID = "nobody"; return c }, "exists", "InvalidAccessKeyId", 403},
		{"wrong secret", func(c Config) Config { c.SecretAccessKey = "wrong-secret"; return c }, "exists", "SignatureDoesNotMatch", 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := minioConfig(m, "")
			if tc.cfg != nil {
				cfg = tc.cfg(cfg)
			}
			s := newStore(t, cfg, nil)
			err := s.PutObject(context.Background(), destination.Object{Bucket: tc.bucket, Key: "a/b", Body: []byte("x")})
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("PutObject = %v, want *Error", err)
			}
			got := [...]any{e.Op, e.Bucket, e.Key, e.Code, e.StatusCode, e.RequestID != "", e.Unwrap() != nil}
			want := [...]any{OpPut, tc.bucket, "a/b", tc.wantCode, tc.wantHTTP, true, true}
			if got != want {
				t.Errorf("Error{Op, Bucket, Key, Code, StatusCode, has RequestID, wraps} = %v, want %v (%v)", got, want, e)
			}
			if errors.Is(err, destination.ErrInvalidObject) {
				t.Error("a store error is ErrInvalidObject")
			}
			if destination.IsPermanent(err) {
				t.Errorf("%v classified permanent; an operator can fix it while the delivery retries", err)
			}
		})
	}
}

func TestInvalidObject(t *testing.T) {
	isolateAWSEnv(t)
	s := newStore(t, Config{Endpoint: "http://127.0.0.1:1", AccessKeyID: "a", SecretAccessKey: "b"}, nil)
	for _, o := range []destination.Object{
		{Bucket: "b", Key: strings.Repeat("k", 1025)},
		{Bucket: "b", Key: "bad\xffutf8"},
		{Bucket: "b", Key: "./k"},
		{Bucket: "a/b", Key: "k"},
		{Bucket: "a b", Key: "k"},
	} {
		// The store's endpoint refuses connections: an error that is not ErrInvalidObject would
		// say that a request was attempted.
		if err := s.PutObject(context.Background(), o); !errors.Is(err, destination.ErrInvalidObject) || !destination.IsPermanent(err) {
			t.Errorf("PutObject(%q, %.20q) = %v, want a permanent ErrInvalidObject", o.Bucket, o.Key, err)
		}
		if ok, err := s.Exists(context.Background(), o.Bucket, o.Key); !errors.Is(err, destination.ErrInvalidObject) || !destination.IsPermanent(err) {
			t.Errorf("Exists(%q, %.20q) = %v, %v, want a permanent ErrInvalidObject", o.Bucket, o.Key, ok, err)
		}
	}
}

// TestExists checks HeadObject's answers: found, not found (also for a missing bucket, which
// a HEAD response cannot tell apart), and failures as *Error with Op head.
func TestExists(t *testing.T) {
	isolateAWSEnv(t)
	m := testenv.StartMinIO(t)
	m.CreateBucket(t, "exists")
	ctx := context.Background()
	if err := newStore(t, minioConfig(m, ""), nil).PutObject(ctx, destination.Object{Bucket: "exists", Key: "a/b", Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		cfg         func(Config) Config
		bucket, key string
		want        bool
		wantCode    string // "" = no error
	}{
		{"object", nil, "exists", "a/b", true, ""},
		{"missing key", nil, "exists", "a/c", false, ""},
		{"prefix of a key", nil, "exists", "a", false, ""},
		{"missing bucket", nil, "missing-bucket", "a/b", false, ""},
		{"mapped bucket", func(c Config) Config { c.Buckets = map[string]Bucket{"arn-name": {Name: "exists"}}; return c }, "arn-name", "a/b", true, ""},
		{"unknown access key", func(c Config) Config { c.AccessKeyID = "nobody"; return c }, "exists", "a/b", false, "Forbidden"},
		{"server down", func(c Config) Config { c.Endpoint = "http://127.0.0.1:1"; return c }, "exists", "a/b", false, CodeRequestError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := minioConfig(m, "")
			if tc.cfg != nil {
				cfg = tc.cfg(cfg)
			}
			got, err := newStore(t, cfg, nil).Exists(ctx, tc.bucket, tc.key)
			if tc.wantCode == "" {
				if err != nil || got != tc.want {
					t.Errorf("Exists = %v, %v; want %v, nil", got, err, tc.want)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Exists = %v, %v; want *Error", got, err)
			}
			t.Logf("Exists failed: %v", e)
			gotE := [...]any{got, e.Op, e.Code, destination.IsPermanent(err)}
			if want := [...]any{false, OpHead, tc.wantCode, false}; gotE != want {
				t.Errorf("{exists, Op, Code, IsPermanent} = %v, want %v", gotE, want)
			}
		})
	}
}

func TestServerDown(t *testing.T) {
	isolateAWSEnv(t)
	m := testenv.StartMinIO(t)
	m.CreateBucket(t, "outage")
	s := newStore(t, minioConfig(m, ""), nil)
	ctx := context.Background()
	o := destination.Object{Bucket: "outage", Key: "k", Body: []byte("x")}
	if err := s.PutObject(ctx, o); err != nil {
		t.Fatal(err)
	}
	m.Stop()
	start := time.Now()
	err := s.PutObject(ctx, o)
	elapsed := time.Since(start)
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeRequestError {
		t.Fatalf("PutObject to a stopped server = %v, want *Error with Code %s", err, CodeRequestError)
	}
	t.Logf("failed after %v: %v", elapsed, e)
	if elapsed > 10*time.Second {
		t.Errorf("PutObject to a stopped server took %v, want a bounded few seconds", elapsed)
	}
	m.Restart(t)
	o.Body = []byte("after restart")
	if err := s.PutObject(ctx, o); err != nil {
		t.Fatalf("PutObject after restart: %v", err)
	}
	if got, _ := m.ReadObject(ctx, "outage", "k"); string(got) != "after restart" {
		t.Errorf("after restart stored %q", got)
	}
}

func TestCancelReturnsPromptly(t *testing.T) {
	isolateAWSEnv(t)
	m := testenv.StartMinIO(t)
	m.CreateBucket(t, "slow")
	p := newProxy(t, m.Endpoint())
	p.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		io.Copy(io.Discard, r.Body) // the server notices a closed connection only after the body
		<-r.Context().Done()        // a server that never answers
		return true
	}
	s := newStore(t, minioConfig(m, p.URL), nil)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	err := s.PutObject(ctx, destination.Object{Bucket: "slow", Key: "k", Body: []byte("x")})
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeCanceled || !errors.Is(err, context.Canceled) {
		t.Fatalf("PutObject = %v, want *Error with Code %s wrapping context.Canceled", err, CodeCanceled)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("PutObject returned %v after cancel, want promptly", d)
	}

	ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err = s.PutObject(ctx, destination.Object{Bucket: "slow", Key: "k", Body: []byte("x")})
	if !errors.As(err, &e) || e.Code != CodeTimeout || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("PutObject past its deadline = %v, want *Error with Code %s", err, CodeTimeout)
	}
}

func TestBucketRouting(t *testing.T) {
	isolateAWSEnv(t)
	a, b := testenv.StartMinIO(t), testenv.StartMinIO(t)
	a.CreateBucket(t, "default-bucket")
	a.CreateBucket(t, "real-logs")
	b.CreateBucket(t, "remote-bucket")
	cfg := minioConfig(a, "")
	cfg.Buckets = map[string]Bucket{
		"logs":    {Name: "real-logs"},                                                                                         // same server, another name
		"remote":  {Name: "remote-bucket", Endpoint: b.Endpoint(), AccessKeyID: b.AccessKey(), SecretAccessKey: b.SecretKey()}, // another server
		"remote2": {Endpoint: b.Endpoint(), AccessKeyID: b.AccessKey(), SecretAccessKey: b.SecretKey()},                        // shares remote's client
	}
	s := newStore(t, cfg, nil)
	ctx := context.Background()
	for _, o := range []destination.Object{
		{Bucket: "default-bucket", Key: "k", Body: []byte("default")},
		{Bucket: "logs", Key: "k", Body: []byte("logs")},
		{Bucket: "remote", Key: "k", Body: []byte("remote")},
	} {
		if err := s.PutObject(ctx, o); err != nil {
			t.Fatalf("PutObject(%s): %v", o.Bucket, err)
		}
	}
	got := map[string]map[string][]byte{
		"a/default-bucket": a.Objects(t, "default-bucket"),
		"a/real-logs":      a.Objects(t, "real-logs"),
		"b/remote-bucket":  b.Objects(t, "remote-bucket"),
	}
	want := map[string]map[string][]byte{
		"a/default-bucket": {"k": []byte("default")},
		"a/real-logs":      {"k": []byte("logs")},
		"b/remote-bucket":  {"k": []byte("remote")},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stored objects (-want +got):\n%s", diff)
	}
	if s.buckets["logs"].client != s.def.client {
		t.Error("a bucket with the default settings got a client of its own")
	}
	if s.buckets["remote2"].client != s.buckets["remote"].client {
		t.Error("buckets with the same settings got a client each")
	}
	if s.buckets["remote"].client == s.def.client {
		t.Error("a bucket with its own endpoint shares the default client")
	}
}

// TestEndpointFromEnvironment checks that the SDK's own configuration loading supplies what
// Config leaves empty, and that a custom endpoint from there gets path-style addressing.
func TestEndpointFromEnvironment(t *testing.T) {
	m := testenv.StartMinIO(t)
	m.CreateBucket(t, "fromenv")
	tests := []struct {
		name string
		// env, config and cfg.Endpoint have {proxy}, {user} and {secret} replaced.
		env    map[string]string
		config string // shared config file contents
		cfg    Config
	}{
		{
			name: "AWS_ENDPOINT_URL_S3",
			env:  map[string]string{"AWS_ENDPOINT_URL_S3": "{proxy}", "AWS_ACCESS_KEY_ID": "{user}", "AWS_SECRET_ACCESS_KEY": "{secret}"},
		},
		{
			name: "AWS_ENDPOINT_URL",
			env:  map[string]string{"AWS_ENDPOINT_URL": "{proxy}", "AWS_ACCESS_KEY_ID": "{user}", "AWS_SECRET_ACCESS_KEY": "{secret}", "AWS_REGION": "eu-west-3"},
		},
		{
			name: "AWS_ENDPOINT_URL_S3 over AWS_ENDPOINT_URL",
			env:  map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_ENDPOINT_URL_S3": "{proxy}", "AWS_ACCESS_KEY_ID": "{user}", "AWS_SECRET_ACCESS_KEY": "{secret}"},
		},
		{
			name: "Config.Endpoint over the environment",
			env:  map[string]string{"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:1", "AWS_ACCESS_KEY_ID": "{user}", "AWS_SECRET_ACCESS_KEY": "{secret}"},
			cfg:  Config{Endpoint: "{proxy}"},
		},
		{
			name:   "profile",
			config: "[profile minio]\nendpoint_url = {proxy}\nregion = us-east-1\naws_access_key_id = {user}\naws_secret_access_key = {secret}\n",
			cfg:    Config{Profile: "minio"},
		},
		{
			name:   "AWS_PROFILE",
			env:    map[string]string{"AWS_PROFILE": "minio"},
			config: "[profile minio]\nendpoint_url = {proxy}\naws_access_key_id = {user}\naws_secret_access_key = {secret}\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			isolateAWSEnv(t)
			p := newProxy(t, m.Endpoint())
			expand := strings.NewReplacer("{proxy}", p.URL, "{user}", m.AccessKey(), "{secret}", m.SecretKey()).Replace
			for k, v := range tc.env {
				t.Setenv(k, expand(v))
			}
			if tc.config != "" {
				if err := os.WriteFile(os.Getenv("AWS_CONFIG_FILE"), []byte(expand(tc.config)), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cfg := tc.cfg
			cfg.Endpoint = expand(cfg.Endpoint)
			s := newStore(t, cfg, nil)
			if err := s.PutObject(context.Background(), destination.Object{Bucket: "fromenv", Key: "k/" + tc.name, Body: []byte("x")}); err != nil {
				t.Fatalf("PutObject: %v", err)
			}
			var got []string
			for _, r := range p.requests() {
				got = append(got, r.Method+" "+r.Path)
			}
			want := []string{"PUT /fromenv/k/" + tc.name} // path-style: the bucket is in the path
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("requests at the endpoint (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("no region for AWS", func(t *testing.T) {
		isolateAWSEnv(t)
		if _, err := New(context.Background(), Config{}, nil); err == nil || !strings.Contains(err.Error(), "region") {
			t.Errorf("New without region or endpoint = %v, want a region error", err)
		}
	})
	t.Run("AWS defaults to virtual-hosted style", func(t *testing.T) {
		isolateAWSEnv(t)
		s := newStore(t, Config{Region: "eu-west-1"}, nil)
		if o := s.def.client.Options(); o.UsePathStyle || o.BaseEndpoint != nil {
			t.Errorf("UsePathStyle %v, BaseEndpoint %v; want virtual-hosted AWS", o.UsePathStyle, o.BaseEndpoint)
		}
	})
	t.Run("missing profile", func(t *testing.T) {
		isolateAWSEnv(t)
		if _, err := New(context.Background(), Config{Profile: "absent", Region: "eu-west-1"}, nil); err == nil {
			t.Error("New with a missing profile succeeded")
		}
	})
}

func TestSSEKMSHeaders(t *testing.T) {
	isolateAWSEnv(t)
	m := testenv.StartMinIO(t)
	m.CreateBucket(t, "kms")
	const keyARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	for _, size := range []int{10, 6 << 20} {
		t.Run(fmt.Sprintf("%d bytes", size), func(t *testing.T) {
			p := newProxy(t, m.Endpoint())
			cfg := minioConfig(m, p.URL)
			cfg.PartSize = MinPartSize
			s := newStore(t, cfg, nil)
			err := s.PutObject(context.Background(), destination.Object{Bucket: "kms", Key: "k", Body: randomBody(size), KMSKeyARN: keyARN})
			// MinIO has no KMS configured and refuses; the request must still have asked for it.
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("PutObject with SSE-KMS on a MinIO without KMS = %v, want *Error", err)
			}
			t.Logf("MinIO refused SSE-KMS: %v", e)
			reqs := p.requests()
			if len(reqs) == 0 {
				t.Fatal("no request seen")
			}
			first := reqs[0] // PutObject or CreateMultipartUpload
			got := [2]string{first.Header.Get("X-Amz-Server-Side-Encryption"), first.Header.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id")}
			if want := [2]string{"aws:kms", keyARN}; got != want {
				t.Errorf("%s sent SSE headers %q, want %q", first.Method, got, want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // "" = valid
	}{
		{"zero", Config{}, ""},
		{"full", Config{Endpoint: "https://s3.example.com", Region: "x", PartSize: MinPartSize, Concurrency: 8, AccessKeyID: "a", SecretAccessKey: "b", SessionToken: "c",
			Buckets: map[string]Bucket{"b": {Name: "real", Endpoint: "http://127.0.0.1:9000", Profile: "p"}}}, ""},
		{"endpoint scheme", Config{Endpoint: "s3.example.com"}, "Endpoint"},
		{"endpoint host", Config{Endpoint: "http://"}, "Endpoint"},
		{"part size small", Config{PartSize: MinPartSize - 1}, "PartSize 5242879 out of range: must be 0 (default 16777216) or 5242880..5368709120 bytes"},
		{"part size large", Config{PartSize: MaxPartSize + 1}, "PartSize"},
		{"concurrency", Config{Concurrency: -1}, "Concurrency -1 out of range: must be 0 (default 4) or 1..64"},
		{"concurrency large", Config{Concurrency: 65}, "Concurrency"},
		{"key without secret", Config{AccessKeyID: "a"}, "AccessKeyID and SecretAccessKey must be set together"},
		{"token without key", Config{SessionToken: "t"}, "SessionToken requires"},
		{"bucket endpoint", Config{Buckets: map[string]Bucket{"b": {Endpoint: "ftp://x"}}}, `Buckets["b"].Endpoint`},
		{"bucket name", Config{Buckets: map[string]Bucket{"b": {Name: "a/b"}}}, `Buckets["b"].Name`},
		{"bucket key", Config{Buckets: map[string]Bucket{"": {}}}, `Buckets[""]`},
		{"bucket credentials", Config{Buckets: map[string]Bucket{"b": {SecretAccessKey: "s"}}}, `Buckets["b"].AccessKeyID and Buckets["b"].SecretAccessKey`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("Validate() = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

// BenchmarkPutObject stores 8 MiB objects in MinIO over http with the payload signed
// (SHA-256 of every byte) and unsigned (CRC32 only, the default).
func BenchmarkPutObject(b *testing.B) {
	isolateAWSEnv(b)
	m := testenv.StartMinIO(b)
	m.CreateBucket(b, "bench")
	body := randomBody(8 << 20)
	for _, sign := range []bool{true, false} {
		name := map[bool]string{true: "signed", false: "unsigned"}[sign]
		b.Run(name, func(b *testing.B) {
			cfg := minioConfig(m, "")
			cfg.SignPayload = sign
			s := newStore(b, cfg, nil)
			b.SetBytes(int64(len(body)))
			i := 0
			for b.Loop() {
				if err := s.PutObject(context.Background(), destination.Object{Bucket: "bench", Key: fmt.Sprintf("%s/%d", name, i%4), Body: body}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
