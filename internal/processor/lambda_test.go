package processor

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

const testARN = "arn:aws:lambda:us-east-1:123456789012:function:f"

// lambdaRequest is the decoded invocation payload.
type lambdaRequest struct {
	InvocationID      string `json:"invocationId"`
	DeliveryStreamArn string `json:"deliveryStreamArn"`
	Region            string `json:"region"`
	Records           []struct {
		RecordID string `json:"recordId"`
		Arrival  int64  `json:"approximateArrivalTimestamp"`
		Data     []byte `json:"data"`
	} `json:"records"`
}

// fakeInvoker answers invocations with respond, recording the payloads.
type fakeInvoker struct {
	calls   []lambdaRequest
	sizes   []int
	respond func(call int, req lambdaRequest) ([]byte, error)
}

func (f *fakeInvoker) Invoke(_ context.Context, arn string, payload []byte) ([]byte, error) {
	if arn != testARN {
		return nil, errors.New("wrong ARN " + arn)
	}
	var req lambdaRequest
	if err := json.Unmarshal(payload, &req); err != nil {
		return nil, err
	}
	f.calls = append(f.calls, req)
	f.sizes = append(f.sizes, len(payload))
	return f.respond(len(f.calls)-1, req)
}

// resp is one response record for respondWith.
type resp struct {
	id, result, data string
	keys             map[string]string
	noData           bool
}

// response encodes a transformation response.
func response(rs ...resp) []byte {
	type rec struct {
		RecordID string  `json:"recordId"`
		Result   string  `json:"result"`
		Data     *string `json:"data,omitempty"`
		Metadata any     `json:"metadata,omitempty"`
	}
	var out struct {
		Records []rec `json:"records"`
	}
	out.Records = []rec{}
	for _, r := range rs {
		x := rec{RecordID: r.id, Result: r.result}
		if !r.noData {
			d := base64.StdEncoding.EncodeToString([]byte(r.data))
			x.Data = &d
		}
		if r.keys != nil {
			x.Metadata = map[string]any{"partitionKeys": r.keys}
		}
		out.Records = append(out.Records, x)
	}
	b, _ := json.Marshal(out)
	return b
}

// upper answers Ok with the upper-cased data of every record.
func upper(_ int, req lambdaRequest) ([]byte, error) {
	var rs []resp
	for _, r := range req.Records {
		rs = append(rs, resp{id: r.RecordID, result: "Ok", data: strings.ToUpper(string(r.Data))})
	}
	return response(rs...), nil
}

func lambdaSpec(kv ...string) Spec {
	p := map[string]string{ParamLambdaArn: testARN}
	for i := 0; i < len(kv); i += 2 {
		p[kv[i]] = kv[i+1]
	}
	return Spec{Type: TypeLambda, Parameters: p}
}

