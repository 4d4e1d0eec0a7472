// Package emulator serves the Lambda Invoke API (POST /2015-03-31/functions/{name}/invocations)
// for Go handlers registered in-process, through aws-lambda-go's handler adapter: the same
// JSON decoding, encoding and error shapes a function gets on AWS Lambda. It is for local runs
// (examples/lambda/runner) and for tests, which start it on a random port with httptest; it
// checks no signature.
package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"regexp"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/google/uuid"
)

// MaxPayloadBytes is the largest request and response of a synchronous invocation.
const MaxPayloadBytes = 6 << 20

// Concurrency is the number of execution environments per function: invocations beyond it
// wait. aws-lambda-go's Handler.Invoke returns a slice of a pooled buffer, so one handler
// instance must not run two invocations at once; each environment has its own instance.
const Concurrency = 4

var functionName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// Server is an http.Handler serving the Invoke API for its registered functions.
type Server struct {
	log       *slog.Logger
	mux       *http.ServeMux
	functions map[string]chan lambda.Handler
}

// NewServer returns a Server for handlers, keyed by function name. A handler is any function
// lambda.Start accepts (for example func(context.Context, events.KinesisFirehoseEvent)
// (events.KinesisFirehoseResponse, error)). A nil log discards.
func NewServer(handlers map[string]any, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{log: log, mux: http.NewServeMux(), functions: make(map[string]chan lambda.Handler, len(handlers))}
	for name, h := range handlers {
		if !functionName.MatchString(name) {
			return nil, fmt.Errorf("emulator: function name %q must be 1..64 of [a-zA-Z0-9-_]", name)
		}
		if h == nil || reflect.TypeOf(h).Kind() != reflect.Func {
			return nil, fmt.Errorf("emulator: handler of %s is %T, not a function", name, h)
		}
		envs := make(chan lambda.Handler, Concurrency)
		for range Concurrency {
			envs <- lambda.NewHandler(h)
		}
		s.functions[name] = envs
	}
	s.mux.HandleFunc("POST /2015-03-31/functions/{function}/invocations", s.invoke)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "UnknownOperationException", "Unknown operation "+r.Method+" "+r.URL.Path)
	})
	return s, nil
}

// ServeHTTP serves the Invoke API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// resolve returns the function name and qualifier of a FunctionName path parameter: a name,
// name:qualifier, or a (partial) ARN ending in :function:name[:qualifier].
func resolve(ref string) (name, qualifier string) {
	if i := strings.LastIndex(ref, ":function:"); i >= 0 {
		ref = ref[i+len(":function:"):]
	}
	name, qualifier, _ = strings.Cut(ref, ":")
	return name, qualifier
}

func (s *Server) invoke(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("function")
	name, qualifier := resolve(ref)
	envs, ok := s.functions[name]
	if !ok {
		writeError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+ref)
		return
	}
	switch typ := r.Header.Get("X-Amz-Invocation-Type"); typ {
	case "", "RequestResponse":
	case "DryRun":
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		writeError(w, http.StatusBadRequest, "InvalidParameterValueException",
			"emulator supports only RequestResponse and DryRun invocations, not "+typ)
		return
	}
	payload, err := io.ReadAll(io.LimitReader(r.Body, MaxPayloadBytes+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidRequestContentException", "read request: "+err.Error())
		return
	}
	if len(payload) > MaxPayloadBytes {
		writeError(w, http.StatusRequestEntityTooLarge, "RequestTooLargeException",
			fmt.Sprintf("Request must be smaller than %d bytes for the InvokeFunction operation", MaxPayloadBytes))
		return
	}
	requestID := uuid.NewString()
	ctx := lambdacontext.NewContext(r.Context(), &lambdacontext.LambdaContext{AwsRequestID: requestID, InvokedFunctionArn: ref})
	var env lambda.Handler
	select {
	case env = <-envs:
	case <-ctx.Done():
		return
	}
	out, ferr := call(ctx, env, payload)
	envs <- env
	if ferr == nil && len(out) > MaxPayloadBytes {
		ferr = &messages.InvokeResponse_Error{Type: "Function.ResponseSizeTooLarge",
			Message: fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", MaxPayloadBytes)}
	}
	h := w.Header()
	h.Set("X-Amzn-Requestid", requestID)
	h.Set("X-Amz-Executed-Version", "$LATEST")
	if qualifier != "" {
		h.Set("X-Amz-Executed-Version", qualifier)
	}
	h.Set("Content-Type", "application/json")
	if ferr != nil {
		s.log.Info("emulator: function error", "function", name, "request_id", requestID, "err", ferr.Message)
		body, _ := json.Marshal(ferr)
		h.Set("X-Amz-Function-Error", "Unhandled")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
		return
	}
	s.log.Debug("emulator: invoked", "function", name, "request_id", requestID, "bytes_in", len(payload), "bytes_out", len(out))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

// call runs one invocation, turning a returned error or a panic into the runtime's error
// shape, and copies the result out of the handler's pooled buffer.
func call(ctx context.Context, h lambda.Handler, payload []byte) (out []byte, ferr *messages.InvokeResponse_Error) {
	defer func() {
		if v := recover(); v != nil {
			out, ferr = nil, &messages.InvokeResponse_Error{Message: fmt.Sprint(v), Type: typeName(v)}
		}
	}()
	res, err := h.Invoke(ctx, payload)
	if err != nil {
		var ive messages.InvokeResponse_Error
		if errors.As(err, &ive) {
			return nil, &ive
		}
		return nil, &messages.InvokeResponse_Error{Message: err.Error(), Type: typeName(err)}
	}
	return append([]byte(nil), res...), nil
}

// typeName is the errorType the Go runtime reports: the name of the value's type, without
// the pointer.
func typeName(v any) string {
	t := reflect.TypeOf(v)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

// writeError writes an Invoke API error: the exception name in x-amzn-ErrorType and a JSON body.
func writeError(w http.ResponseWriter, status int, code, message string) {
	body, _ := json.Marshal(map[string]string{"Type": "User", "message": message})
	w.Header().Set("X-Amzn-Errortype", code)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// AlwaysFails is a handler that fails every invocation, for tests of the failure path: the
// Invoke API answers 200 with X-Amz-Function-Error: Unhandled.
func AlwaysFails(context.Context, json.RawMessage) (json.RawMessage, error) {
	return nil, errors.New("AlwaysFails: this function always fails")
}

// Garbage is a handler whose result is not JSON, for tests of a processor's response
// checking (Firehose's Lambda.JsonProcessingException).
func Garbage(context.Context, json.RawMessage) (io.Reader, error) {
	return strings.NewReader("this is not a Firehose response"), nil
}
