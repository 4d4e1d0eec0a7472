package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/aws/smithy-go"

	"github.com/hydrant-dev/hydrant/internal/auth"
	"github.com/hydrant-dev/hydrant/internal/processor/lambda"
)

// The keys of the secured server: one allowed everything, one only Describe* and List*, one
// only puts to web-* streams.
var testCredentials = []auth.Credential{
	{AccessKeyID: "AKIAEVERYTHING01", SecretAccessKey: "secret-everything"},
	{AccessKeyID: "AKIAREADONLY0001", SecretAccessKey: "secret-readonly", Name: "reader", Actions: []string{"firehose:Describe*", "firehose:List*"}},
	{AccessKeyID: "AKIAWEBWRITER001", SecretAccessKey: "secret-writer", Actions: []string{"firehose:Put*"}, Streams: []string{"web-*"}},
	{AccessKeyID: "AKIASESSION00001", SecretAccessKey: "secret-session", SessionToken: "token-1"},
}

func securedServer(t *testing.T) *testServer {
	t.Helper()
	return startServer(t, "", func(c *Config) { c.Credentials = testCredentials })
}

func clientFor(ts *testServer, id, secret, token string) *firehose.Client {
	return firehose.New(firehose.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(ts.url),
		Credentials:      credentials.NewStaticCredentialsProvider(id, secret, token),
		RetryMaxAttempts: 1,
	})
}

// TestGuardFirehose: with credentials configured, a Firehose request is served only when a
// configured key signed it and the key's policy allows the operation on the stream; every
// refusal has AWS's code and text, and changes nothing.
func TestGuardFirehose(t *testing.T) {
	ts := securedServer(t)
	ctx := context.Background()
	admin := clientFor(ts, "AKIAEVERYTHING01", "secret-everything", "")
	for _, name := range []string{"web-1", "app-1"} {
		if _, err := admin.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{
			DeliveryStreamName: aws.String(name), ExtendedS3DestinationConfiguration: s3Config("b")}); err != nil {
			t.Fatalf("CreateDeliveryStream %s: %v", name, err)
		}
	}
	for _, name := range []string{"web-1", "app-1"} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			out, err := admin.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String(name)})
			if err != nil {
				t.Fatal(err)
			}
			if out.DeliveryStreamDescription.DeliveryStreamStatus == types.DeliveryStreamStatusActive {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not ACTIVE", name)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	put := func(c *firehose.Client, stream string) error {
		_, err := c.PutRecord(ctx, &firehose.PutRecordInput{DeliveryStreamName: aws.String(stream), Record: &types.Record{Data: []byte("x\n")}})
		return err
	}
	tests := []struct {
		name     string
		call     func() error
		code     string
		contains string
	}{
		{"everything: put", func() error { return put(admin, "app-1") }, "", ""},
		{"wrong secret", func() error { return put(clientFor(ts, "AKIAEVERYTHING01", "wrong", ""), "app-1") },
			"InvalidSignatureException", "The request signature we calculated does not match the signature you provided."},
		{"unknown key", func() error { return put(clientFor(ts, "AKIAUNKNOWNKEY01", "x", ""), "app-1") },
			"UnrecognizedClientException", "The security token included in the request is invalid."},
		{"reader: describe", func() error {
			_, err := clientFor(ts, "AKIAREADONLY0001", "secret-readonly", "").DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("app-1")})
			return err
		}, "", ""},
		{"reader: put", func() error { return put(clientFor(ts, "AKIAREADONLY0001", "secret-readonly", ""), "app-1") },
			"AccessDeniedException", "User: arn:aws:iam::000000000000:user/reader is not authorized to perform: firehose:PutRecord on resource: arn:aws:firehose:us-east-1:000000000000:deliverystream/app-1"},
		{"reader: delete", func() error {
			_, err := clientFor(ts, "AKIAREADONLY0001", "secret-readonly", "").DeleteDeliveryStream(ctx, &firehose.DeleteDeliveryStreamInput{DeliveryStreamName: aws.String("app-1")})
			return err
		}, "AccessDeniedException", "firehose:DeleteDeliveryStream"},
		{"writer: its stream", func() error { return put(clientFor(ts, "AKIAWEBWRITER001", "secret-writer", ""), "web-1") }, "", ""},
		{"writer: another stream", func() error { return put(clientFor(ts, "AKIAWEBWRITER001", "secret-writer", ""), "app-1") },
			"AccessDeniedException", "deliverystream/app-1"},
		{"session token", func() error { return put(clientFor(ts, "AKIASESSION00001", "secret-session", "token-1"), "app-1") }, "", ""},
		{"session token missing", func() error { return put(clientFor(ts, "AKIASESSION00001", "secret-session", ""), "app-1") },
			"UnrecognizedClientException", ""},
		{"session token wrong", func() error { return put(clientFor(ts, "AKIASESSION00001", "secret-session", "token-2"), "app-1") },
			"UnrecognizedClientException", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if tt.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ae smithy.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v, want %s", err, tt.code)
			}
			if ae.ErrorCode() != tt.code || !strings.Contains(ae.ErrorMessage(), tt.contains) {
				t.Errorf("got %s %q, want %s containing %q", ae.ErrorCode(), ae.ErrorMessage(), tt.code, tt.contains)
			}
			if strings.Contains(ae.ErrorMessage(), "secret") {
				t.Errorf("the answer shows a secret: %q", ae.ErrorMessage())
			}
		})
	}
	// Nothing a refused request carried was stored: only the three allowed puts are in app-1
	// and web-1.
	ts.flush2(t, "AKIAEVERYTHING01", "secret-everything")
	if got := len(ts.objects(t, "b")); got == 0 {
		t.Fatal("no object delivered")
	}
	lines := 0
	for _, o := range ts.objects(t, "b") {
		lines += bytes.Count(o, []byte("\n"))
	}
	if lines != 3 {
		t.Errorf("%d records delivered, want the 3 allowed puts", lines)
	}
}

