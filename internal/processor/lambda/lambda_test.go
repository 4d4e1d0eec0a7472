package lambda_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/hydrant-dev/hydrant/internal/processor"
	"github.com/hydrant-dev/hydrant/internal/processor/lambda"
)

const (
	testKeyID  = "AKIDTESTHYDRANT"
	testSecret = "hydrant-test-secret"
	testToken  = "hydrant-test-token"
	qualified  = "arn:aws:lambda:eu-west-1:123456789012:function:MetadataExtractor:1"
)

// captured is what a test server saw of one request.
type captured struct {
	Method, EscapedPath string
	Header              http.Header
	Body                []byte
	req                 *http.Request
}

// newServer starts a server on 127.0.0.1 that records each request and answers with h.
func newServer(t testing.TB, h http.HandlerFunc) (*httptest.Server, <-chan captured) {
	t.Helper()
	reqs := make(chan captured, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		reqs <- captured{r.Method, r.URL.EscapedPath(), r.Header.Clone(), body, r}
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, reqs
}

func newInvoker(t testing.TB, cfg lambda.Config) *lambda.Invoker {
	t.Helper()
	inv, err := lambda.New(context.Background(), cfg, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return inv
}

func reply(status int, header map[string]string, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// verifySignature recomputes the SigV4 signature of r with the same signer, credentials,
// region and time, over the headers r says it signed, and compares the Authorization headers.
func verifySignature(t testing.TB, c captured, region string, creds aws.Credentials) {
	t.Helper()
	auth := c.Header.Get("Authorization")
	wantPrefix := "AWS4-HMAC-SHA256 Credential=" + creds.AccessKeyID + "/"
	if !strings.HasPrefix(auth, wantPrefix) {
		t.Fatalf("Authorization = %q, want prefix %q", auth, wantPrefix)
	}
	signed := ""
	for _, part := range strings.Split(strings.TrimPrefix(auth, "AWS4-HMAC-SHA256 "), ", ") {
		if v, ok := strings.CutPrefix(part, "SignedHeaders="); ok {
			signed = v
		}
		if v, ok := strings.CutPrefix(part, "Credential="); ok {
			if scope := strings.SplitN(v, "/", 3)[2]; scope != region+"/lambda/aws4_request" {
				t.Errorf("credential scope = %q, want %q", scope, region+"/lambda/aws4_request")
			}
		}
	}
	for _, h := range []string{"host", "x-amz-date", "x-amz-invocation-type"} {
		if !strings.Contains(";"+signed+";", ";"+h+";") {
			t.Errorf("SignedHeaders %q lacks %s", signed, h)
		}
	}
	when, err := time.Parse("20060102T150405Z", c.Header.Get("X-Amz-Date"))
	if err != nil {
		t.Fatalf("X-Amz-Date: %v", err)
	}
	req, err := http.NewRequest(c.Method, "http://"+c.req.Host+c.EscapedPath, bytes.NewReader(c.Body))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range strings.Split(signed, ";") {
		if h != "host" && h != "content-length" {
			req.Header[http.CanonicalHeaderKey(h)] = c.Header.Values(h)
		}
	}
	sum := sha256.Sum256(c.Body)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "lambda", region, when); err != nil {
		t.Fatal(err)
	}
	if got, want := auth, req.Header.Get("Authorization"); got != want {
		t.Errorf("signature does not verify:\n got  %s\n want %s", got, want)
	}
}

func TestInvokeAPIRequest(t *testing.T) {
	creds := aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret, SessionToken: testToken}
	tests := []struct {
		name, fn, region string
		wantPath         string
		wantRegion       string
	}{
		{"qualified ARN keeps its qualifier and region", qualified, "us-east-1",
			"/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-1%3A123456789012%3Afunction%3AMetadataExtractor%3A1/invocations", "eu-west-1"},
		{"unqualified ARN", "arn:aws:lambda:ap-south-1:123456789012:function:f", "",
			"/2015-03-31/functions/arn%3Aaws%3Alambda%3Aap-south-1%3A123456789012%3Afunction%3Af/invocations", "ap-south-1"},
		{"name signs with Config.Region", "MetadataExtractor", "eu-central-1",
			"/2015-03-31/functions/MetadataExtractor/invocations", "eu-central-1"},
		{"name with $LATEST", "MetadataExtractor:$LATEST", "eu-central-1",
			"/2015-03-31/functions/MetadataExtractor%3A%24LATEST/invocations", "eu-central-1"},
		{"partial ARN", "123456789012:function:f:live", "sa-east-1",
			"/2015-03-31/functions/123456789012%3Afunction%3Af%3Alive/invocations", "sa-east-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, reqs := newServer(t, reply(200, nil, `{"records":[]}`))
			inv := newInvoker(t, lambda.Config{Endpoint: srv.URL + "/", Region: tt.region,
				AccessKeyID: testKeyID, SecretAccessKey: testSecret, SessionToken: testToken})
			payload := []byte(`{"invocationId":"i","records":[]}`)
			out, err := inv.Invoke(context.Background(), tt.fn, payload)
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			if string(out) != `{"records":[]}` {
				t.Errorf("result = %s", out)
			}
			c := <-reqs
			got := map[string]string{
				"method": c.Method, "path": c.EscapedPath, "body": string(c.Body),
				"invocation type": c.Header.Get("X-Amz-Invocation-Type"),
				"content type":    c.Header.Get("Content-Type"),
				"token":           c.Header.Get("X-Amz-Security-Token"),
			}
			want := map[string]string{
				"method": "POST", "path": tt.wantPath, "body": string(payload),
				"invocation type": "RequestResponse", "content type": "application/json", "token": testToken,
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("request mismatch (-want +got):\n%s", diff)
			}
			verifySignature(t, c, tt.wantRegion, creds)
		})
	}
}

