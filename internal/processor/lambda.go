package processor

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Lambda limits and defaults.
const (
	// MaxLambdaPayload is Lambda's synchronous payload limit, for the
	// request and for the response (6 MiB).
	MaxLambdaPayload = 6 << 20
	// DefaultNumberOfRetries is NumberOfRetries when not given.
	DefaultNumberOfRetries = 3
	// DefaultBufferSizeInMBs is BufferSizeInMBs when not given.
	DefaultBufferSizeInMBs = 1.0
	// DefaultBufferIntervalInSeconds is BufferIntervalInSeconds when not
	// given.
	DefaultBufferIntervalInSeconds = 60
	// firstBackoff and maxBackoff bound the wait between attempts.
	firstBackoff = 200 * time.Millisecond
	maxBackoff   = 10 * time.Second
)

// lambdaStage is the Lambda processor.
type lambdaStage struct {
	arn       string
	retries   int
	limit     int // payload bytes per invocation
	interval  time.Duration
	streamARN string
	region    string
	inv       Invoker
	now       func() time.Time
	sleep     func(context.Context, time.Duration) error
	newID     func() string
}

func newLambdaStage(s Spec, cfg Config, inv Invoker, now func() time.Time) (*lambdaStage, error) {
	st := &lambdaStage{
		arn:       s.Parameters[ParamLambdaArn],
		retries:   DefaultNumberOfRetries,
		interval:  DefaultBufferIntervalInSeconds * time.Second,
		streamARN: cfg.DeliveryStreamARN,
		region:    cfg.Region,
		inv:       inv,
		now:       now,
		sleep:     cfg.Sleep,
		newID:     cfg.NewInvocationID,
	}
	size := DefaultBufferSizeInMBs
	if v, ok := s.Parameters[ParamNumberOfRetries]; ok {
		st.retries, _ = strconv.Atoi(v) // validated
	}
	if v, ok := s.Parameters[ParamBufferSizeInMBs]; ok {
		size, _ = strconv.ParseFloat(v, 64)
	}
	if v, ok := s.Parameters[ParamBufferIntervalInSeconds]; ok {
		n, _ := strconv.Atoi(v)
		st.interval = time.Duration(n) * time.Second
	}
	st.limit = min(int(size*(1<<20)), MaxLambdaPayload)
	if st.sleep == nil {
		st.sleep = sleepCtx
	}
	if st.newID == nil {
		st.newID = uuid.NewString
	}
	return st, nil
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// lambdaResponse is the response payload of the transformation contract.
type lambdaResponse struct {
	Records []struct {
		RecordID string  `json:"recordId"`
		Result   string  `json:"result"`
		Data     *string `json:"data"`
		Metadata *struct {
			PartitionKeys map[string]string `json:"partitionKeys"`
		} `json:"metadata"`
	} `json:"records"`
}

func (s *lambdaStage) run(ctx context.Context, r *runState, in []item) ([]item, error) {
	seen := make(map[string]struct{}, len(in))
	for _, it := range in {
		if _, dup := seen[it.rec.ID]; dup {
			return nil, fmt.Errorf("%w: %q", ErrDuplicateID, it.rec.ID)
		}
		seen[it.rec.ID] = struct{}{}
	}
	out := make([]item, 0, len(in))
	var (
		payload bytes.Buffer
		frag    []byte
		start   int // first item of the batch being built
	)
	header := s.header()
	payload.Write(header)
	for i := range in {
		frag = s.appendRecord(frag[:0], in[i])
		if i > start && payload.Len()+1+len(frag)+2 > s.limit {
			var err error
			if out, err = s.invoke(ctx, r, &payload, in[start:i], out); err != nil {
				return nil, err
			}
			payload.Reset()
			payload.Write(header)
			start = i
		}
		if i > start {
			payload.WriteByte(',')
		}
		payload.Write(frag)
	}
	if start < len(in) {
		var err error
		if out, err = s.invoke(ctx, r, &payload, in[start:], out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// header is the payload up to the records array, with a placeholder
// invocationId of the final length (36 characters).
func (s *lambdaStage) header() []byte {
	var b []byte
	b = append(b, `{"invocationId":"`...)
	b = append(b, "00000000-0000-0000-0000-000000000000"...)
	b = append(b, `","deliveryStreamArn":`...)
	b = appendJSONString(b, s.streamARN)
	b = append(b, `,"region":`...)
	b = appendJSONString(b, s.region)
	b = append(b, `,"records":[`...)
	return b
}

// appendRecord appends the JSON of one request record.
func (s *lambdaStage) appendRecord(b []byte, it item) []byte {
	b = append(b, `{"recordId":`...)
	b = appendJSONString(b, it.rec.ID)
	b = append(b, `,"approximateArrivalTimestamp":`...)
	b = strconv.AppendInt(b, it.rec.Arrival.UnixMilli(), 10)
	b = append(b, `,"data":"`...)
	b = base64.StdEncoding.AppendEncode(b, it.rec.Data)
	return append(b, `"}`...)
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	enc, _ := json.Marshal(s) // a string always marshals
	return append(b, enc...)
}

// invoke sends one batch (payload holds the header and the records, without
// the closing brackets) and appends the batch's surviving records to out.
func (s *lambdaStage) invoke(ctx context.Context, r *runState, payload *bytes.Buffer, batch []item, out []item) ([]item, error) {
	payload.WriteString("]}")
	body := payload.Bytes()
	id := s.newID()
	const idAt = len(`{"invocationId":"`)
	if len(id) == 36 {
		copy(body[idAt:idAt+36], id)
	}
	var (
		resp     []byte
		code     string
		msg      string
		attempts int
	)
	for attempts = 1; ; attempts++ {
		var err error
		resp, err = s.inv.Invoke(ctx, s.arn, body)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err == nil && len(resp) <= MaxLambdaPayload {
			code = ""
			break
		}
		code, msg = invokeFailure(err, len(resp))
		if attempts > s.retries {
			break
		}
		if err := s.sleep(ctx, backoff(attempts)); err != nil {
			return nil, err
		}
	}
	if code != "" {
		for _, it := range batch {
			r.fail(it, code, msg, OutputProcessingFailed, attempts, s.arn)
		}
		return out, nil
	}
	return s.apply(r, resp, batch, out, attempts), nil
}

// invokeFailure names a failed attempt.
func invokeFailure(err error, respLen int) (code, msg string) {
	var ie *InvokeError
	switch {
	case err == nil:
		return CodeLambdaFunctionError, fmt.Sprintf(
			"Response payload size (%d bytes) exceeded maximum allowed payload size (%d bytes).", respLen, MaxLambdaPayload)
	case errors.As(err, &ie):
		return ie.Code, ie.Message
	}
	return CodeLambdaInvocationFailure, err.Error()
}

// backoff is the wait after the given attempt: 200 ms doubling, at most 10 s.
func backoff(attempt int) time.Duration {
	d := firstBackoff
	for i := 1; i < attempt && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

// lambdaOutcome is what the response says about one record.
type lambdaOutcome struct {
	result  string
	data    []byte
	hasData bool
	keys    map[string]string
	dup     bool
}

// apply applies a response to its batch.
func (s *lambdaStage) apply(r *runState, resp []byte, batch []item, out []item, attempts int) []item {
	var lr lambdaResponse
	outcomes := make(map[string]*lambdaOutcome, len(batch))
	for _, it := range batch {
		outcomes[it.rec.ID] = nil
	}
	err := json.Unmarshal(resp, &lr)
	if err == nil {
		for _, rr := range lr.Records {
			cur, ours := outcomes[rr.RecordID]
			if !ours {
				continue // an id we never sent is ignored
			}
			if cur != nil {
				cur.dup = true
				continue
			}
			o := &lambdaOutcome{result: rr.Result}
			switch rr.Result {
			case "Ok", "Dropped", "ProcessingFailed":
			default:
				err = fmt.Errorf("invalid result %q", rr.Result)
			}
			if rr.Data != nil {
				o.data, o.hasData = make([]byte, base64.StdEncoding.DecodedLen(len(*rr.Data))), true
				n, derr := base64.StdEncoding.Decode(o.data, []byte(*rr.Data))
				if derr != nil {
					err = derr
				}
				o.data = o.data[:n]
			}
			if rr.Metadata != nil {
				o.keys = rr.Metadata.PartitionKeys
			}
			outcomes[rr.RecordID] = o
		}
	}
	if err != nil {
		for _, it := range batch {
			r.fail(it, CodeLambdaJSONProcessing, msgLambdaJSONProcessing, OutputProcessingFailed, attempts, s.arn)
		}
		return out
	}
	for _, it := range batch {
		o := outcomes[it.rec.ID]
		switch {
		case o == nil:
			r.fail(it, CodeLambdaMissingRecordID, msgLambdaMissing, OutputProcessingFailed, attempts, s.arn)
		case o.dup:
			r.fail(it, CodeLambdaDuplicatedRecordID, msgLambdaDuplicated, OutputProcessingFailed, attempts, s.arn)
		case o.result == "Dropped":
		case o.result == "ProcessingFailed":
			r.fail(it, CodeLambdaProcessingFailed, msgLambdaFailedStatus, OutputProcessingFailed, attempts, s.arn)
		case !o.hasData:
			r.fail(it, CodeLambdaInvalidReturnFormat, msgLambdaNullData, OutputProcessingFailed, attempts, s.arn)
		default:
			it.rec.Data = o.data
			it.rec.Lambda = o.keys
			out = append(out, it)
		}
	}
	return out
}
