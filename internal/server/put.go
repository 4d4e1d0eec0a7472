package server

import (
	"context"
	"errors"
	"time"

	"github.com/hydrant-dev/hydrant/internal/api"
	"github.com/hydrant-dev/hydrant/internal/api/shape"
	"github.com/hydrant-dev/hydrant/internal/auth"
	"github.com/hydrant-dev/hydrant/internal/journal"
	"github.com/hydrant-dev/hydrant/internal/metrics"
)

// maxBatchBytes is PutRecordBatch's limit on the decoded size of all records of one call.
const maxBatchBytes = 4 << 20

// putRecord serves PutRecord: one record, acknowledged once it is synced in the journal.
func (s *Server) putRecord(ctx context.Context, body []byte) (any, error) {
	start := time.Now()
	pb := s.putBatches.Get().(*shape.PutBatch)
	defer s.putBatches.Put(pb)
	if err := shape.DecodePutRecord(body, pb); err != nil {
		return nil, err
	}
	if err := auth.Authorize(ctx, "firehose:PutRecord", pb.DeliveryStreamName); err != nil {
		return nil, err
	}
	pos, encrypted, err := s.append(ctx, pb)
	s.recordPut(pb, "PutRecord", start, err)
	if err != nil {
		return nil, err
	}
	return &api.PutRecordOutput{RecordID: pos.RecordID(0), Encrypted: encrypted}, nil
}

// putRecordBatch serves PutRecordBatch. The whole batch is one journal message, so it is
// accepted or refused as a unit; a refusal is a whole-request ServiceUnavailableException,
// which every AWS SDK retries.
func (s *Server) putRecordBatch(ctx context.Context, body []byte) (any, error) {
	start := time.Now()
	pb := s.putBatches.Get().(*shape.PutBatch)
	defer s.putBatches.Put(pb)
	if err := shape.DecodePutRecordBatch(body, pb); err != nil {
		return nil, err
	}
	if err := auth.Authorize(ctx, "firehose:PutRecordBatch", pb.DeliveryStreamName); err != nil {
		return nil, err
	}
	if pb.TotalBytes > maxBatchBytes {
		return nil, api.Errorf(api.CodeInvalidArgument, "Records size exceeds 4 MB limit")
	}
	// Injected faults fail some records; only the others are stored.
	fail := s.faults.failing(pb.DeliveryStreamName, len(pb.Records))
	all := pb.Records
	if fail != nil {
		kept := make([][]byte, 0, len(all))
		for i, r := range all {
			if !fail[i] {
				kept = append(kept, r)
			}
		}
		pb.Records = kept
		pb.TotalBytes = 0
		for _, r := range kept {
			pb.TotalBytes += len(r)
		}
	}
	var pos journal.Position
	var encrypted bool
	var err error
	if len(pb.Records) == 0 && fail != nil { // every record failed by injection: the stream must still exist
		if _, err := s.svc.target(pb.DeliveryStreamName); err != nil {
			return nil, err
		}
	}
	if len(pb.Records) > 0 || fail == nil {
		pos, encrypted, err = s.append(ctx, pb)
		s.recordPut(pb, "PutRecordBatch", start, err)
		if err != nil {
			return nil, err
		}
	}
	out := &api.PutRecordBatchOutput{Encrypted: encrypted, RequestResponses: make([]api.PutRecordBatchResponseEntry, len(all))}
	next := 0
	for i := range all {
		if fail != nil && fail[i] {
			out.RequestResponses[i] = api.PutRecordBatchResponseEntry{ErrorCode: api.CodeServiceUnavailable, ErrorMessage: "Slow down."}
			out.FailedPutCount++
			continue
		}
		out.RequestResponses[i].RecordID = pos.RecordID(next)
		next++
	}
	if out.FailedPutCount > 0 {
		s.rec.Record(pb.DeliveryStreamName, "ThrottledRecords", metrics.UnitCount, float64(out.FailedPutCount))
	}
	return out, nil
}

func (s *Server) append(ctx context.Context, pb *shape.PutBatch) (journal.Position, bool, error) {
	st, err := s.svc.target(pb.DeliveryStreamName)
	if err != nil {
		return journal.Position{}, false, err
	}
	if s.faults.throttle(st.Name) {
		return journal.Position{}, false, api.Errorf(api.CodeServiceUnavailable, "Slow down.")
	}
	pos, err := s.appendRecords(ctx, st.Name, s.now(), pb.Records)
	switch {
	case errors.Is(err, journal.ErrFull):
		if ok, suppressed := s.refusals.allow(st.Name); ok {
			s.log.Warn("journal full; put refused", "stream", st.Name, "records", len(pb.Records),
				"refusals_not_logged", suppressed, "err", err)
		}
		return pos, false, api.Errorf(api.CodeServiceUnavailable, "Slow down.")
	case errors.Is(err, journal.ErrNoStream):
		return pos, false, s.svc.notFound(st.Name)
	case err != nil:
		s.log.Error("journal append failed", "stream", st.Name, "err", err)
		return pos, false, api.Errorf(api.CodeServiceUnavailable, "Slow down.")
	}
	return pos, st.Encryption.Status == string(api.EncryptionEnabled), nil
}

// recordPut records the ingestion metrics of a put that reached a stream: every accepted record
// is counted once in IncomingRecords and IncomingBytes; refused ones in ThrottledRecords.
func (s *Server) recordPut(pb *shape.PutBatch, op string, start time.Time, err error) {
	var e *api.Error
	if err != nil && (!errors.As(err, &e) || e.Code != api.CodeServiceUnavailable) {
		return // the stream does not exist or refuses puts: nothing reached it
	}
	name, n, bytes := pb.DeliveryStreamName, float64(len(pb.Records)), float64(pb.TotalBytes)
	if err != nil {
		s.rec.Record(name, "ThrottledRecords", metrics.UnitCount, n)
		return
	}
	s.rec.Record(name, "IncomingBytes", metrics.UnitBytes, bytes)
	s.rec.Record(name, "IncomingRecords", metrics.UnitCount, n)
	s.rec.Record(name, "IncomingPutRequests", metrics.UnitCount, 1)
	s.rec.Record(name, op+".Bytes", metrics.UnitBytes, bytes)
	s.rec.Record(name, op+".Requests", metrics.UnitCount, 1)
	s.rec.Record(name, op+".Latency", metrics.UnitMilliseconds, float64(time.Since(start).Microseconds())/1000)
	if op == "PutRecordBatch" {
		s.rec.Record(name, op+".Records", metrics.UnitCount, n)
	}
}