func TestInvokeAnonymous(t *testing.T) {
	srv, reqs := newServer(t, reply(200, nil, `{}`))
	inv := newInvoker(t, lambda.Config{Endpoint: srv.URL, Region: "us-east-1", Anonymous: true})
	if _, err := inv.Invoke(context.Background(), qualified, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if c := <-reqs; c.Header.Get("Authorization") != "" || c.Header.Get("X-Amz-Date") != "" {
		t.Errorf("anonymous request carries a signature: %v", c.Header)
	}
}

// TestInvokeStandardChain resolves credentials from the environment, as the SDK's chain does.
func TestInvokeStandardChain(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", dir+"/config")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", dir+"/credentials")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret-from-env")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_REGION", "eu-north-1")
	srv, reqs := newServer(t, reply(200, nil, `{}`))
	inv := newInvoker(t, lambda.Config{Endpoint: srv.URL})
	if _, err := inv.Invoke(context.Background(), "MetadataExtractor", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	verifySignature(t, <-reqs, "eu-north-1", aws.Credentials{AccessKeyID: "AKIDFROMENV", SecretAccessKey: "secret-from-env"})
}

func TestInvokeErrors(t *testing.T) {
	tests := []struct {
		name          string
		handler       http.HandlerFunc
		wantFunction  *lambda.FunctionError
		wantInvoke    *lambda.InvokeError
		wantIs        error
		wantRetryable bool
		wantCode      string // the Firehose errorCode of a wrapping *processor.InvokeError
	}{
		{
			name: "function error",
			handler: reply(200, map[string]string{"X-Amz-Function-Error": "Unhandled"},
				`{"errorMessage":"boom","errorType":"errorString"}`),
			wantFunction: &lambda.FunctionError{Function: qualified, Type: "Unhandled", ErrorType: "errorString", Message: "boom",
				Payload: []byte(`{"errorMessage":"boom","errorType":"errorString"}`)},
			wantRetryable: true,
			wantCode:      processor.CodeLambdaFunctionError,
		},
		{
			name: "function timeout reported by Lambda",
			handler: reply(200, map[string]string{"X-Amz-Function-Error": "Unhandled"},
				`{"errorMessage":"2024-01-01T00:00:00.000Z 7d2c Task timed out after 3.00 seconds"}`),
			wantFunction: &lambda.FunctionError{Function: qualified, Type: "Unhandled",
				Message: "2024-01-01T00:00:00.000Z 7d2c Task timed out after 3.00 seconds",
				Payload: []byte(`{"errorMessage":"2024-01-01T00:00:00.000Z 7d2c Task timed out after 3.00 seconds"}`)},
			wantRetryable: true,
			wantCode:      processor.CodeLambdaFunctionError,
		},
		{
			name: "throttled 429",
			handler: reply(429, map[string]string{"X-Amzn-Errortype": "TooManyRequestsException:http://internal.amazon.com/coral/com.amazonaws.awsgirapi/",
				"X-Amzn-Requestid": "req-1", "Retry-After": "2"},
				`{"Reason":"ConcurrentInvocationLimitExceeded","Type":"User","message":"Rate Exceeded."}`),
			wantInvoke: &lambda.InvokeError{Function: qualified, Status: 429, Code: "TooManyRequestsException", Message: "Rate Exceeded.",
				Reason: "ConcurrentInvocationLimitExceeded", RequestID: "req-1", RetryAfter: 2 * time.Second},
			wantRetryable: true,
			wantCode:      processor.CodeLambdaInvokeLimitExceeded,
		},
		{
			name:          "service error 500",
			handler:       reply(500, map[string]string{"X-Amzn-Errortype": "ServiceException"}, `{"Type":"Service","message":"internal"}`),
			wantInvoke:    &lambda.InvokeError{Function: qualified, Status: 500, Code: "ServiceException", Message: "internal"},
			wantRetryable: true,
		},
		{
			name:          "502 without JSON",
			handler:       reply(502, nil, "<html>Bad Gateway</html>"),
			wantInvoke:    &lambda.InvokeError{Function: qualified, Status: 502, Message: "<html>Bad Gateway</html>"},
			wantRetryable: true,
		},
		{
			name:       "function not found",
			handler:    reply(404, map[string]string{"X-Amzn-Errortype": "ResourceNotFoundException"}, `{"Type":"User","message":"Function not found: x"}`),
			wantInvoke: &lambda.InvokeError{Function: qualified, Status: 404, Code: "ResourceNotFoundException", Message: "Function not found: x"},
		},
		{
			name:          "function being updated",
			handler:       reply(409, nil, `{"__type":"com.amazonaws.lambda#ResourceConflictException","Message":"The operation cannot be performed at this time."}`),
			wantInvoke:    &lambda.InvokeError{Function: qualified, Status: 409, Code: "ResourceConflictException", Message: "The operation cannot be performed at this time."},
			wantRetryable: true,
		},
		{
			name:       "access denied",
			handler:    reply(403, map[string]string{"X-Amzn-Errortype": "AccessDeniedException"}, `{"Message":"User is not authorized to perform: lambda:InvokeFunction"}`),
			wantInvoke: &lambda.InvokeError{Function: qualified, Status: 403, Code: "AccessDeniedException", Message: "User is not authorized to perform: lambda:InvokeFunction"},
		},
		{
			name: "oversized response",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write(bytes.Repeat([]byte("x"), lambda.MaxPayloadBytes+1))
			},
			wantIs:   lambda.ErrResponseTooLarge,
			wantCode: processor.CodeLambdaFunctionError,
		},
		{
			name: "oversized response announced by Content-Length",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Length", "7000000")
				_, _ = w.Write([]byte("x"))
			},
			wantIs:   lambda.ErrResponseTooLarge,
			wantCode: processor.CodeLambdaFunctionError,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := newServer(t, tt.handler)
			inv := newInvoker(t, lambda.Config{Endpoint: srv.URL, Anonymous: true})
			out, err := inv.Invoke(context.Background(), qualified, []byte(`{}`))
			if err == nil {
				t.Fatalf("Invoke = %q, nil error", out)
			}
			var fe *lambda.FunctionError
			var ie *lambda.InvokeError
			switch {
			case tt.wantFunction != nil:
				if !errors.As(err, &fe) {
					t.Fatalf("error %v is not a *FunctionError", err)
				}
				if diff := cmp.Diff(tt.wantFunction, fe); diff != "" {
					t.Errorf("FunctionError mismatch (-want +got):\n%s", diff)
				}
			case tt.wantInvoke != nil:
				if !errors.As(err, &ie) {
					t.Fatalf("error %v is not an *InvokeError", err)
				}
				if diff := cmp.Diff(tt.wantInvoke, ie); diff != "" {
					t.Errorf("InvokeError mismatch (-want +got):\n%s", diff)
				}
			default:
				if !errors.Is(err, tt.wantIs) {
					t.Fatalf("error %v is not %v", err, tt.wantIs)
				}
			}
			if got := lambda.Retryable(err); got != tt.wantRetryable {
				t.Errorf("Retryable(%v) = %t, want %t", err, got, tt.wantRetryable)
			}
			var pe *processor.InvokeError
			gotCode := ""
			if errors.As(err, &pe) {
				gotCode = pe.Code
			}
			if gotCode != tt.wantCode {
				t.Errorf("processor.InvokeError code = %q, want %q (error %v)", gotCode, tt.wantCode, err)
			}
		})
	}
}

