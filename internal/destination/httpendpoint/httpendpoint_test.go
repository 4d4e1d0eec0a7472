package httpendpoint_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hydrant-dev/hydrant/internal/destination"
	"github.com/hydrant-dev/hydrant/internal/destination/httpendpoint"
	"github.com/hydrant-dev/hydrant/internal/destination/httpendpoint/receivertest"
)

const (
	testARN = "arn:aws:firehose:us-east-1:000000000000:deliverystream/web"
	testID  = "0f8e2c4a-8d3b-4c55-9d7e-1a2b3c4d5e6f"
)

var fixed = time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)

func client(tb testing.TB, o httpendpoint.Options) *httpendpoint.Client {
	tb.Helper()
	c, err := httpendpoint.NewClient(o, func() time.Time { return fixed })
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return c
}

func endpoint(tb testing.TB, c *httpendpoint.Client, cfg httpendpoint.Config) *httpendpoint.Endpoint {
	tb.Helper()
	e, err := c.Endpoint(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// TestSendRequest checks the request against the strict receiver: headers, body, gzip, the
// URL's path and query verbatim, common attributes, the access key.
func TestSendRequest(t *testing.T) {
	for _, tc := range []struct {
		name string
		gzip bool
		key  string
	}{
		{name: "none"},
		{name: "gzip", gzip: true},
		{name: "access key", key: "s3cr3t/key+="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := receivertest.Start(t, receivertest.Options{TLS: true, AccessKey: tc.key})
			c := client(t, httpendpoint.Options{CAFile: rc.CAFile(t, t.TempDir())})
			e := endpoint(t, c, httpendpoint.Config{
				URL: rc.URL + "/v1/input?token=a%2Fb&x=1", AccessKey: tc.key, GZIP: tc.gzip, SourceARN: testARN,
				CommonAttributes: []httpendpoint.Attribute{{Name: "env", Value: "prod"}, {Name: "team", Value: "data \"eng\""}},
			})
			records := [][]byte{[]byte("one\n"), {}, []byte{0, 1, 2, 255}}
			if err := e.Send(context.Background(), testID, records); err != nil {
				t.Fatal(err)
			}
			reqs := rc.Requests()
			if len(reqs) != 1 {
				t.Fatalf("requests = %d, want 1", len(reqs))
			}
			q := reqs[0]
			if q.Problem != "" {
				t.Fatalf("receiver refused the request: %s", q.Problem)
			}
			got := map[string]any{
				"path": q.Path, "id": q.RequestID, "gzip": q.Gzip, "ts": q.Timestamp, "records": q.Records, "attrs": q.CommonAttributes,
				"arn": q.Header.Get("X-Amz-Firehose-Source-Arn"), "version": q.Header.Get("X-Amz-Firehose-Protocol-Version"),
				"key": q.Header.Get("X-Amz-Firehose-Access-Key"), "ct": q.Header.Get("Content-Type"), "ce": q.Header.Get("Content-Encoding"),
				"hasKey": len(q.Header.Values("X-Amz-Firehose-Access-Key")) > 0,
			}
			ce := ""
			if tc.gzip {
				ce = "gzip"
			}
			want := map[string]any{
				"path": "/v1/input?token=a%2Fb&x=1", "id": testID, "gzip": tc.gzip, "ts": fixed.UnixMilli(), "records": records,
				"attrs": map[string]string{"env": "prod", "team": "data \"eng\""}, "arn": testARN, "version": "1.0",
				"key": tc.key, "ct": "application/json", "ce": ce, "hasKey": tc.key != "",
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("request (-want +got):\n%s", d)
			}
		})
	}
}

// TestSendFailures checks how every failure is classified and coded.
func TestSendFailures(t *testing.T) {
	for _, tc := range []struct {
		name      string
		reply     receivertest.Reply
		key       string // the receiver's
		code      string
		permanent bool
		inMessage string
	}{
		{name: "413", reply: receivertest.Reply{Status: 413}, code: httpendpoint.CodeDestinationError, permanent: true, inMessage: "413"},
		{name: "500 with message", reply: receivertest.Reply{Status: 500, ErrorMessage: "disk full"}, code: httpendpoint.CodeDestinationError, inMessage: "500: disk full"},
		{name: "503", reply: receivertest.Reply{Status: 503}, code: httpendpoint.CodeDestinationError, inMessage: "503"},
		{name: "redirect not followed", reply: receivertest.Reply{Status: 307}, code: httpendpoint.CodeDestinationError, inMessage: "307"},
		{name: "wrong key 401", key: "other", code: httpendpoint.CodeDestinationError, inMessage: "401"},
		{name: "mismatched id", reply: receivertest.Reply{RequestID: "another"}, code: httpendpoint.CodeInvalidResponse, inMessage: "does not match"},
		{name: "malformed", reply: receivertest.Reply{Body: "OK"}, code: httpendpoint.CodeInvalidResponse, inMessage: "not a JSON object"},
		{name: "timeout", reply: receivertest.Reply{Delay: 2 * time.Second}, code: httpendpoint.CodeRequestTimeout, inMessage: "did not answer"},
		{name: "answer over 1 MiB", reply: receivertest.Reply{Body: strings.Repeat(" ", httpendpoint.MaxResponseBytes) + "{}"}, code: httpendpoint.CodeResponseTooLarge, inMessage: "over 1048576 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := receivertest.Start(t, receivertest.Options{AccessKey: tc.key, Script: func(*receivertest.Request) receivertest.Reply { return tc.reply }})
			c := client(t, httpendpoint.Options{AllowPlainHTTP: true, Timeout: 300 * time.Millisecond})
			e := endpoint(t, c, httpendpoint.Config{URL: rc.URL, AccessKey: "mine", SourceARN: testARN})
			err := e.Send(context.Background(), testID, [][]byte{[]byte("x")})
			var he *httpendpoint.Error
			if !errors.As(err, &he) {
				t.Fatalf("Send = %v, want *httpendpoint.Error", err)
			}
			got := []any{he.Code, destination.IsPermanent(err), strings.Contains(he.Message, tc.inMessage), he.RequestID}
			if d := cmp.Diff([]any{tc.code, tc.permanent, true, testID}, got); d != "" {
				t.Errorf("(-want +got):\n%s\nmessage: %s", d, he.Message)
			}
		})
	}
}

