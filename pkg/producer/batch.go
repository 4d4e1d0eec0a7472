package producer

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
)

// PutRecord sends one record, retrying retryable errors (see Retryable) with
// exponential back-off and full jitter, bounded by cfg.MaxTrials and cfg.MaxElapsed,
// and returns the record ID Firehose assigned. The error wraps the last error of
// the service, ErrRecordTooLarge, ErrInvalidConfig, or the context's error.
func PutRecord(ctx context.Context, c Client, stream string, data []byte, cfg Config) (recordID string, err error) {
	if err := checkArgs(c, stream, cfg); err != nil {
		return "", err
	}
	if len(data) > MaxRecordBytes {
		return "", fmt.Errorf("put record to %s: %w (%d bytes)", stream, ErrRecordTooLarge, len(data))
	}
	cfg = cfg.withDefaults()
	log := cfg.Logger.With("stream", stream)
	deadline := cfg.Clock.Now().Add(cfg.MaxElapsed)
	in := &firehose.PutRecordInput{DeliveryStreamName: aws.String(stream), Record: &types.Record{Data: data}}
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return "", fmt.Errorf("put record to %s: %w", stream, err)
		}
		out, err := c.PutRecord(ctx, in, noSDKRetries)
		if err == nil {
			id := aws.ToString(out.RecordId)
			log.Info("put record", "records", 1, "attempt", attempt, "record_id", id)
			return id, nil
		}
		if ctx.Err() != nil {
			return "", fmt.Errorf("put record to %s: %w", stream, ctx.Err())
		}
		code, _ := errorCode(err)
		if !Retryable(err) || attempt >= cfg.MaxTrials {
			log.Error("put record failed", "records", 1, "attempt", attempt, "code", code, "err", err)
			return "", fmt.Errorf("put record to %s after %s: %w", stream, count(attempt, "attempt", "attempts"), err)
		}
		d, ok, werr := cfg.wait(ctx, attempt-1, deadline)
		if werr != nil {
			return "", fmt.Errorf("put record to %s: %w", stream, werr)
		}
		if !ok {
			log.Error("put record failed", "records", 1, "attempt", attempt, "code", code, "err", err, "reason", "MaxElapsed")
			return "", fmt.Errorf("put record to %s after %s (MaxElapsed %v): %w", stream, count(attempt, "attempt", "attempts"), cfg.MaxElapsed, err)
		}
		log.Warn("put record retry", "records", 1, "attempt", attempt, "code", code, "err", err, "delay", d)
	}
}

// PutRecordBatch sends records in as many PutRecordBatch calls as the limits require
// (see Chunks), one after another. Per chunk it resends only the entries that came back
// with an ErrorCode, and the whole chunk after a retryable call error, up to
// cfg.MaxTrials attempts per record with back-off between rounds, within
// cfg.MaxElapsed. Records still failing, records larger than MaxRecordBytes
// (ErrorCodeRecordTooLarge, never sent) and records of a chunk refused with a
// non-retryable error are returned in Result.Failed with their last error.
//
// The error is non-nil only for invalid arguments (ErrInvalidConfig) or an ended
// context; in the latter case Result still counts what was acknowledged, and every
// record not acknowledged is in Failed (ErrorCodeCanceled unless it had failed before).
func PutRecordBatch(ctx context.Context, c Client, stream string, records [][]byte, cfg Config) (Result, error) {
	if err := checkArgs(c, stream, cfg); err != nil {
		return Result{}, err
	}
	cfg = cfg.withDefaults()
	s := sender{c: c, stream: stream, cfg: cfg, log: cfg.Logger.With("stream", stream)}
	deadline := cfg.Clock.Now().Add(cfg.MaxElapsed)
	chunks, oversized := chunk(records, MaxBatchRecords, MaxBatchBytes)
	var res Result
	for _, i := range oversized {
		res.Failed = append(res.Failed, tooLarge(i, records[i]))
	}
	if len(oversized) > 0 {
		s.log.Warn("records too large", "records", len(oversized), "failed", len(oversized), "attempt", 0)
	}
	for k, idx := range chunks {
		recs := make([]rec, len(idx))
		for j, i := range idx {
			recs[j] = rec{index: i, data: records[i]}
		}
		if err := s.send(ctx, recs, deadline, &res); err != nil {
			for _, ch := range chunks[k+1:] {
				for _, i := range ch {
					res.Failed = append(res.Failed, FailedRecord{Index: i, Data: records[i], ErrorCode: ErrorCodeCanceled, ErrorMessage: err.Error()})
				}
			}
			sortFailed(res.Failed)
			return res, fmt.Errorf("put record batch to %s: %w", stream, err)
		}
	}
	sortFailed(res.Failed)
	return res, nil
}

func sortFailed(f []FailedRecord) {
	slices.SortFunc(f, func(a, b FailedRecord) int { return a.Index - b.Index })
}

func checkArgs(c Client, stream string, cfg Config) error {
	if c == nil {
		return fmt.Errorf("%w: nil Client", ErrInvalidConfig)
	}
	if stream == "" {
		return fmt.Errorf("%w: empty stream name", ErrInvalidConfig)
	}
	return cfg.Validate()
}

func tooLarge(i int, data []byte) FailedRecord {
	return FailedRecord{Index: i, Data: data, ErrorCode: ErrorCodeRecordTooLarge,
		ErrorMessage: fmt.Sprintf("record of %d bytes exceeds %d", len(data), MaxRecordBytes)}
}