func TestInvokeTimeout(t *testing.T) {
	release := make(chan struct{})
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) }) // runs before srv.Close, which waits for the handler
	inv := newInvoker(t, lambda.Config{Endpoint: srv.URL, Anonymous: true, Timeout: 50 * time.Millisecond})
	start := time.Now()
	_, err := inv.Invoke(context.Background(), qualified, []byte(`{}`))
	if !errors.Is(err, lambda.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Invoke error = %v, want ErrTimeout wrapping context.DeadlineExceeded", err)
	}
	if !lambda.Retryable(err) {
		t.Errorf("Retryable(%v) = false", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Invoke returned after %s", d)
	}

	// The caller's own cancellation is not a timeout and not retryable.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = inv.Invoke(ctx, qualified, []byte(`{}`))
	if errors.Is(err, lambda.ErrTimeout) || !errors.Is(err, context.Canceled) || lambda.Retryable(err) {
		t.Errorf("cancelled Invoke error = %v (retryable %t), want context.Canceled, not retryable", err, lambda.Retryable(err))
	}
}

func TestInvokeNetworkError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	inv := newInvoker(t, lambda.Config{Endpoint: url, Anonymous: true})
	_, err := inv.Invoke(context.Background(), qualified, []byte(`{}`))
	var ie *lambda.InvokeError
	if err == nil || errors.As(err, &ie) || !lambda.Retryable(err) {
		t.Errorf("Invoke error = %v, want a retryable network error", err)
	}
}

