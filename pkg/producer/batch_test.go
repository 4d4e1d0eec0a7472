package producer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/google/go-cmp/cmp"
)

func numbered(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte(fmt.Sprint(i))
	}
	return out
}

func names(calls [][][]byte) [][]string {
	out := make([][]string, len(calls))
	for i, c := range calls {
		for _, r := range c {
			out[i] = append(out[i], string(r))
		}
	}
	return out
}

func TestPutRecordBatchResendsOnlyFailed(t *testing.T) {
	unavailable := opErr(httpErr(503, &types.ServiceUnavailableException{Message: new("Slow down.")}))
	invalid := opErr(httpErr(400, &types.InvalidArgumentException{Message: new("bad")}))
	type call = func(n int, recs [][]byte) (*firehose.PutRecordBatchOutput, error)
	failed := func(code, msg string, attempts int, idx ...int) []FailedRecord {
		var out []FailedRecord
		for _, i := range idx {
			out = append(out, FailedRecord{Index: i, Data: []byte(fmt.Sprint(i)), ErrorCode: code, ErrorMessage: msg, Attempts: attempts})
		}
		return out
	}
	tests := []struct {
		name      string
		n         int
		trials    int
		batch     call
		wantCalls [][]string
		want      Result
	}{
		{"all ok", 3, 3, nil, [][]string{{"0", "1", "2"}}, Result{Sent: 3}},
		{"one per call, 10 records, 3 trials", 10, 3, succeedFirst(1),
			[][]string{{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}, {"1", "2", "3", "4", "5", "6", "7", "8", "9"}, {"2", "3", "4", "5", "6", "7", "8", "9"}},
			Result{Sent: 3, Retried: 17, Failed: failed("ServiceUnavailableException", "Slow down.", 3, 3, 4, 5, 6, 7, 8, 9)}},
		{"odd ones fail once", 6, 3, func(n int, recs [][]byte) (*firehose.PutRecordBatchOutput, error) {
			return okOutput(len(recs), func(i int) string {
				if n == 1 && i%2 == 1 {
					return "InternalFailure"
				}
				return ""
			}), nil
		}, [][]string{{"0", "1", "2", "3", "4", "5"}, {"1", "3", "5"}}, Result{Sent: 6, Retried: 3}},
		{"whole call throttled then ok", 2, 3, func(n int, recs [][]byte) (*firehose.PutRecordBatchOutput, error) {
			if n == 1 {
				return nil, unavailable
			}
			return okOutput(len(recs), nil), nil
		}, [][]string{{"0", "1"}, {"0", "1"}}, Result{Sent: 2, Retried: 2}},
		{"whole call throttled always", 2, 2, func(int, [][]byte) (*firehose.PutRecordBatchOutput, error) { return nil, unavailable },
			[][]string{{"0", "1"}, {"0", "1"}}, Result{Retried: 2, Failed: failed("ServiceUnavailableException", "Slow down.", 2, 0, 1)}},
		{"non-retryable call error", 2, 5, func(int, [][]byte) (*firehose.PutRecordBatchOutput, error) { return nil, invalid },
			[][]string{{"0", "1"}}, Result{Failed: failed("InvalidArgumentException", "bad", 1, 0, 1)}},
		{"malformed response not retried", 2, 2, func(n int, recs [][]byte) (*firehose.PutRecordBatchOutput, error) {
			return okOutput(1, nil), nil
		}, [][]string{{"0", "1"}}, Result{Failed: failed(ErrorCodeTransport, "malformed response: 1 entry for 2 records", 1, 0, 1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeClient{batch: tt.batch}
			var logs bytes.Buffer
			cfg := Config{MaxTrials: tt.trials, Clock: newFakeClock(), Rand: fixedRand(0.5),
				Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{ReplaceAttr: dropTime}))}
			res, err := PutRecordBatch(context.Background(), f, "s", numbered(tt.n), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantCalls, names(f.calls)); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, res); diff != "" {
				t.Errorf("Result (-want +got):\n%s", diff)
			}
			if !strings.Contains(logs.String(), `msg="put record batch`) || !strings.Contains(logs.String(), "stream=s") {
				t.Errorf("logs lack the batch outcome:\n%s", logs.String())
			}
		})
	}
}

func dropTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

// TestPutRecordBatchLogs checks the log of a batch whose records fail but the first of
// each call: at Info one record per call and outcome, at Debug also each failed record's
// error message at every attempt.
func TestPutRecordBatchLogs(t *testing.T) {
	const info = `level=WARN msg="put record batch" stream=s records=3 failed=2 attempt=1
level=INFO msg="put record batch retry" stream=s records=2 attempt=2 delay=50ms
level=WARN msg="put record batch" stream=s records=2 failed=1 attempt=2
level=ERROR msg="put record batch failed" stream=s records=3 failed=1 attempt=2 code=ServiceUnavailableException reason=MaxTrials
`
	const debug = `level=DEBUG msg="record failed" stream=s index=1 attempt=1 code=ServiceUnavailableException err="Slow down."
level=DEBUG msg="record failed" stream=s index=2 attempt=1 code=ServiceUnavailableException err="Slow down."
level=WARN msg="put record batch" stream=s records=3 failed=2 attempt=1
level=INFO msg="put record batch retry" stream=s records=2 attempt=2 delay=50ms
level=DEBUG msg="record failed" stream=s index=2 attempt=2 code=ServiceUnavailableException err="Slow down."
level=WARN msg="put record batch" stream=s records=2 failed=1 attempt=2
level=ERROR msg="put record batch failed" stream=s records=3 failed=1 attempt=2 code=ServiceUnavailableException reason=MaxTrials
`
	for _, tt := range []struct {
		level slog.Level
		want  string
	}{{slog.LevelInfo, info}, {slog.LevelDebug, debug}} {
		t.Run(tt.level.String(), func(t *testing.T) {
			f := &fakeClient{batch: succeedFirst(1)}
			var logs bytes.Buffer
			cfg := Config{MaxTrials: 2, Clock: newFakeClock(), Rand: fixedRand(0.5),
				Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: tt.level, ReplaceAttr: dropTime}))}
			if _, err := PutRecordBatch(context.Background(), f, "s", numbered(3), cfg); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, logs.String()); diff != "" {
				t.Errorf("logs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPutRecordBatchContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	// The first chunk's first call cancels; nothing is acknowledged after that.
	f := &fakeClient{batch: func(n int, recs [][]byte) (*firehose.PutRecordBatchOutput, error) {
		cancel()
		return nil, context.Canceled
	}}
	records := recs(600, 1)
	res, err := PutRecordBatch(ctx, f, "s", records, Config{Clock: newFakeClock()})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	attempts := map[int]int{}
	for _, r := range res.Failed {
		if r.ErrorCode != ErrorCodeCanceled {
			t.Fatalf("record %d: code %q", r.Index, r.ErrorCode)
		}
		attempts[r.Attempts]++
	}
	if diff := cmp.Diff(map[int]int{1: 500, 0: 100}, attempts); diff != "" {
		t.Errorf("failed records by attempts (-want +got):\n%s", diff)
	}
	if res.Sent != 0 || len(f.calls) != 1 {
		t.Errorf("Sent %d after %d calls, want 0 after 1", res.Sent, len(f.calls))
	}
}

func TestPutRecordBatchMaxElapsed(t *testing.T) {
	clock := newFakeClock()
	f := &fakeClient{batch: func(n int, recs [][]byte) (*firehose.PutRecordBatchOutput, error) {
		return okOutput(len(recs), func(int) string { return "ServiceUnavailableException" }), nil
	}}
	res, err := PutRecordBatch(context.Background(), f, "s", numbered(2), Config{MaxTrials: 100, MaxElapsed: time.Second, Clock: clock, Rand: fixedRand(1)})
	if err != nil {
		t.Fatal(err)
	}
	// Sleeps 100, 200, 400ms end at 700ms; the next (800ms) would pass 1s.
	if diff := cmp.Diff([]time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}, clock.slept()); diff != "" {
		t.Errorf("sleeps (-want +got):\n%s", diff)
	}
	if len(f.calls) != 4 || len(res.Failed) != 2 || res.Failed[0].Attempts != 4 {
		t.Errorf("calls %d, result %+v", len(f.calls), res)
	}
}
