package producer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/google/go-cmp/cmp"
)

func TestBackoffBounds(t *testing.T) {
	tests := []struct {
		name      string
		base, max time.Duration
		n         int
		r         float64
		want      time.Duration
	}{
		{"first retry, top of range", 100 * time.Millisecond, 5 * time.Second, 0, 1, 100 * time.Millisecond},
		{"first retry, bottom", 100 * time.Millisecond, 5 * time.Second, 0, 0, 0},
		{"second retry, half", 100 * time.Millisecond, 5 * time.Second, 1, 0.5, 100 * time.Millisecond},
		{"fifth retry", 100 * time.Millisecond, 5 * time.Second, 4, 1, 1600 * time.Millisecond},
		{"capped at MaxDelay", 100 * time.Millisecond, 5 * time.Second, 6, 1, 5 * time.Second},
		{"huge n does not overflow", 100 * time.Millisecond, 5 * time.Second, 200, 1, 5 * time.Second},
		{"n=62 does not overflow", time.Second, time.Hour, 62, 0.5, 30 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{BaseDelay: tt.base, MaxDelay: tt.max, Rand: fixedRand(tt.r)}.withDefaults()
			if got := c.backoff(tt.n); got != tt.want {
				t.Errorf("backoff(%d) = %v, want %v", tt.n, got, tt.want)
			}
		})
	}
}

// TestBackoffFullJitter draws many delays per retry: all in [0, min(Max, Base·2^n)],
// spread over the whole range (mean near half the ceiling, both ends reached).
func TestBackoffFullJitter(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	c := Config{BaseDelay: 100 * time.Millisecond, MaxDelay: 2 * time.Second, Rand: rng.Float64}.withDefaults()
	for n := range 8 {
		ceiling := min(c.MaxDelay, c.BaseDelay<<n)
		const draws = 20000
		var sum time.Duration
		lo, hi := ceiling, time.Duration(0)
		buckets := make([]int, 10)
		for range draws {
			d := c.backoff(n)
			if d < 0 || d > ceiling {
				t.Fatalf("n=%d: delay %v outside [0, %v]", n, d, ceiling)
			}
			sum += d
			lo, hi = min(lo, d), max(hi, d)
			buckets[min(9, int(10*float64(d)/float64(ceiling)))]++
		}
		mean := float64(sum) / draws / float64(ceiling)
		if mean < 0.48 || mean > 0.52 {
			t.Errorf("n=%d: mean %.3f of the ceiling, want ≈0.5", n, mean)
		}
		if float64(lo) > 0.01*float64(ceiling) || float64(hi) < 0.99*float64(ceiling) {
			t.Errorf("n=%d: range [%v, %v] does not span [0, %v]", n, lo, hi, ceiling)
		}
		for i, b := range buckets {
			if b < draws/10*8/10 || b > draws/10*12/10 {
				t.Errorf("n=%d: decile %d has %d of %d draws, want ≈%d", n, i, b, draws, draws/10)
			}
		}
	}
}

func httpErr(status int, err error) error {
	return &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: err}
}

func opErr(err error) error {
	return &smithy.OperationError{ServiceID: "Firehose", OperationName: "PutRecordBatch", Err: err}
}