func TestSendConnection(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := client(t, httpendpoint.Options{AllowPlainHTTP: true, Timeout: time.Second})
	e := endpoint(t, c, httpendpoint.Config{URL: "http://" + addr + "/", SourceARN: testARN})
	err = e.Send(context.Background(), testID, nil)
	var he *httpendpoint.Error
	if !errors.As(err, &he) || he.Code != httpendpoint.CodeConnectionFailed || destination.IsPermanent(err) {
		t.Fatalf("Send to a closed port = %v, want a transient %s", err, httpendpoint.CodeConnectionFailed)
	}

	// A TLS receiver whose certificate is not trusted: ConnectionFailed.
	rc := receivertest.Start(t, receivertest.Options{TLS: true})
	e = endpoint(t, client(t, httpendpoint.Options{}), httpendpoint.Config{URL: rc.URL, SourceARN: testARN})
	err = e.Send(context.Background(), testID, nil)
	if !errors.As(err, &he) || he.Code != httpendpoint.CodeConnectionFailed {
		t.Fatalf("Send to an untrusted certificate = %v, want %s", err, httpendpoint.CodeConnectionFailed)
	}

	// A connection closed without an answer: ConnectionReset.
	hj := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	srv := &http.Server{Handler: hj}
	l, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	e = endpoint(t, c, httpendpoint.Config{URL: "http://" + l.Addr().String(), SourceARN: testARN})
	err = e.Send(context.Background(), testID, [][]byte{[]byte("x")})
	if !errors.As(err, &he) || he.Code != httpendpoint.CodeConnectionReset {
		t.Fatalf("Send to a closed connection = %v, want %s", err, httpendpoint.CodeConnectionReset)
	}

	// The caller's context ends: its error, not a delivery failure.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.Send(ctx, testID, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send with a cancelled context = %v", err)
	}
}