// flush2 posts a signed flush.
func (ts *testServer) flush2(t *testing.T, id, secret string) {
	t.Helper()
	resp := signedDo(t, http.MethodPost, ts.url+"/_hydrant/flush", "", "firehose", id, secret, time.Now())
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("flush: %d %s", resp.StatusCode, readAll(resp))
	}
}

func readAll(resp *http.Response) string {
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return string(b)
}

// signedDo sends a request signed with aws-sdk-go-v2's signer (id empty: unsigned).
func signedDo(t *testing.T, method, url, body, service, id, secret string, at time.Time, headers ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if id != "" {
		sum := sha256.Sum256([]byte(body))
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}, req,
			hex.EncodeToString(sum[:]), service, "us-east-1", at); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestGuardRoutes: the admin endpoints, CloudWatch, the console and /metrics under the same
// rules, each refusal in its route's shape.
func TestGuardRoutes(t *testing.T) {
	ts := securedServer(t)
	now := time.Now()
	cwBody := `{"Namespace":"AWS/Firehose"}`
	cwHeaders := []string{"Content-Type", "application/x-amz-json-1.0", "X-Amz-Target", "GraniteServiceVersion20100801.ListMetrics"}
	tests := []struct {
		name           string
		method, path   string
		body, service  string
		id, secret     string
		at             time.Time
		headers        []string
		status         int
		contains       string
		contentTypeHas string
	}{
		{"health unsigned", "GET", "/_hydrant/health", "", "", "", "", now, nil, 200, `"ok"`, "json"},
		{"flush unsigned", "POST", "/_hydrant/flush", "", "", "", "", now, nil, 403, `"__type":"MissingAuthenticationTokenException"`, "x-amz-json-1.1"},
		{"flush signed", "POST", "/_hydrant/flush", "", "firehose", "AKIAEVERYTHING01", "secret-everything", now, nil, 200, "", ""},
		{"flush by a key without hydrant:*", "POST", "/_hydrant/flush", "", "firehose", "AKIAREADONLY0001", "secret-readonly", now, nil, 400, "not authorized to perform: hydrant:Flush", ""},
		{"flush expired", "POST", "/_hydrant/flush", "", "firehose", "AKIAEVERYTHING01", "secret-everything", now.Add(-6 * time.Minute), nil, 400, "Signature expired", ""},
		{"flush scoped to another service", "POST", "/_hydrant/flush", "", "s3", "AKIAEVERYTHING01", "secret-everything", now, nil, 400, "Credential should be scoped to correct service", ""},
		{"cloudwatch json unsigned", "POST", "/", cwBody, "", "", "", now, cwHeaders, 403, "MissingAuthenticationTokenException", "x-amz-json-1.0"},
		{"cloudwatch json signed", "POST", "/", cwBody, "monitoring", "AKIAEVERYTHING01", "secret-everything", now, cwHeaders, 200, "Metrics", "x-amz-json-1.0"},
		{"cloudwatch json not allowed", "POST", "/", cwBody, "monitoring", "AKIAREADONLY0001", "secret-readonly", now, cwHeaders, 403, "not authorized to perform: cloudwatch:ListMetrics", ""},
		{"cloudwatch query wrong secret", "POST", "/", "Action=ListMetrics&Version=2010-08-01", "monitoring", "AKIAEVERYTHING01", "wrong", now,
			[]string{"Content-Type", "application/x-www-form-urlencoded"}, 403, "<Code>SignatureDoesNotMatch</Code>", "xml"},
		{"console from loopback unsigned", "GET", "/console/", "", "", "", "", now, nil, 200, "", ""},
		{"metrics from loopback unsigned", "GET", "/metrics", "", "", "", "", now, nil, 200, "hydrant_auth_refusals", ""},
		{"metrics signed by a key without the action", "GET", "/metrics", "", "firehose", "AKIAREADONLY0001", "secret-readonly", now, nil, 400, "hydrant:GetMetrics", "text/plain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := signedDo(t, tt.method, ts.url+tt.path, tt.body, tt.service, tt.id, tt.secret, tt.at, tt.headers...)
			body := readAll(resp)
			if resp.StatusCode != tt.status || !strings.Contains(body, tt.contains) {
				t.Errorf("%d %q, want %d containing %q", resp.StatusCode, body, tt.status, tt.contains)
			}
			if !strings.Contains(resp.Header.Get("Content-Type"), tt.contentTypeHas) {
				t.Errorf("Content-Type %q, want %q in it", resp.Header.Get("Content-Type"), tt.contentTypeHas)
			}
		})
	}
}