func TestLambda(t *testing.T) {
	throttled := &InvokeError{Code: CodeLambdaInvokeLimitExceeded, Message: "Rate exceeded"}
	tests := []struct {
		name      string
		spec      Spec
		in        []Record
		respond   func(int, lambdaRequest) ([]byte, error)
		wantData  []string
		wantKeys  []map[string]string
		wantFail  []failView
		wantCalls int
	}{
		{name: "ok", spec: lambdaSpec(), in: recs("a", "b"), respond: upper,
			wantData: []string{"A", "B"}, wantKeys: []map[string]string{nil, nil}, wantCalls: 1},
		{name: "partition keys", spec: lambdaSpec(), in: recs("a"),
			respond: func(_ int, req lambdaRequest) ([]byte, error) {
				return response(resp{id: "r0", result: "Ok", data: "x", keys: map[string]string{"region": "us-east-1", "year": "2019"}}), nil
			},
			wantData: []string{"x"}, wantKeys: []map[string]string{{"region": "us-east-1", "year": "2019"}}, wantCalls: 1},
		{name: "dropped, failed, missing", spec: lambdaSpec(), in: recs("a", "b", "c", "d"),
			respond: func(_ int, req lambdaRequest) ([]byte, error) {
				return response(resp{id: "r0", result: "Dropped"}, resp{id: "r1", result: "ProcessingFailed"},
					resp{id: "r3", result: "Ok", data: "D"}, resp{id: "nosuch", result: "Ok", data: "?"}), nil
			},
			wantData: []string{"D"}, wantKeys: []map[string]string{nil},
			wantFail: []failView{
				{ID: "r1", Raw: "b", Code: CodeLambdaProcessingFailed, Type: OutputProcessingFailed, Attempts: 1},
				{ID: "r2", Raw: "c", Code: CodeLambdaMissingRecordID, Type: OutputProcessingFailed, Attempts: 1},
			}, wantCalls: 1},
		{name: "duplicate", spec: lambdaSpec(), in: recs("a", "b"),
			respond: func(_ int, req lambdaRequest) ([]byte, error) {
				return response(resp{id: "r0", result: "Ok", data: "A"}, resp{id: "r1", result: "Ok", data: "B"}, resp{id: "r1", result: "Ok", data: "B"}), nil
			},
			wantData: []string{"A"}, wantKeys: []map[string]string{nil},
			wantFail: []failView{{ID: "r1", Raw: "b", Code: CodeLambdaDuplicatedRecordID, Type: OutputProcessingFailed, Attempts: 1}}, wantCalls: 1},
		{name: "ok without data", spec: lambdaSpec(), in: recs("a"),
			respond: func(_ int, req lambdaRequest) ([]byte, error) {
				return response(resp{id: "r0", result: "Ok", noData: true}), nil
			},
			wantFail: []failView{{ID: "r0", Raw: "a", Code: CodeLambdaInvalidReturnFormat, Type: OutputProcessingFailed, Attempts: 1}}, wantCalls: 1},
		{name: "garbage", spec: lambdaSpec(), in: recs("a", "b"),
			respond: func(int, lambdaRequest) ([]byte, error) { return []byte("not json"), nil },
			wantFail: []failView{
				{ID: "r0", Raw: "a", Code: CodeLambdaJSONProcessing, Type: OutputProcessingFailed, Attempts: 1},
				{ID: "r1", Raw: "b", Code: CodeLambdaJSONProcessing, Type: OutputProcessingFailed, Attempts: 1},
			}, wantCalls: 1},
		{name: "bad base64", spec: lambdaSpec(), in: recs("a", "b"),
			respond: func(int, lambdaRequest) ([]byte, error) {
				return []byte(`{"records":[{"recordId":"r0","result":"Ok","data":"QQ=="},{"recordId":"r1","result":"Ok","data":"!!"}]}`), nil
			},
			wantFail: []failView{
				{ID: "r0", Raw: "a", Code: CodeLambdaJSONProcessing, Type: OutputProcessingFailed, Attempts: 1},
				{ID: "r1", Raw: "b", Code: CodeLambdaJSONProcessing, Type: OutputProcessingFailed, Attempts: 1},
			}, wantCalls: 1},
		{name: "bad result", spec: lambdaSpec(), in: recs("a"),
			respond: func(int, lambdaRequest) ([]byte, error) {
				return []byte(`{"records":[{"recordId":"r0","result":"OK","data":"QQ=="}]}`), nil
			},
			wantFail: []failView{{ID: "r0", Raw: "a", Code: CodeLambdaJSONProcessing, Type: OutputProcessingFailed, Attempts: 1}}, wantCalls: 1},
		{name: "no records array", spec: lambdaSpec(), in: recs("a"),
			respond:  func(int, lambdaRequest) ([]byte, error) { return []byte(`{}`), nil },
			wantFail: []failView{{ID: "r0", Raw: "a", Code: CodeLambdaMissingRecordID, Type: OutputProcessingFailed, Attempts: 1}}, wantCalls: 1},
		{name: "invoke error then success", spec: lambdaSpec(), in: recs("a"),
			respond: func(call int, req lambdaRequest) ([]byte, error) {
				if call < 2 {
					return nil, throttled
				}
				return upper(call, req)
			},
			wantData: []string{"A"}, wantKeys: []map[string]string{nil}, wantCalls: 3},
		{name: "retries exhausted", spec: lambdaSpec("NumberOfRetries", "2"), in: recs("a", "b"),
			respond: func(int, lambdaRequest) ([]byte, error) { return nil, throttled },
			wantFail: []failView{
				{ID: "r0", Raw: "a", Code: CodeLambdaInvokeLimitExceeded, Type: OutputProcessingFailed, Attempts: 3},
				{ID: "r1", Raw: "b", Code: CodeLambdaInvokeLimitExceeded, Type: OutputProcessingFailed, Attempts: 3},
			}, wantCalls: 3},
		{name: "no retries, plain error", spec: lambdaSpec("NumberOfRetries", "0"), in: recs("a"),
			respond:  func(int, lambdaRequest) ([]byte, error) { return nil, errors.New("connection refused") },
			wantFail: []failView{{ID: "r0", Raw: "a", Code: CodeLambdaInvocationFailure, Type: OutputProcessingFailed, Attempts: 1}}, wantCalls: 1},
		{name: "response too large", spec: lambdaSpec("NumberOfRetries", "1"), in: recs("a"),
			respond:  func(int, lambdaRequest) ([]byte, error) { return make([]byte, MaxLambdaPayload+1), nil },
			wantFail: []failView{{ID: "r0", Raw: "a", Code: CodeLambdaFunctionError, Type: OutputProcessingFailed, Attempts: 2}}, wantCalls: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := &fakeInvoker{respond: tt.respond}
			var slept []time.Duration
			p := mustNew(t, Config{Processors: []Spec{tt.spec}, DeliveryStreamARN: "arn:aws:firehose:us-east-1:123456789012:deliverystream/s1", Region: "us-east-1",
				Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }}, inv)
			out, failed := process(t, p, tt.in)
			if d := diff(tt.wantData, datas(out)); d != "" {
				t.Errorf("data (-want +got):\n%s", d)
			}
			var keys []map[string]string
			for _, r := range out {
				keys = append(keys, r.Lambda)
			}
			if d := diff(tt.wantKeys, keys); d != "" {
				t.Errorf("keys (-want +got):\n%s", d)
			}
			if d := diff(tt.wantFail, failViews(failed)); d != "" {
				t.Errorf("failures (-want +got):\n%s", d)
			}
			for _, f := range failed {
				if f.LambdaARN != testARN || !f.At.Equal(tEnd) {
					t.Errorf("failure ARN %q at %v", f.LambdaARN, f.At)
				}
			}
			if len(inv.calls) != tt.wantCalls {
				t.Errorf("%d invocations, want %d", len(inv.calls), tt.wantCalls)
			}
			if len(slept) != max(tt.wantCalls-1, 0) {
				t.Errorf("slept %v", slept)
			}
			if len(inv.calls) > 0 {
				c := inv.calls[0]
				if c.InvocationID != "11111111-2222-3333-4444-555555555555" || c.DeliveryStreamArn != "arn:aws:firehose:us-east-1:123456789012:deliverystream/s1" || c.Region != "us-east-1" {
					t.Errorf("envelope %+v", c)
				}
				for i, r := range c.Records {
					if r.RecordID != tt.in[i].ID || r.Arrival != t0.UnixMilli() || string(r.Data) != string(tt.in[i].Data) {
						t.Errorf("request record %d = %+v", i, r)
					}
				}
			}
		})
	}
}

