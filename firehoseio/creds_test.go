package firehoseio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
)

// TestCredentialsNotPrinted prints and logs the write DoFns with credentials in every
// way a program might, and finds no key in the output; only the JSON that carries the
// settings to the workers has them.
func TestCredentialsNotPrinted(t *testing.T) {
	const keyID, secretKey, token = "AKIDNOTPRINTED", "secret-not-printed", "token-not-printed"
	var set settings
	Credentials(keyID, secretKey, token)(&set)
	w := writer{Stream: "s", Credentials: set.creds}
	fns := map[string]any{"writer": w, "slice": &writeSliceFn{W: w}, "kv": &writeKVFn{W: w}, "grouped": &writeGroupedFn{W: w}}
	for name, fn := range fns {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
				fmt.Fprintf(&out, verb+"\n", fn)
			}
			slog.New(slog.NewTextHandler(&out, nil)).Info("fn", "fn", fn, "creds", w.Credentials, "key", w.Credentials.SecretAccessKey)
			slog.New(slog.NewJSONHandler(&out, nil)).Info("fn", "fn", fn, "creds", w.Credentials, "key", w.Credentials.SecretAccessKey)
			for _, v := range []string{keyID, secretKey, token} {
				if strings.Contains(out.String(), v) {
					t.Errorf("output shows %q:\n%s", v, out.String())
				}
			}
			if !strings.Contains(out.String(), redacted) {
				t.Errorf("output lacks %q:\n%s", redacted, out.String())
			}
		})
	}
	b, err := json.Marshal(&writeSliceFn{W: w})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), secretKey) {
		t.Errorf("the serialized DoFn lacks the secret the workers need: %s", b)
	}
}

// fakeDescriber answers DescribeDeliveryStream with a status or an error.
type fakeDescriber struct {
	status types.DeliveryStreamStatus
	err    error
}

func (f fakeDescriber) DescribeDeliveryStream(context.Context, *firehose.DescribeDeliveryStreamInput, ...func(*firehose.Options)) (*firehose.DescribeDeliveryStreamOutput, error) {
	if f.err != nil {
		return nil, f.err
	}
	return &firehose.DescribeDeliveryStreamOutput{DeliveryStreamDescription: &types.DeliveryStreamDescription{
		DeliveryStreamName: aws.String("clicks"), DeliveryStreamStatus: f.status}}, nil
}

func TestCheckStream(t *testing.T) {
	denied := errors.New("AccessDeniedException: not authorized to perform firehose:DescribeDeliveryStream")
	tests := []struct {
		name    string
		fake    fakeDescriber
		wantErr error
		wantMsg string
	}{
		{"active", fakeDescriber{status: types.DeliveryStreamStatusActive}, nil, ""},
		{"creating", fakeDescriber{status: types.DeliveryStreamStatusCreating}, ErrStreamNotActive, "firehoseio.Write to clicks: delivery stream not active: status CREATING"},
		{"deleting", fakeDescriber{status: types.DeliveryStreamStatusDeleting}, ErrStreamNotActive, "status DELETING"},
		{"missing", fakeDescriber{err: &types.ResourceNotFoundException{Message: aws.String("Firehose clicks not found.")}}, ErrStreamNotFound,
			"firehoseio.Write to clicks: delivery stream not found (check its name and region): ResourceNotFoundException: Firehose clicks not found."},
		{"denied", fakeDescriber{err: denied}, denied, "firehoseio.Write to clicks: describe delivery stream (CheckStream(false) skips this check): AccessDenied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkStream(context.Background(), tt.fake, "clicks")
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("checkStream: %v, want %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("checkStream: %q, want it to contain %q", err, tt.wantMsg)
			}
		})
	}
}