func TestRetryable(t *testing.T) {
	api := func(code string) error { return &smithy.GenericAPIError{Code: code, Message: "m"} }
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"ServiceUnavailableException", opErr(httpErr(503, &types.ServiceUnavailableException{Message: new("Slow down.")})), true},
		{"ServiceUnavailableException without status", api("ServiceUnavailableException"), true},
		{"ThrottlingException", opErr(httpErr(400, api("ThrottlingException"))), true},
		{"Throttling", api("Throttling"), true},
		{"TooManyRequestsException", api("TooManyRequestsException"), true},
		{"InternalFailure 500", opErr(httpErr(500, api("InternalFailure"))), true},
		{"unknown code 502", opErr(httpErr(502, api("BadGateway"))), true},
		{"plain 503 without API error", opErr(httpErr(503, errors.New("body"))), true},
		{"429", opErr(httpErr(429, errors.New("body"))), true},
		{"InvalidArgumentException", opErr(httpErr(400, &types.InvalidArgumentException{Message: new("bad")})), false},
		{"ResourceNotFoundException", opErr(httpErr(400, &types.ResourceNotFoundException{Message: new("no")})), false},
		{"InvalidKMSResourceException", opErr(httpErr(400, api("InvalidKMSResourceException"))), false},
		{"ValidationException", api("ValidationException"), false},
		{"InvalidArgumentException even as 500", opErr(httpErr(500, api("InvalidArgumentException"))), false},
		{"AccessDeniedException", opErr(httpErr(403, api("AccessDeniedException"))), false},
		{"unknown 4xx", opErr(httpErr(400, api("Whatever"))), false},
		{"unknown code no status", api("Whatever"), false},
		{"client-side validation", opErr(&smithy.InvalidParamsError{Context: "PutRecordBatchInput"}), false},
		{"connection refused", opErr(&url.Error{Op: "Post", URL: "http://x", Err: &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}), true},
		{"connection reset", opErr(fmt.Errorf("read: %w", syscall.ECONNRESET)), true},
		{"unexpected EOF", opErr(io.ErrUnexpectedEOF), true},
		{"net timeout", opErr(&net.DNSError{IsTimeout: true}), true},
		{"attempt timeout", opErr(fmt.Errorf("request: %w", context.DeadlineExceeded)), true},
		{"canceled", opErr(&url.Error{Op: "Post", URL: "http://x", Err: context.Canceled}), false},
		{"other error", errors.New("boom"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Retryable(tt.err); got != tt.want {
				t.Errorf("Retryable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestPutRecordRetries(t *testing.T) {
	unavailable := opErr(httpErr(503, &types.ServiceUnavailableException{Message: new("Slow down.")}))
	invalid := opErr(httpErr(400, &types.InvalidArgumentException{Message: new("bad")}))
	tests := []struct {
		name       string
		cfg        Config
		fail       func(call int) error
		wantID     string
		wantErr    error // errors.Is target; nil for success
		wantCalls  int
		wantSleeps []time.Duration
	}{
		{"first try", Config{}, nil, "id-1", nil, 1, nil},
		{"two throttles then ok", Config{MaxTrials: 5},
			func(n int) error { return map[bool]error{true: unavailable}[n <= 2] }, "id-3", nil, 3,
			[]time.Duration{50 * time.Millisecond, 100 * time.Millisecond}},
		{"gives up after MaxTrials", Config{MaxTrials: 3}, func(int) error { return unavailable }, "", unavailable, 3,
			[]time.Duration{50 * time.Millisecond, 100 * time.Millisecond}},
		{"non-retryable at once", Config{MaxTrials: 5}, func(int) error { return invalid }, "", invalid, 1, nil},
		{"MaxElapsed stops retries", Config{MaxTrials: 10, MaxElapsed: 300 * time.Millisecond}, func(int) error { return unavailable }, "", unavailable, 3,
			[]time.Duration{50 * time.Millisecond, 100 * time.Millisecond}}, // the next, 200ms, would end at 350ms
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			tt.cfg.Clock, tt.cfg.Rand = clock, fixedRand(0.5)
			f := &fakeClient{put: tt.fail}
			id, err := PutRecord(context.Background(), f, "s", []byte("x"), tt.cfg)
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			got := []any{id, f.single, clock.slept()}
			want := []any{tt.wantID, tt.wantCalls, tt.wantSleeps}
			if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b []time.Duration) bool { return fmt.Sprint(a) == fmt.Sprint(b) })); diff != "" {
				t.Errorf("id, calls, sleeps (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPutRecordArguments(t *testing.T) {
	f := &fakeClient{}
	tests := []struct {
		name   string
		c      Client
		stream string
		data   []byte
		cfg    Config
		want   error
	}{
		{"too large", f, "s", make([]byte, MaxRecordBytes+1), Config{}, ErrRecordTooLarge},
		{"no stream", f, "", []byte("x"), Config{}, ErrInvalidConfig},
		{"nil client", nil, "s", []byte("x"), Config{}, ErrInvalidConfig},
		{"negative trials", f, "s", []byte("x"), Config{MaxTrials: -1}, ErrInvalidConfig},
		{"max below base", f, "s", []byte("x"), Config{BaseDelay: time.Second, MaxDelay: time.Millisecond}, ErrInvalidConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := PutRecord(context.Background(), tt.c, tt.stream, tt.data, tt.cfg); !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
	if f.single != 0 {
		t.Errorf("%d calls made with invalid arguments", f.single)
	}
}