func TestLambdaBatching(t *testing.T) {
	// 0.2 MB = 209715 bytes per payload; records of 60,000 bytes are 80,000
	// in base64, so two fit per invocation.
	var in []Record
	for i := range 5 {
		in = append(in, Record{ID: "r" + string(rune('0'+i)), Arrival: t0, Data: []byte(strings.Repeat(string(rune('a'+i)), 60000))})
	}
	// A single record above the limit goes alone.
	in = append(in, Record{ID: "big", Arrival: t0, Data: make([]byte, 200000)})
	inv := &fakeInvoker{respond: upper}
	p := mustNew(t, Config{Processors: []Spec{lambdaSpec("BufferSizeInMBs", "0.2")}}, inv)
	out, failed := process(t, p, in)
	if len(failed) != 0 || len(out) != len(in) {
		t.Fatalf("out %d failed %d", len(out), len(failed))
	}
	var got [][]string
	for _, c := range inv.calls {
		var b []string
		for _, r := range c.Records {
			b = append(b, r.RecordID)
		}
		got = append(got, b)
	}
	want := [][]string{{"r0", "r1"}, {"r2", "r3"}, {"r4"}, {"big"}}
	if d := diff(want, got); d != "" {
		t.Errorf("batches (-want +got):\n%s", d)
	}
	for i, s := range inv.sizes[:3] {
		if s > 209715 {
			t.Errorf("payload %d is %d bytes", i, s)
		}
	}
	size, interval, ok := p.LambdaBuffering()
	if size != 209715 || interval != 60*time.Second || !ok {
		t.Errorf("LambdaBuffering = %d, %v, %v", size, interval, ok)
	}
}

func TestLambdaDuplicateInputID(t *testing.T) {
	p := mustNew(t, Config{Processors: []Spec{lambdaSpec()}}, &fakeInvoker{respond: upper})
	in := []Record{{ID: "x", Data: []byte("a")}, {ID: "x", Data: []byte("b")}}
	if _, _, err := p.Process(context.Background(), in); !errors.Is(err, ErrDuplicateID) {
		t.Fatalf("err = %v, want ErrDuplicateID", err)
	}
}

func TestLambdaCancelledDuringBackoff(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	inv := &fakeInvoker{respond: func(int, lambdaRequest) ([]byte, error) { cancel(); return nil, errors.New("boom") }}
	p := mustNew(t, Config{Processors: []Spec{lambdaSpec()}}, inv)
	if _, _, err := p.Process(ctx, recs("a")); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestBackoff(t *testing.T) {
	var got []time.Duration
	for a := 1; a <= 8; a++ {
		got = append(got, backoff(a))
	}
	want := []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, 1600 * time.Millisecond,
		3200 * time.Millisecond, 6400 * time.Millisecond, 10 * time.Second, 10 * time.Second}
	if d := diff(want, got); d != "" {
		t.Errorf("backoff (-want +got):\n%s", d)
	}
}
