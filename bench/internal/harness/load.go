package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
)

// LoadSpec is one measured load.
type LoadSpec struct {
	URL         string
	Sign        bool
	Raw         bool // pre-encoded bodies over plain HTTP instead of the SDK (see rawPutter)
	Stream      string
	Concurrency int
	Records     int // per PutRecordBatch call
	RecordBytes int
	Duration    time.Duration
	// Data returns record i of client g, exactly size bytes; nil means FillerRecord. Every
	// client sends the same Records records in every call, unless Bodies is above one.
	Data func(g, i, size int) []byte
	// Bodies is how many different batches each client sends, in turn (0 means 1): batch k
	// of client g holds records Data(g, k*Records+i, size) for i < Records.
	Bodies int
	// Calls, when above zero, ends the load after that many calls from all clients together,
	// or at Duration, whichever comes first.
	Calls int
}

// LoadResult is what a load measured. Only calls answered 200 with FailedPutCount 0 count as
// acknowledged; their records are durable on the server by its contract.
type LoadResult struct {
	Start         time.Time
	Elapsed       time.Duration
	OKCalls       int
	FailedCalls   int // whole-call errors (503 Slow down, transport errors)
	PartialCalls  int // 200 with FailedPutCount > 0
	AckedRecords  int
	AckedBytes    int64
	Latencies     []time.Duration // of OK calls, sorted
	FirstErr      error
	LoadEnded     time.Time
	ErrorsByClass map[string]int
}

// RecordsPerSec is the acknowledged records per second of the load.
func (r LoadResult) RecordsPerSec() float64 { return float64(r.AckedRecords) / r.Elapsed.Seconds() }

// MBPerSec is the acknowledged record bytes per second of the load, in 10^6 bytes.
func (r LoadResult) MBPerSec() float64 { return float64(r.AckedBytes) / 1e6 / r.Elapsed.Seconds() }

// Percentile returns the p-quantile (0..1) of the OK calls' latencies.
func (r LoadResult) Percentile(p float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := int(p*float64(len(r.Latencies))+0.5) - 1
	return r.Latencies[min(max(i, 0), len(r.Latencies)-1)]
}

// RunLoad sends PutRecordBatch calls from Concurrency clients until Duration has passed (or
// Calls calls were sent). Every call that starts before the deadline is allowed to finish and
// is counted.
func RunLoad(ctx context.Context, s LoadSpec) LoadResult {
	type workerOut struct {
		ok, failed, partial, records int
		bytes                        int64
		lat                          []time.Duration
		firstErr                     error
		classes                      map[string]int
	}
	data := s.Data
	if data == nil {
		data = FillerRecord
	}
	bodies := max(s.Bodies, 1)
	// Bodies are built before the clock starts.
	clients := make([]*firehose.Client, s.Concurrency)
	recs := make([][][]types.Record, s.Concurrency)
	raws := make([][]*rawPutter, s.Concurrency)
	for g := range s.Concurrency {
		clients[g] = NewClient(s.URL, 2, s.Sign)
		for k := range bodies {
			rs := make([]types.Record, s.Records)
			for i := range rs {
				rs[i].Data = data(g, k*s.Records+i, s.RecordBytes)
			}
			recs[g] = append(recs[g], rs)
			if s.Raw {
				raws[g] = append(raws[g], newRawPutter(s.URL, s.Stream, rs))
			}
		}
	}
	var calls atomic.Int64 // calls started, for s.Calls
	outs := make([]workerOut, s.Concurrency)
	start := time.Now()
	deadline := start.Add(s.Duration)
	var wg sync.WaitGroup
	for g := range s.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := &outs[g]
			o.classes = map[string]int{}
			batchBytes := int64(s.Records * s.RecordBytes)
			for n := 0; ctx.Err() == nil && time.Now().Before(deadline); n++ {
				if s.Calls > 0 && calls.Add(1) > int64(s.Calls) {
					break
				}
				t0 := time.Now()
				var out *firehose.PutRecordBatchOutput
				var err error
				if s.Raw {
					out, err = raws[g][n%bodies].put(ctx)
				} else {
					out, err = clients[g].PutRecordBatch(ctx, &firehose.PutRecordBatchInput{
						DeliveryStreamName: aws.String(s.Stream), Records: recs[g][n%bodies],
					})
				}
				d := time.Since(t0)
				switch {
				case err != nil:
					o.failed++
					o.classes[errClass(err)]++
					if o.firstErr == nil {
						o.firstErr = err
					}
				case aws.ToInt32(out.FailedPutCount) > 0:
					o.partial++
					for _, e := range out.RequestResponses {
						if e.ErrorCode == nil {
							o.records++
							o.bytes += int64(s.RecordBytes)
						}
					}
				default:
					o.ok++
					o.records += s.Records
					o.bytes += batchBytes
					o.lat = append(o.lat, d)
				}
			}
		}()
	}
	wg.Wait()
	r := LoadResult{Start: start}
	r.LoadEnded = time.Now()
	r.Elapsed = r.LoadEnded.Sub(start)
	r.ErrorsByClass = map[string]int{}
	for _, o := range outs {
		r.OKCalls += o.ok
		r.FailedCalls += o.failed
		r.PartialCalls += o.partial
		r.AckedRecords += o.records
		r.AckedBytes += o.bytes
		r.Latencies = append(r.Latencies, o.lat...)
		if r.FirstErr == nil {
			r.FirstErr = o.firstErr
		}
		for k, v := range o.classes {
			r.ErrorsByClass[k] += v
		}
	}
	slices.Sort(r.Latencies)
	return r
}

