// Package lambda invokes the AWS Lambda functions that Firehose Lambda processors name by
// LambdaArn: on AWS, on any server that speaks the Lambda Invoke API (an emulator, LocalStack,
// examples/lambda/runner), or on a plain HTTP URL mapped to the function. It implements the
// transport only; building the invocation payload and checking the records of the response
// (docs §6.2) belong to the processor that calls it. See docs/design/lambda.md.
package lambda

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/encoding/httpbinding"

	"github.com/hydrant-dev/hydrant/internal/processor"
)

var _ processor.Invoker = (*Invoker)(nil)

const (
	// signingName is the SigV4 service name of Lambda.
	signingName = "lambda"
	// defaultRegion signs requests to a custom endpoint when no region is known anywhere.
	defaultRegion = "us-east-1"
	// maxErrorBody bounds how much of an HTTP error body is read.
	maxErrorBody = 64 << 10
	// probeTimeout bounds the credential resolution New does for a custom endpoint.
	probeTimeout = 10 * time.Second
	dialTimeout  = 10 * time.Second
)

// Invoker calls Lambda functions synchronously. It is safe for concurrent use.
type Invoker struct {
	log       *slog.Logger
	client    *http.Client
	endpoint  *url.URL // custom Invoke API endpoint; nil = AWS
	region    string   // region of functions without a full ARN; may be empty
	creds     aws.CredentialsProvider
	signer    *v4.Signer
	functions map[string]string
	timeout   time.Duration
	now       func() time.Time
}

// New returns an Invoker for cfg. It resolves the region and the credential provider but
// contacts no function. For a custom Endpoint without Anonymous or static keys it resolves
// credentials once: when none are found it logs a warning and sends requests unsigned.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Invoker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.DialContext = (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext
	inv := &Invoker{
		log:       log,
		client:    &http.Client{Transport: transport},
		region:    cfg.Region,
		signer:    v4.NewSigner(),
		functions: make(map[string]string, len(cfg.Functions)),
		timeout:   cfg.Timeout,
		now:       time.Now,
	}
	if inv.timeout == 0 {
		inv.timeout = DefaultTimeout
	}
	for k, v := range cfg.Functions {
		inv.functions[k] = v
	}
	if cfg.Endpoint != "" {
		u, err := url.Parse(strings.TrimSuffix(cfg.Endpoint, "/"))
		if err != nil {
			return nil, fmt.Errorf("lambda: Endpoint: %w", err)
		}
		inv.endpoint = u
	}
	static := cfg.AccessKeyID != ""
	if static {
		inv.creds = credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)
	}
	if (cfg.Anonymous || static) && inv.region != "" {
		return inv, nil
	}
	// The SDK's loading supplies the region and, unless static or anonymous, the credentials.
	var opts []func(*config.LoadOptions) error
	if cfg.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(cfg.Profile))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("lambda: load aws config: %w", err)
	}
	if inv.region == "" {
		inv.region = awsCfg.Region
	}
	if cfg.Anonymous || static {
		return inv, nil
	}
	inv.creds = awsCfg.Credentials
	if inv.creds != nil && inv.endpoint != nil {
		// An emulator often needs no signature; AWS always does, so there a missing
		// credential is reported per invocation instead.
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		_, err := inv.creds.Retrieve(pctx)
		cancel()
		if err != nil {
			log.Warn("lambda: no AWS credentials resolved; Invoke API requests go unsigned (set Anonymous to silence)",
				"endpoint", cfg.Endpoint, "err", err)
			inv.creds = nil
		}
	}
	return inv, nil
}

// Invoke calls the function fn (a name, a partial ARN or an ARN, qualified or not) with
// payload and returns its result. Errors are *FunctionError, *InvokeError, or wrap
// ErrTimeout, ErrRequestTooLarge, ErrResponseTooLarge, ErrInvalidFunction or a network error;
// Retryable classifies them all. Those with a Firehose errorCode (function errors, oversized
// results, throttling) come wrapped in a *processor.InvokeError that names it; errors.As
// still finds the typed error inside.
func (i *Invoker) Invoke(ctx context.Context, fn string, payload []byte) ([]byte, error) {
	out, err := i.invoke(ctx, fn, payload)
	return out, firehoseError(err)
}

