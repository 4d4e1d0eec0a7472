package emulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/google/go-cmp/cmp"

	"github.com/hydrant-dev/hydrant/examples/lambda/emulator"
)

type echoIn struct {
	N int `json:"n"`
}

type echoOut struct {
	N        int    `json:"n"`
	Function string `json:"function"`
}

func echo(ctx context.Context, in echoIn) (echoOut, error) {
	lc, _ := lambdacontext.FromContext(ctx)
	return echoOut{N: in.N, Function: lc.InvokedFunctionArn}, nil
}

func startServer(t testing.TB) *httptest.Server {
	t.Helper()
	s, err := emulator.NewServer(map[string]any{
		"Echo":        echo,
		"AlwaysFails": emulator.AlwaysFails,
		"Garbage":     emulator.Garbage,
		"Panics":      func(context.Context) error { panic("boom") },
		"Big":         func(context.Context) (string, error) { return strings.Repeat("x", emulator.MaxPayloadBytes), nil },
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv
}

type response struct {
	Status        int
	FunctionError string
	ErrorType     string
	Body          string
}

func post(t testing.TB, url, invocationType string, body []byte) response {
	t.Helper()
	r, err := do(url, invocationType, body)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func do(url, invocationType string, body []byte) (response, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return response{}, err
	}
	if invocationType != "" {
		req.Header.Set("X-Amz-Invocation-Type", invocationType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	return response{resp.StatusCode, resp.Header.Get("X-Amz-Function-Error"), resp.Header.Get("X-Amzn-Errortype"), string(b)}, nil
}

func TestServer(t *testing.T) {
	srv := startServer(t)
	path := func(fn string) string { return srv.URL + "/2015-03-31/functions/" + fn + "/invocations" }
	tests := []struct {
		name           string
		url            string
		invocationType string
		body           string
		want           response
	}{
		{"by name", path("Echo"), "RequestResponse", `{"n":1}`,
			response{Status: 200, Body: `{"n":1,"function":"Echo"}`}},
		{"by qualified ARN, escaped", path("arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3AEcho%3A1"), "", `{"n":2}`,
			response{Status: 200, Body: `{"n":2,"function":"arn:aws:lambda:us-east-1:123456789012:function:Echo:1"}`}},
		{"by ARN, unescaped", path("arn:aws:lambda:eu-west-1:123456789012:function:Echo"), "", `{"n":3}`,
			response{Status: 200, Body: `{"n":3,"function":"arn:aws:lambda:eu-west-1:123456789012:function:Echo"}`}},
		{"by partial ARN with alias", path("123456789012:function:Echo:live"), "", `{"n":4}`,
			response{Status: 200, Body: `{"n":4,"function":"123456789012:function:Echo:live"}`}},
		{"unknown function", path("arn:aws:lambda:us-east-1:123456789012:function:Nope"), "", `{}`,
			response{Status: 404, ErrorType: "ResourceNotFoundException",
				Body: `{"Type":"User","message":"Function not found: arn:aws:lambda:us-east-1:123456789012:function:Nope"}`}},
		{"handler error", path("AlwaysFails"), "", `{}`,
			response{Status: 200, FunctionError: "Unhandled", Body: `{"errorMessage":"AlwaysFails: this function always fails","errorType":"errorString"}`}},
		{"handler panic", path("Panics"), "", `{}`,
			response{Status: 200, FunctionError: "Unhandled", Body: `{"errorMessage":"boom","errorType":"string"}`}},
		{"undecodable event", path("Echo"), "", `[1]`,
			response{Status: 200, FunctionError: "Unhandled", Body: `{"errorMessage":"json: cannot unmarshal array into Go value of type emulator_test.echoIn","errorType":"UnmarshalTypeError"}`}},
		{"garbage result", path("Garbage"), "", `{}`,
			response{Status: 200, Body: `this is not a Firehose response`}},
		{"oversized result", path("Big"), "", `{}`,
			response{Status: 200, FunctionError: "Unhandled", Body: fmt.Sprintf(`{"errorMessage":"Response payload size exceeded maximum allowed payload size (%d bytes).","errorType":"Function.ResponseSizeTooLarge"}`, emulator.MaxPayloadBytes)}},
		{"dry run", path("Echo"), "DryRun", `{}`, response{Status: 204}},
		{"event invocation refused", path("Echo"), "Event", `{}`,
			response{Status: 400, ErrorType: "InvalidParameterValueException", Body: `{"Type":"User","message":"emulator supports only RequestResponse and DryRun invocations, not Event"}`}},
		{"oversized request", path("Echo"), "", strings.Repeat(" ", emulator.MaxPayloadBytes+1),
			response{Status: 413, ErrorType: "RequestTooLargeException", Body: fmt.Sprintf(`{"Type":"User","message":"Request must be smaller than %d bytes for the InvokeFunction operation"}`, emulator.MaxPayloadBytes)}},
		{"unknown operation", srv.URL + "/2015-03-31/functions", "", `{}`,
			response{Status: 404, ErrorType: "UnknownOperationException", Body: `{"Type":"User","message":"Unknown operation POST /2015-03-31/functions"}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := post(t, tt.url, tt.invocationType, []byte(tt.body))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestServerConcurrent runs more parallel invocations than execution environments; run with
// -race, it proves results are copied out of aws-lambda-go's pooled buffers.
func TestServerConcurrent(t *testing.T) {
	srv := startServer(t)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for n := range 64 {
		wg.Go(func() {
			got, err := do(srv.URL+"/2015-03-31/functions/Echo/invocations", "", fmt.Appendf(nil, `{"n":%d}`, n))
			if err != nil {
				errs <- err
				return
			}
			var out echoOut
			if err := json.Unmarshal([]byte(got.Body), &out); err != nil || out.N != n {
				errs <- errors.Join(err, fmt.Errorf("invocation %d: got %s", n, got.Body))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestNewServerRefuses(t *testing.T) {
	for name, handlers := range map[string]map[string]any{
		"bad name":    {"has space": echo},
		"not a func":  {"Echo": 42},
		"nil handler": {"Echo": nil},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := emulator.NewServer(handlers, nil); err == nil {
				t.Errorf("NewServer(%v) = nil error", handlers)
			}
		})
	}
}