// TestGuardReload: a reload swaps the credentials for the requests after it; one that would
// remove the last credential, or that does not compile, keeps the ones in force.
func TestGuardReload(t *testing.T) {
	next := []auth.Credential{{AccessKeyID: "AKIAEVERYTHING01", SecretAccessKey: "rotated"}}
	var reloadErr error
	ts := startServer(t, "", func(c *Config) {
		c.Credentials = testCredentials
		c.Reload = func() (Config, error) { return Config{Credentials: next}, reloadErr }
	})
	ctx := context.Background()
	list := func(secret string) error {
		_, err := clientFor(ts, "AKIAEVERYTHING01", secret, "").ListDeliveryStreams(ctx, &firehose.ListDeliveryStreamsInput{})
		return err
	}
	if err := list("secret-everything"); err != nil {
		t.Fatalf("before the reload: %v", err)
	}
	ts.srv.reload()
	if err := list("rotated"); err != nil {
		t.Fatalf("the rotated secret after the reload: %v", err)
	}
	if err := list("secret-everything"); err == nil {
		t.Fatal("the old secret still works after the reload")
	}
	next = nil // would turn authentication off
	ts.srv.reload()
	if err := list("rotated"); err != nil {
		t.Fatalf("a reload without credentials changed the ones in force: %v", err)
	}
	next = []auth.Credential{{AccessKeyID: "short", SecretAccessKey: "x"}}
	ts.srv.reload()
	if err := list("rotated"); err != nil {
		t.Fatalf("a reload that does not compile changed the ones in force: %v", err)
	}
}

