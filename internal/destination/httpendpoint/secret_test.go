package httpendpoint_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"github.com/hydrant-dev/hydrant/internal/destination"
	"github.com/hydrant-dev/hydrant/internal/destination/httpendpoint"
)

// fakeSecrets answers GetSecretValue from a map and counts the calls.
type fakeSecrets struct {
	mu     sync.Mutex
	values map[string]string
	calls  int
}

func (f *fakeSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	v, ok := f.values[aws.ToString(in.SecretId)]
	if !ok {
		return nil, &smithy.GenericAPIError{Code: "ResourceNotFoundException", Message: "Secrets Manager can't find the specified secret."}
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(v)}, nil
}

func TestSecretsKey(t *testing.T) {
	const (
		good    = "arn:aws:secretsmanager:eu-west-1:000000000000:secret:good"
		bad     = "arn:aws:secretsmanager:eu-west-1:000000000000:secret:bad"
		missing = "arn:aws:secretsmanager:eu-west-1:000000000000:secret:missing"
	)
	fake := &fakeSecrets{values: map[string]string{good: `{"api_key":"k1"}`, bad: `not json`}}
	now := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	var regions []string
	s := httpendpoint.NewSecrets(func(_ context.Context, region string) (httpendpoint.SecretGetter, error) {
		regions = append(regions, region)
		return fake, nil
	}, func() time.Time { return now })
	ctx := context.Background()
	key, err := s.Source(good).Key(ctx)
	if err != nil || key != "k1" {
		t.Fatalf("Key = %q, %v", key, err)
	}
	// Cached for SecretTTL, then read again: a rotated key applies.
	fake.values[good] = `{"api_key":"k2"}`
	now = now.Add(httpendpoint.SecretTTL - time.Second)
	if key, _ := s.Key(ctx, good); key != "k1" {
		t.Errorf("within the TTL: key %q, want the cached k1", key)
	}
	now = now.Add(2 * time.Second)
	if key, _ := s.Key(ctx, good); key != "k2" {
		t.Errorf("after the TTL: key %q, want k2", key)
	}
	for _, tc := range []struct {
		arn, code string
	}{{bad, httpendpoint.CodeInvalidSecret}, {missing, "SecretsManager.ResourceNotFoundException"}} {
		_, err := s.Key(ctx, tc.arn)
		var he *httpendpoint.Error
		if !errors.As(err, &he) || he.Code != tc.code || destination.IsPermanent(err) {
			t.Errorf("Key(%s) = %v, want a transient %s", tc.arn, err, tc.code)
		}
	}
	if d := cmp.Diff([]string{"eu-west-1"}, regions); d != "" {
		t.Errorf("clients made for regions (-want +got):\n%s", d)
	}
	if fake.calls != 4 {
		t.Errorf("GetSecretValue calls = %d, want 4", fake.calls)
	}
}