func TestCheckURL(t *testing.T) {
	for _, tc := range []struct {
		url   string
		plain bool
		want  error
	}{
		{"https://example.com:8443/path?q=1", false, nil},
		{"http://127.0.0.1:8080/", false, httpendpoint.ErrPlainHTTP},
		{"http://127.0.0.1:8080/", true, nil},
		{"ftp://example.com/", true, httpendpoint.ErrInvalidURL},
		{"https:///nohost", false, httpendpoint.ErrInvalidURL},
		{"://bad", false, httpendpoint.ErrInvalidURL},
	} {
		err := httpendpoint.CheckURL(tc.url, tc.plain)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("CheckURL(%q, %v) = %v, want %v", tc.url, tc.plain, err, tc.want)
		}
	}
	c := client(t, httpendpoint.Options{})
	if _, err := c.Endpoint(httpendpoint.Config{URL: "http://127.0.0.1/"}); !errors.Is(err, httpendpoint.ErrPlainHTTP) {
		t.Errorf("Endpoint(http://) without AllowPlainHTTP = %v, want ErrPlainHTTP", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		o    httpendpoint.Options
		want string
	}{
		{httpendpoint.Options{}, ""},
		{httpendpoint.Options{Timeout: time.Second}, ""},
		{httpendpoint.Options{Timeout: -1}, "requestTimeout"},
		{httpendpoint.Options{Timeout: 16 * time.Minute}, "at most 15m0s"},
		{httpendpoint.Options{CAFile: "/nonexistent/ca.pem"}, "caFile"},
	} {
		err := tc.o.Validate()
		if got := ""; err != nil {
			got = err.Error()
			if tc.want == "" || !strings.Contains(got, tc.want) {
				t.Errorf("Validate(%+v) = %q, want %q", tc.o, got, tc.want)
			}
		} else if tc.want != "" {
			t.Errorf("Validate(%+v) = nil, want %q", tc.o, tc.want)
		}
	}
}

func TestParseResponse(t *testing.T) {
	for _, tc := range []struct {
		body string
		want httpendpoint.Response
		ok   bool
	}{
		{`{"requestId":"id","timestamp":1700000000000}`, httpendpoint.Response{RequestID: "id", Timestamp: 1700000000000}, true},
		{`{"requestId":"id"}`, httpendpoint.Response{RequestID: "id"}, true},
		{` {"requestId":"id","timestamp":1,"errorMessage":"x","extra":[1]} `, httpendpoint.Response{RequestID: "id", Timestamp: 1, ErrorMessage: "x"}, true},
		{`{"requestId":"other","timestamp":1}`, httpendpoint.Response{RequestID: "other", Timestamp: 0}, false},
		{`{"timestamp":1}`, httpendpoint.Response{}, false},
		{`{"requestId":1}`, httpendpoint.Response{}, false},
		{`{"requestId":"id","timestamp":"now"}`, httpendpoint.Response{RequestID: "id"}, false},
		{`null`, httpendpoint.Response{}, false},
		{``, httpendpoint.Response{}, false},
		{`{"requestId":"id"}{}`, httpendpoint.Response{}, false},
		{`[]`, httpendpoint.Response{}, false},
	} {
		got, err := httpendpoint.ParseResponse([]byte(tc.body), "id")
		if (err == nil) != tc.ok {
			t.Errorf("ParseResponse(%q) error = %v, want ok %v", tc.body, err, tc.ok)
		}
		if tc.ok {
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("ParseResponse(%q) (-want +got):\n%s", tc.body, d)
			}
		}
	}
}

func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{`{"requestId":"id","timestamp":1}`, `{"requestId":"id","errorMessage":"e"}`, `{}`, `null`, `[`, `{"requestId":"\u0069d"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := httpendpoint.ParseResponse(body, "id")
		if err == nil && r.RequestID != "id" {
			t.Fatalf("accepted requestId %q", r.RequestID)
		}
	})
}