// TestSecureDefaults: without credentials the server refuses a non-loopback address unless
// told, and accepts anything on loopback.
func TestSecureDefaults(t *testing.T) {
	_, err := New(Config{Listen: "0.0.0.0:0", DataDir: t.TempDir()}, testLogger(t))
	if err == nil || !strings.Contains(err.Error(), "refusing to serve 0.0.0.0:0 without authentication") || !strings.Contains(err.Error(), "--insecure-no-auth") {
		t.Fatalf("New on 0.0.0.0 without credentials: %v", err)
	}
	if _, err := New(Config{Listen: "0.0.0.0:0", DataDir: t.TempDir(), InsecureNoAuth: true}, testLogger(t)); err != nil {
		t.Fatalf("New with InsecureNoAuth: %v", err)
	}
	if _, err := New(Config{Listen: "0.0.0.0:0", DataDir: t.TempDir(), Credentials: testCredentials}, testLogger(t)); err != nil {
		t.Fatalf("New with credentials: %v", err)
	}
	ts := startServer(t, "")
	resp := signedDo(t, "POST", ts.url+"/_hydrant/flush", "", "", "", "", time.Now())
	if resp.StatusCode != http.StatusOK {
		t.Errorf("unsigned flush on an open loopback server: %d %s", resp.StatusCode, readAll(resp))
	}
}

// lockedBuffer is a log sink safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestSecretsStayHidden: the credentials' secrets and the Lambda's outbound ones appear in no
// log line (at debug level), no refusal and no view, whatever requests come.
func TestSecretsStayHidden(t *testing.T) {
	secrets := []string{"secret-everything", "secret-readonly", "secret-writer", "secret-session", "token-1", "lambda-outbound-secret", "lambda-outbound-token"}
	logs := &lockedBuffer{}
	cfg := Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Credentials: testCredentials,
		Lambda: lambda.Config{Endpoint: "http://127.0.0.1:1", AccessKeyID: "AKIALAMBDA", SecretAccessKey: "lambda-outbound-secret", SessionToken: "lambda-outbound-token"}}
	srv, err := New(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() { cancel(); <-done }()
	<-srv.Ready()
	ts := &testServer{srv: srv, url: "http://" + srv.Addr()}
	admin := clientFor(ts, "AKIAEVERYTHING01", "secret-everything", "")
	if _, err := admin.CreateDeliveryStream(context.Background(), &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName: aws.String("s"), ExtendedS3DestinationConfiguration: s3Config("b")}); err != nil {
		t.Fatal(err)
	}
	var answers []string
	for _, c := range []struct{ id, secret string }{{"AKIAEVERYTHING01", "secret-everything"}, {"AKIAEVERYTHING01", "secret-readonly"}, {"AKIAREADONLY0001", "secret-readonly"}, {"AKIASESSION00001", "secret-session"}} {
		_, err := clientFor(ts, c.id, c.secret, "token-2").PutRecord(context.Background(), &firehose.PutRecordInput{DeliveryStreamName: aws.String("s"), Record: &types.Record{Data: []byte("x")}})
		answers = append(answers, errString(err))
		out, err := clientFor(ts, c.id, c.secret, "").DescribeDeliveryStream(context.Background(), &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("s")})
		answers = append(answers, fmt.Sprintf("%+v %v", out, err))
	}
	for _, path := range []string{"/console/api/streams", "/console/api/streams/s", "/metrics"} {
		answers = append(answers, readAll(signedDo(t, "GET", ts.url+path, "", "", "", "", time.Now())))
	}
	all := logs.String() + strings.Join(answers, "\n")
	for _, s := range secrets {
		if strings.Contains(all, s) {
			t.Errorf("secret %q appears in a log line or an answer", s)
		}
	}
	if !strings.Contains(logs.String(), "request refused") {
		t.Error("no refusal was logged: the test did not exercise the refusals")
	}
}
