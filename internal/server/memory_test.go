package server

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
)

// TestPutOverMemoryBudgetIsRefusedAndNothingIsLost: while the memory budget is used up, puts
// are answered ServiceUnavailableException "Slow down." (HTTP 503) without being stored; once
// it has room they are accepted again, and exactly the acknowledged records are delivered.
func TestPutOverMemoryBudgetIsRefusedAndNothingIsLost(t *testing.T) {
	ts := startServer(t, "", func(c *Config) { c.MemoryBudget = MinMemoryBudget })
	ctx := context.Background()
	ts.createStream(t, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("mem"), ExtendedS3DestinationConfiguration: s3Config("mem")})
	noRetry := func(o *firehose.Options) { o.RetryMaxAttempts = 1 }
	batch := func(fill byte) (*firehose.PutRecordBatchInput, []byte) {
		rec := bytes.Repeat([]byte{fill}, 100_000)
		in := &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("mem")}
		var want []byte
		for range 10 {
			in.Records = append(in.Records, types.Record{Data: rec})
			want = append(want, rec...)
		}
		return in, want
	}

	var acked []byte
	in, want := batch('a')
	if _, err := ts.client.PutRecordBatch(ctx, in, noRetry); err != nil {
		t.Fatal(err)
	}
	acked = append(acked, want...)

	// Someone else holds all but 1 MiB of the budget: a 1.3 MB request needs 2.6 MB.
	var held int64
	for {
		st := ts.srv.budget.Stats()
		if n := st.Limit - st.Used - 1<<20; n > 0 && ts.srv.budget.TryAcquire(n) {
			held = n
			break
		}
	}
	in, _ = batch('b')
	_, err := ts.client.PutRecordBatch(ctx, in, noRetry)
	if err == nil {
		t.Fatal("a put over the memory budget was accepted")
	}
	if code, msg := apiError(t, err); code != "ServiceUnavailableException" || msg != "Slow down." {
		t.Errorf("PutRecordBatch refusal %s: %s, want ServiceUnavailableException: Slow down.", code, msg)
	}
	body := `{"DeliveryStreamName":"mem","Record":{"Data":"` + strings.Repeat("Y", 700_000) + `"}}`
	req, _ := http.NewRequest("POST", ts.url+"/", strings.NewReader(body))
	req.Header.Set("X-Amz-Target", "Firehose_20150804.PutRecord")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || string(got) != `{"__type":"ServiceUnavailableException","message":"Slow down."}` {
		t.Errorf("PutRecord over the budget: %d %s, want 503 and Slow down.", resp.StatusCode, got)
	}
	if n := ts.srv.api.Refused(); n != 2 {
		t.Errorf("%d requests refused for lack of budget, want 2", n)
	}
	exposition := scrape(t, ts)
	for name, want := range map[string]float64{"hydrant_memory_budget_bytes": 64 << 20, "hydrant_memory_budget_refused_requests": 2} {
		if got, ok := sample(exposition, name); !ok || got != want {
			t.Errorf("/metrics %s = %v (found %v), want %v", name, got, ok, want)
		}
	}
	if got, _ := sample(exposition, "hydrant_memory_budget_used_bytes"); got < float64(held) {
		t.Errorf("/metrics hydrant_memory_budget_used_bytes = %v, want at least the %d held", got, held)
	}

	ts.srv.budget.Release(held)
	in, want = batch('c')
	if _, err := ts.client.PutRecordBatch(ctx, in, noRetry); err != nil {
		t.Fatalf("put after the budget had room again: %v", err)
	}
	acked = append(acked, want...)
	ts.flush(t)
	var delivered []byte
	objs := ts.objects(t, "mem")
	for _, k := range sortedKeys(objs) {
		delivered = append(delivered, objs[k]...)
	}
	// The squeeze may have written the first batch as an object of its own, and objects
	// written within one second sort by their random id: compare the records, not the order.
	chunks := func(b []byte) []string {
		var out []string
		for len(b) >= 100_000 {
			out = append(out, string(b[:100_000]))
			b = b[100_000:]
		}
		if len(b) > 0 {
			out = append(out, string(b))
		}
		slices.Sort(out)
		return out
	}
	if len(delivered) != len(acked) || !slices.Equal(chunks(delivered), chunks(acked)) {
		t.Errorf("delivered %d bytes, want exactly the %d acknowledged", len(delivered), len(acked))
	}
}

// sample returns the value of the unlabelled sample name in a Prometheus exposition.
func sample(exposition, name string) (float64, bool) {
	for line := range strings.Lines(exposition) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}

func scrape(t testing.TB, ts *testServer) string {
	t.Helper()
	resp, err := http.Get(ts.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