func (i *Invoker) invoke(ctx context.Context, fn string, payload []byte) ([]byte, error) {
	if len(payload) > MaxPayloadBytes {
		return nil, fmt.Errorf("lambda invoke %s: %d bytes: %w", fn, len(payload), ErrRequestTooLarge)
	}
	f, err := parseFunction(fn)
	if err != nil {
		return nil, fmt.Errorf("lambda invoke: %w", err)
	}
	ictx, cancel := context.WithTimeout(ctx, i.timeout)
	defer cancel()
	start := i.now()
	var out []byte
	if target, ok := i.lookup(fn, f); ok {
		out, err = i.invokeURL(ictx, fn, target, payload)
	} else {
		out, err = i.invokeAPI(ictx, fn, f, payload)
	}
	if err != nil && ctx.Err() == nil && errors.Is(ictx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("%w after %s: %w", ErrTimeout, i.timeout, err)
	}
	i.log.Debug("lambda invoke", "function", fn, "bytes_in", len(payload), "bytes_out", len(out),
		"duration", i.now().Sub(start), "err", err)
	return out, err
}

// lookup returns the plain URL mapped to fn: by the reference as given, the unqualified ARN,
// name:qualifier, then name.
func (i *Invoker) lookup(fn string, f function) (string, bool) {
	if len(i.functions) == 0 {
		return "", false
	}
	keys := []string{fn, f.unqualifiedARN(), f.name + ":" + f.qualifier, f.name}
	for _, k := range keys {
		if u, ok := i.functions[k]; ok && k != "" && !strings.HasSuffix(k, ":") {
			return u, true
		}
	}
	return "", false
}

// invokeURL POSTs payload to a plain URL; any 2xx answer's body is the result.
func (i *Invoker) invokeURL(ctx context.Context, fn, target string, payload []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("lambda invoke %s: build request: %w", fn, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := i.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("lambda invoke %s: post %s: %w", fn, target, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return nil, newInvokeError(fn, resp, body)
	}
	return readResult(fn, resp)
}

// invokeAPI calls the Invoke API: POST /2015-03-31/functions/{FunctionName}/invocations.
func (i *Invoker) invokeAPI(ctx context.Context, fn string, f function, payload []byte) ([]byte, error) {
	region := first(f.region, i.region)
	var base *url.URL
	if i.endpoint != nil {
		base = i.endpoint
		region = first(region, defaultRegion)
	} else {
		if region == "" {
			return nil, fmt.Errorf("lambda invoke %s: no region: name the function by ARN or set Region or AWS_REGION", fn)
		}
		base = &url.URL{Scheme: "https", Host: "lambda." + region + "." + dnsSuffix(f.partition, region)}
	}
	// FunctionName is the reference as given, qualifier included: the API accepts
	// qualified ARNs and names, and a separate Qualifier would have to agree with it.
	escaped := httpbinding.EscapePath(fn, true)
	u := *base
	u.Path = base.Path + "/2015-03-31/functions/" + fn + "/invocations"
	u.RawPath = base.EscapedPath() + "/2015-03-31/functions/" + escaped + "/invocations"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("lambda invoke %s: build request: %w", fn, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Amz-Invocation-Type", "RequestResponse")
	if i.creds != nil {
		creds, err := i.creds.Retrieve(ctx)
		if err != nil {
			return nil, fmt.Errorf("lambda invoke %s: retrieve credentials: %w", fn, err)
		}
		sum := sha256.Sum256(payload)
		if err := i.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), signingName, region, i.now()); err != nil {
			return nil, fmt.Errorf("lambda invoke %s: sign: %w", fn, err)
		}
	}
	resp, err := i.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("lambda invoke %s: %w", fn, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return nil, newInvokeError(fn, resp, body)
	}
	out, err := readResult(fn, resp)
	if err != nil {
		return nil, err
	}
	if typ := resp.Header.Get("X-Amz-Function-Error"); typ != "" {
		return nil, newFunctionError(fn, typ, out)
	}
	return out, nil
}

// readResult reads a successful response body of at most MaxPayloadBytes.
func readResult(fn string, resp *http.Response) ([]byte, error) {
	if resp.ContentLength > MaxPayloadBytes {
		return nil, fmt.Errorf("lambda invoke %s: %d bytes: %w", fn, resp.ContentLength, ErrResponseTooLarge)
	}
	out, err := io.ReadAll(io.LimitReader(resp.Body, MaxPayloadBytes+1))
	if err != nil {
		return nil, fmt.Errorf("lambda invoke %s: read response: %w", fn, err)
	}
	if len(out) > MaxPayloadBytes {
		return nil, fmt.Errorf("lambda invoke %s: more than %d bytes: %w", fn, MaxPayloadBytes, ErrResponseTooLarge)
	}
	return out, nil
}