func TestInvokeRefusesBeforeSending(t *testing.T) {
	srv, reqs := newServer(t, reply(200, nil, `{}`))
	inv := newInvoker(t, lambda.Config{Endpoint: srv.URL, Anonymous: true})
	tests := []struct {
		name, fn string
		payload  []byte
		want     error
	}{
		{"request over 6 MB", qualified, make([]byte, lambda.MaxPayloadBytes+1), lambda.ErrRequestTooLarge},
		{"not a function ARN", "arn:aws:s3:::bucket", []byte(`{}`), lambda.ErrInvalidFunction},
		{"name with a slash", "a/b", []byte(`{}`), lambda.ErrInvalidFunction},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := inv.Invoke(context.Background(), tt.fn, tt.payload)
			if !errors.Is(err, tt.want) || lambda.Retryable(err) {
				t.Errorf("Invoke error = %v, want %v, not retryable", err, tt.want)
			}
		})
	}
	select {
	case c := <-reqs:
		t.Errorf("a request was sent: %s %s", c.Method, c.EscapedPath)
	default:
	}
}

func TestFunctionsURLMapping(t *testing.T) {
	plain, plainReqs := newServer(t, reply(200, nil, `plain result`))
	api, apiReqs := newServer(t, reply(200, nil, `api result`))
	tests := []struct {
		name      string
		key, fn   string
		wantPlain bool
	}{
		{"full ARN key", qualified, qualified, true},
		{"unqualified ARN key matches a qualified ARN", "arn:aws:lambda:eu-west-1:123456789012:function:MetadataExtractor", qualified, true},
		{"name:qualifier key", "MetadataExtractor:1", qualified, true},
		{"name key matches any ARN of the name", "MetadataExtractor", qualified, true},
		{"name key matches the name", "MetadataExtractor", "MetadataExtractor", true},
		{"other qualifier is not mapped", "MetadataExtractor:2", qualified, false},
		{"other name is not mapped", "Other", qualified, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInvoker(t, lambda.Config{Endpoint: api.URL, Region: "us-east-1", Anonymous: true,
				Functions: map[string]string{tt.key: plain.URL + "/transform"}})
			out, err := inv.Invoke(context.Background(), tt.fn, []byte(`{"records":[]}`))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.wantPlain {
				if string(out) != "api result" {
					t.Errorf("result = %q, want the Invoke API's", out)
				}
				<-apiReqs
				return
			}
			if string(out) != "plain result" {
				t.Errorf("result = %q, want the plain URL's", out)
			}
			c := <-plainReqs
			got := []string{c.Method, c.EscapedPath, string(c.Body), c.Header.Get("Authorization"), c.Header.Get("X-Amz-Invocation-Type")}
			if diff := cmp.Diff([]string{"POST", "/transform", `{"records":[]}`, "", ""}, got); diff != "" {
				t.Errorf("plain request mismatch (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("plain URL error status", func(t *testing.T) {
		failing, _ := newServer(t, reply(503, nil, "overloaded"))
		inv := newInvoker(t, lambda.Config{Region: "us-east-1", Anonymous: true, Functions: map[string]string{"f": failing.URL}})
		_, err := inv.Invoke(context.Background(), "f", []byte(`{}`))
		var ie *lambda.InvokeError
		if !errors.As(err, &ie) || ie.Status != 503 || ie.Message != "overloaded" || !lambda.Retryable(err) {
			t.Errorf("Invoke error = %#v, want a retryable InvokeError 503", err)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     lambda.Config
		wantErr string // substring; "" = valid
	}{
		{"zero value", lambda.Config{}, ""},
		{"emulator", lambda.Config{Endpoint: "http://127.0.0.1:9001", Anonymous: true, Timeout: time.Minute}, ""},
		{"static keys", lambda.Config{AccessKeyID: "a", SecretAccessKey: "s", SessionToken: "t"}, ""},
		{"functions", lambda.Config{Functions: map[string]string{qualified: "https://x.example/f", "g:live": "http://127.0.0.1:1/"}}, ""},
		{"endpoint not a URL", lambda.Config{Endpoint: "127.0.0.1:9001"}, "Endpoint"},
		{"endpoint ftp", lambda.Config{Endpoint: "ftp://host"}, "Endpoint"},
		{"key without secret", lambda.Config{AccessKeyID: "a"}, "AccessKeyID and SecretAccessKey"},
		{"token without keys", lambda.Config{SessionToken: "t"}, "SessionToken"},
		{"anonymous with keys", lambda.Config{Anonymous: true, AccessKeyID: "a", SecretAccessKey: "s"}, "Anonymous"},
		{"anonymous with profile", lambda.Config{Anonymous: true, Profile: "p"}, "Anonymous"},
		{"negative timeout", lambda.Config{Timeout: -time.Second}, "Timeout"},
		{"timeout over 15m", lambda.Config{Timeout: 16 * time.Minute}, "at most 15m0s"},
		{"function key invalid", lambda.Config{Functions: map[string]string{"a b": "http://x"}}, `Functions key "a b"`},
		{"function URL empty", lambda.Config{Functions: map[string]string{"f": ""}}, `Functions["f"]`},
		{"function URL relative", lambda.Config{Functions: map[string]string{"f": "/path"}}, `Functions["f"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Validate() = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}
