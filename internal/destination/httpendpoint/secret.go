package httpendpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"
)

// SecretTTL is how long a secret's value is used before it is read again.
const SecretTTL = 5 * time.Minute

// SecretGetter is the part of the Secrets Manager API the key source uses.
type SecretGetter interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

var _ SecretGetter = (*secretsmanager.Client)(nil)

// Secrets reads endpoint access keys from Secrets Manager secrets, caching each for SecretTTL.
// Clients are made per region (the secret ARN's) by newClient.
type Secrets struct {
	newClient func(ctx context.Context, region string) (SecretGetter, error)
	now       func() time.Time

	mu      sync.Mutex
	clients map[string]SecretGetter
	cache   map[string]cachedSecret
}

type cachedSecret struct {
	key     string
	fetched time.Time
}

// NewSecrets returns a Secrets whose clients newClient makes; nil makes them with the
// standard AWS chain (DefaultSecretsClient).
func NewSecrets(newClient func(ctx context.Context, region string) (SecretGetter, error), now func() time.Time) *Secrets {
	if newClient == nil {
		newClient = DefaultSecretsClient
	}
	if now == nil {
		now = time.Now
	}
	return &Secrets{newClient: newClient, now: now, clients: map[string]SecretGetter{}, cache: map[string]cachedSecret{}}
}

// DefaultSecretsClient returns a Secrets Manager client of region from the standard AWS chain:
// credentials from the environment, shared files or roles; the endpoint from
// AWS_ENDPOINT_URL_SECRETS_MANAGER or AWS_ENDPOINT_URL when set.
func DefaultSecretsClient(ctx context.Context, region string) (SecretGetter, error) {
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	return secretsmanager.NewFromConfig(cfg), nil
}

// Source returns the KeySource of one secret.
func (s *Secrets) Source(secretARN string) KeySource { return secretKey{s: s, arn: secretARN} }

type secretKey struct {
	s   *Secrets
	arn string
}

func (k secretKey) Key(ctx context.Context) (string, error) { return k.s.Key(ctx, k.arn) }

// regionOf returns the region of an ARN (arn:aws:secretsmanager:REGION:...), or "".
func regionOf(arn string) string {
	parts := strings.SplitN(arn, ":", 5)
	if len(parts) < 5 || parts[0] != "arn" {
		return ""
	}
	return parts[3]
}

// Key returns the api_key member of the secret's JSON value. Failures are *Error with a
// SecretsManager.* code: transient, the delivery retries them.
func (s *Secrets) Key(ctx context.Context, secretARN string) (string, error) {
	now := s.now()
	region := regionOf(secretARN)
	s.mu.Lock()
	c, ok := s.cache[secretARN]
	client := s.clients[region]
	s.mu.Unlock()
	if ok && now.Sub(c.fetched) < SecretTTL {
		return c.key, nil
	}
	fail := func(code string, err error, format string, args ...any) error {
		return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
	}
	if client == nil {
		var err error
		if client, err = s.newClient(ctx, region); err != nil {
			return "", fail(secretsManagerPrefix+"ClientError", err, "Secrets Manager client: %v", err)
		}
		s.mu.Lock()
		s.clients[region] = client
		s.mu.Unlock()
	}
	out, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretARN)})
	if err != nil {
		code := "RequestError"
		var ae smithy.APIError
		if errors.As(err, &ae) {
			code = ae.ErrorCode()
		}
		return "", fail(secretsManagerPrefix+code, err, "Could not read secret %s: %v", secretARN, err)
	}
	var v struct {
		APIKey *string `json:"api_key"`
	}
	if out.SecretString == nil || json.Unmarshal([]byte(*out.SecretString), &v) != nil || v.APIKey == nil {
		return "", fail(CodeInvalidSecret, nil, "Secret %s is not a JSON object with a string api_key.", secretARN)
	}
	s.mu.Lock()
	s.cache[secretARN] = cachedSecret{key: *v.APIKey, fetched: now}
	s.mu.Unlock()
	return *v.APIKey, nil
}
