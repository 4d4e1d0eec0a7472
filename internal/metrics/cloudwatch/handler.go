package cloudwatch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/uuid"
)

// Wire constants of the CloudWatch 2010-08-01 API.
const (
	// TargetPrefix is the service name in X-Amz-Target and in the RPC v2 CBOR path.
	TargetPrefix = "GraniteServiceVersion20100801"
	// APIVersion is the query protocol's Version.
	APIVersion = "2010-08-01"
	// XMLNamespace is the namespace of query-protocol responses.
	XMLNamespace = "http://monitoring.amazonaws.com/doc/2010-08-01/"
	// SigningName is the SigV4 service name clients sign CloudWatch requests with.
	SigningName = "monitoring"

	cborPath        = "/service/" + TargetPrefix + "/operation/"
	cborErrorPrefix = "com.amazonaws.cloudwatch#"
	contentJSON     = "application/x-amz-json-1.0"
	contentCBOR     = "application/cbor"
	contentForm     = "application/x-www-form-urlencoded"
	maxBodyBytes    = 1 << 20
)

// protocol is one of the wire protocols CloudWatch clients speak.
type protocol int

const (
	protoQuery protocol = iota
	protoJSON
	protoCBOR
)

// operation binds a decoded request and runs it.
type operation func(h *Handler, ctx context.Context, b *binder, in map[string]any) (object, error)

var operations = map[string]operation{
	"GetMetricStatistics": (*Handler).getMetricStatistics,
	"GetMetricData":       (*Handler).getMetricData,
	"ListMetrics":         (*Handler).listMetrics,
}

// Handler serves the CloudWatch read API over a Source.
type Handler struct {
	src       Source
	log       *slog.Logger
	newID     func() string
	authorize func(ctx context.Context, action string) error // nil: every request is allowed
}

// Option configures a Handler.
type Option func(*Handler)

// WithAuthorizer makes every operation ask a whether the request may do
// "cloudwatch:<Operation>" before it runs; a refusal that carries an AWS code
// (AccessDeniedException) is answered as such in the request's protocol.
func WithAuthorizer(a func(ctx context.Context, action string) error) Option {
	return func(h *Handler) { h.authorize = a }
}

// NewHandler returns a Handler reading metrics from src and logging to log.
func NewHandler(src Source, log *slog.Logger, opts ...Option) *Handler {
	h := &Handler{src: src, log: log, newID: uuid.NewString}
	for _, o := range opts {
		o(h)
	}
	return h
}

// protocolOf returns the protocol r speaks and, but for the query protocol, its operation.
func protocolOf(r *http.Request) (protocol, string) {
	switch {
	case strings.Contains(r.URL.Path, cborPath):
		_, op, _ := strings.Cut(r.URL.Path, cborPath)
		return protoCBOR, op
	case r.Header.Get("X-Amz-Target") != "":
		op, _ := strings.CutPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix+".")
		return protoJSON, op
	}
	return protoQuery, ""
}

// WriteAuthError answers r, refused before it reached the Handler, in its protocol: code is the
// JSON name of an authentication refusal (MissingAuthenticationTokenException,
// UnrecognizedClientException, InvalidSignatureException, IncompleteSignatureException,
// AccessDeniedException), mapped to the query protocol's name where r speaks it.
func WriteAuthError(w http.ResponseWriter, r *http.Request, code, message string) {
	c, ok := authCodes[code]
	if !ok {
		c = CodeInternalServiceError
	}
	proto, _ := protocolOf(r)
	writeError(w, proto, uuid.NewString(), &apiError{code: c, message: message})
}

// Is reports, without reading the body, whether r is meant for CloudWatch: an RPC v2 CBOR path
// of the service, an X-Amz-Target of it, a SigV4 signature scoped to the monitoring service, a
// form body (the query protocol; Firehose never sends one) or a query-string Action.
func Is(r *http.Request) bool {
	return strings.Contains(r.URL.Path, cborPath) || strings.HasPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix+".") ||
		signingService(r.Header.Get("Authorization")) == SigningName || isForm(r) || r.URL.Query().Get("Action") != ""
}

var _ http.Handler = (*Handler)(nil)

// signingService returns the service of a SigV4 Authorization header's credential scope.
func signingService(auth string) string {
	_, cred, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return ""
	}
	cred, _, _ = strings.Cut(cred, ",")
	parts := strings.Split(strings.TrimSpace(cred), "/")
	if len(parts) != 5 {
		return ""
	}
	return parts[3]
}

// isForm reports whether r carries a URL-encoded form body.
func isForm(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == contentForm
}

// peekForm returns the query-protocol parameters of r, from a form body and the URL query,
// restoring the body so that it can be read again.
func peekForm(r *http.Request) (url.Values, error) {
	form := r.URL.Query()
	if !isForm(r) || r.Body == nil || r.Body == http.NoBody {
		return form, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	r.Body = &replayBody{Reader: io.MultiReader(bytes.NewReader(body), r.Body), Closer: r.Body}
	switch {
	case err != nil:
		return nil, fmt.Errorf("read form: %w", err)
	case len(body) > maxBodyBytes:
		return nil, errTooLarge
	}
	bodyForm, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, err
	}
	for k, v := range bodyForm {
		form[k] = append(v, form[k]...)
	}
	return form, nil
}

// errTooLarge is returned for a request body over maxBodyBytes.
var errTooLarge = errors.New("request body too large")