// FillerRecord is record i of client g: a tag and filler, size bytes long, ending in a newline.
func FillerRecord(g, i, size int) []byte {
	b := make([]byte, size)
	for j := range b {
		b[j] = 'a' + byte((j+i)%26)
	}
	copy(b, fmt.Sprintf("g%d-r%d ", g, i))
	if size > 0 {
		b[size-1] = '\n'
	}
	return b
}

func errClass(err error) string {
	var se interface{ ErrorCode() string }
	if errors.As(err, &se) {
		return se.ErrorCode()
	}
	return "transport"
}

// rawPutter sends one PutRecordBatch body, encoded once, over and over: it measures the server
// without the co-located client's JSON and base64 encoding of every call. The Authorization
// header is a well-formed SigV4 header with a dummy signature: moto routes on its credential
// scope, and neither target verifies it.
type rawPutter struct {
	url    string
	body   []byte
	client *http.Client
}

func newRawPutter(url, stream string, recs []types.Record) *rawPutter {
	type rec struct {
		Data []byte `json:"Data"`
	}
	in := struct {
		DeliveryStreamName string `json:"DeliveryStreamName"`
		Records            []rec  `json:"Records"`
	}{DeliveryStreamName: stream}
	for _, r := range recs {
		in.Records = append(in.Records, rec{Data: r.Data})
	}
	body, _ := json.Marshal(in) // []byte members encode as base64, as Firehose expects
	return &rawPutter{url: url, body: body, client: &http.Client{Timeout: 2 * time.Minute}}
}

func (p *rawPutter) put(ctx context.Context) (*firehose.PutRecordBatchOutput, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url+"/", bytes.NewReader(p.body))
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "Firehose_20150804.PutRecordBatch")
	req.Header.Set("X-Amz-Date", now.Format("20060102T150405Z"))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"+now.Format("20060102")+
		"/us-east-1/firehose/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature="+strings.Repeat("0", 64))
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("http %d: %s", resp.StatusCode, b)
	}
	var out struct {
		FailedPutCount   int32
		RequestResponses []struct{ ErrorCode *string }
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("decode response: %w", err)
	}
	res := &firehose.PutRecordBatchOutput{FailedPutCount: aws.Int32(out.FailedPutCount)}
	for _, e := range out.RequestResponses {
		res.RequestResponses = append(res.RequestResponses, types.PutRecordBatchResponseEntry{ErrorCode: e.ErrorCode})
	}
	return res, nil
}