// Chunks splits records into calls of at most MaxBatchRecords records and MaxBatchBytes
// bytes, preserving order; each chunk is a list of indexes into records. Records larger
// than MaxRecordBytes are returned in oversized and appear in no chunk.
func Chunks(records [][]byte) (chunks [][]int, oversized []int) {
	return chunk(records, MaxBatchRecords, MaxBatchBytes)
}

func chunk(records [][]byte, maxRecords, maxBytes int) (chunks [][]int, oversized []int) {
	var cur []int
	size := 0
	for i, r := range records {
		if len(r) > MaxRecordBytes {
			oversized = append(oversized, i)
			continue
		}
		if len(cur) > 0 && (len(cur) == maxRecords || size+len(r) > maxBytes) {
			chunks = append(chunks, cur)
			cur, size = nil, 0
		}
		cur = append(cur, i)
		size += len(r)
	}
	if len(cur) > 0 {
		chunks = append(chunks, cur)
	}
	return chunks, oversized
}

// rec is a record with its index in the caller's numbering.
type rec struct {
	index int
	data  []byte
}

// sender sends chunks of one stream with retries.
type sender struct {
	c      Client
	stream string
	cfg    Config
	log    *slog.Logger
}

// send delivers one chunk (within the limits), adding its outcome to res. It returns
// an error only when ctx ends; then every record of the chunk not acknowledged is in
// res.Failed.
func (s *sender) send(ctx context.Context, recs []rec, deadline time.Time, res *Result) error {
	type pending struct {
		rec
		attempts  int
		code, msg string
	}
	todo := make([]pending, len(recs))
	for i, r := range recs {
		todo[i] = pending{rec: r}
	}
	in := &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String(s.stream), Records: make([]types.Record, 0, len(recs))}
	giveUp := func(reason string) {
		for _, p := range todo {
			res.Failed = append(res.Failed, FailedRecord{Index: p.index, Data: p.data, ErrorCode: p.code, ErrorMessage: p.msg, Attempts: p.attempts})
		}
		if reason != "" {
			s.log.Error("put record batch failed", "records", len(recs), "failed", len(todo), "attempt", todo[0].attempts, "code", todo[0].code, "reason", reason)
		}
		todo = nil
	}
	for round := 1; len(todo) > 0; round++ {
		if err := ctx.Err(); err != nil {
			for i := range todo {
				if todo[i].code == "" {
					todo[i].code, todo[i].msg = ErrorCodeCanceled, err.Error()
				}
			}
			giveUp("")
			return err
		}
		if round > 1 {
			res.Retried += len(todo)
		}
		in.Records = in.Records[:0]
		for i := range todo {
			in.Records = append(in.Records, types.Record{Data: todo[i].data})
			todo[i].attempts++
		}
		out, err := s.c.PutRecordBatch(ctx, in, noSDKRetries)
		if err == nil && len(out.RequestResponses) != len(in.Records) {
			err = fmt.Errorf("malformed response: %s for %s", count(len(out.RequestResponses), "entry", "entries"), count(len(in.Records), "record", "records"))
		}
		retry := todo[:0]
		if err != nil {
			if ctx.Err() != nil {
				continue // reported at the top of the loop
			}
			code, msg := errorCode(err)
			for i := range todo {
				todo[i].code, todo[i].msg = code, msg
			}
			if !Retryable(err) {
				s.log.Error("put record batch failed", "records", len(todo), "failed", len(todo), "attempt", round, "code", code, "err", err)
				giveUp("")
				return nil
			}
			s.log.Warn("put record batch call failed", "records", len(todo), "failed", len(todo), "attempt", round, "code", code, "err", err)
			retry = todo
		} else {
			sent := 0
			permanent := 0
			debug := s.log.Enabled(ctx, slog.LevelDebug)
			for i, e := range out.RequestResponses {
				p := todo[i]
				if e.ErrorCode == nil {
					sent++
					continue
				}
				p.code, p.msg = aws.ToString(e.ErrorCode), aws.ToString(e.ErrorMessage)
				if debug {
					s.log.Debug("record failed", "index", p.index, "attempt", round, "code", p.code, "err", p.msg)
				}
				if !retryableCode(p.code) {
					res.Failed = append(res.Failed, FailedRecord{Index: p.index, Data: p.data, ErrorCode: p.code, ErrorMessage: p.msg, Attempts: p.attempts})
					permanent++
					continue
				}
				retry = append(retry, p)
			}
			res.Sent += sent
			lvl := s.log.Info
			if len(retry)+permanent > 0 {
				lvl = s.log.Warn
			}
			lvl("put record batch", "records", len(in.Records), "failed", len(retry)+permanent, "attempt", round)
		}
		todo = retry
		if len(todo) == 0 {
			return nil
		}
		if round >= s.cfg.MaxTrials {
			giveUp("MaxTrials")
			return nil
		}
		d, ok, werr := s.cfg.wait(ctx, round-1, deadline)
		if werr != nil {
			for i := range todo {
				if todo[i].code == "" {
					todo[i].code, todo[i].msg = ErrorCodeCanceled, werr.Error()
				}
			}
			giveUp("")
			return werr
		}
		if !ok {
			giveUp("MaxElapsed")
			return nil
		}
		s.log.Info("put record batch retry", "records", len(todo), "attempt", round+1, "delay", d)
	}
	return nil
}