// replayBody is a request body whose first bytes were read and put back.
type replayBody struct {
	io.Reader
	io.Closer
}

// ServeHTTP answers one CloudWatch request in the protocol it arrived in.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := h.newID()
	proto, op := protocolOf(r)
	out, err := h.serve(r, proto, &op)
	log := h.log.With("request_id", reqID, "operation", op)
	var ae *apiError
	switch {
	case err == nil:
		log.Debug("cloudwatch request")
		h.writeResult(w, proto, op, reqID, out)
		return
	case errors.As(err, &ae):
		log.Debug("cloudwatch request refused", "code", ae.code, "err", ae.message)
	default:
		log.Error("cloudwatch request failed", "err", err)
		ae = errorf(CodeInternalServiceError, "The request processing has failed because of an unknown error, exception or failure.")
	}
	writeError(w, proto, reqID, ae)
}

// serve decodes the request, sets *op for query requests, and runs the operation.
func (h *Handler) serve(r *http.Request, proto protocol, op *string) (object, error) {
	if r.Method != http.MethodPost && !(proto == protoQuery && r.Method == http.MethodGet) {
		return nil, errorf(CodeInvalidAction, "The action or operation requested is invalid. Verify that the action is typed correctly.")
	}
	var (
		in  map[string]any
		err error
	)
	switch proto {
	case protoQuery:
		form, ferr := peekForm(r)
		if ae := asAuthError(ferr); ae != nil {
			return nil, ae
		}
		switch {
		case errors.Is(ferr, errTooLarge):
			return nil, errorf(CodeInvalidParameterValue, "The request body is larger than %d bytes.", maxBodyBytes)
		case ferr != nil:
			return nil, errorf(CodeInvalidParameterValue, "The request body is not a valid form.")
		}
		*op = form.Get("Action")
		if _, ok := operations[*op]; !ok {
			break
		}
		var aerr *apiError
		if in, aerr = queryTree(form); aerr != nil {
			return nil, aerr
		}
	default:
		body, rerr := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
		if ae := asAuthError(rerr); ae != nil {
			return nil, ae
		}
		switch {
		case rerr != nil:
			return nil, errorf(CodeSerialization, "The request body could not be read.")
		case len(body) > maxBodyBytes:
			return nil, errorf(CodeSerialization, "The request body is larger than %d bytes.", maxBodyBytes)
		}
		if _, ok := operations[*op]; !ok {
			break
		}
		if proto == protoJSON {
			in, err = decodeJSON(body)
		} else {
			in, err = decodeCBORBody(body)
		}
		if err != nil {
			return nil, errorf(CodeSerialization, "The request body could not be decoded: %v", err)
		}
	}
	run, ok := operations[*op]
	if !ok {
		return nil, errorf(CodeInvalidAction, "The action %s is not valid for this web service.", *op)
	}
	if h.authorize != nil {
		if err := h.authorize(r.Context(), "cloudwatch:"+*op); err != nil {
			if ae := asAuthError(err); ae != nil {
				return nil, ae
			}
			return nil, err
		}
	}
	return run(h, r.Context(), &binder{query: proto == protoQuery}, in)
}

func (h *Handler) writeResult(w http.ResponseWriter, proto protocol, op, reqID string, out object) {
	hd := w.Header()
	hd.Set("x-amzn-RequestId", reqID)
	var body []byte
	switch proto {
	case protoJSON:
		hd.Set("Content-Type", contentJSON)
		body = appendJSON(nil, out)
	case protoCBOR:
		hd.Set("Content-Type", contentCBOR)
		hd.Set("smithy-protocol", "rpc-v2-cbor")
		body = appendCBOR(nil, out)
	default:
		hd.Set("Content-Type", "text/xml")
		var sb strings.Builder
		sb.WriteString(`<` + op + `Response xmlns="` + XMLNamespace + `">`)
		writeXML(&sb, op+"Result", out)
		sb.WriteString(`<ResponseMetadata><RequestId>` + reqID + `</RequestId></ResponseMetadata>`)
		sb.WriteString(`</` + op + `Response>`)
		body = []byte(sb.String())
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func writeError(w http.ResponseWriter, proto protocol, reqID string, e *apiError) {
	k := e.code.kind()
	hd := w.Header()
	hd.Set("x-amzn-RequestId", reqID)
	if proto != protoQuery && k.queryCompatible {
		hd.Set("x-amzn-query-error", string(e.code)+";"+k.fault())
	}
	var body []byte
	switch proto {
	case protoJSON:
		hd.Set("Content-Type", contentJSON)
		body = appendJSON(nil, object{{"__type", TargetPrefix + "#" + k.shape}, {"message", e.message}})
	case protoCBOR:
		hd.Set("Content-Type", contentCBOR)
		hd.Set("smithy-protocol", "rpc-v2-cbor")
		body = appendCBOR(nil, object{{"__type", cborErrorPrefix + k.shape}, {"message", e.message}})
	default:
		hd.Set("Content-Type", "text/xml")
		var sb strings.Builder
		sb.WriteString(`<ErrorResponse xmlns="` + XMLNamespace + `">`)
		writeXML(&sb, "Error", object{{"Type", k.fault()}, {"Code", string(e.code)}, {"Message", e.message}})
		writeXML(&sb, "RequestId", reqID)
		sb.WriteString(`</ErrorResponse>`)
		body = []byte(sb.String())
	}
	w.WriteHeader(k.status)
	_, _ = w.Write(body)
}
