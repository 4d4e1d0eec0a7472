package delivery

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hydrant-dev/hydrant/internal/destination"
	"github.com/hydrant-dev/hydrant/internal/journal"
	"github.com/hydrant-dev/hydrant/internal/metrics"
	"github.com/hydrant-dev/hydrant/internal/prefix"
	"github.com/hydrant-dev/hydrant/internal/processor"
)

// procMsg is one journal message handed to the processing stage, with the identities of its
// records that are already in objects (a replay) and must not be routed again.
type procMsg struct {
	b    journal.Batch
	skip map[uint64]bool
}

// procJob is one batch of messages of one leg to process; results return in seqNo order.
type procJob struct {
	seqNo    uint64
	gen      int
	leg      *legRun
	msgs     []procMsg
	caughtUp bool // the reader had caught up after the last message
}

// routed is an output record bound for a partition buffer.
type routed struct {
	seq     uint64
	ident   uint64
	part    string
	values  prefix.Values
	data    []byte
	arrival time.Time
}

// failedRec is a record bound for the error output, as its error document.
type failedRec struct {
	seq     uint64
	ident   uint64
	doc     []byte
	typ     string
	kind    string // processing or partitioning
	code    string
	message string
	arrival time.Time
	at      time.Time
}

// procResult is what the stage returns for a job.
type procResult struct {
	job    *procJob
	out    []routed
	failed []failedRec
	err    error
}

// process runs a job: the leg's processors over every record of its messages, then the
// partition key of each output record. It runs off the actor, in the shared pool.
func process(ctx context.Context, job *procJob, rec Recorder, stream string, now func() time.Time) procResult {
	l := job.leg
	type origin struct {
		seq   uint64
		index int
		skip  map[uint64]bool
	}
	var in []processor.Record
	origins := make(map[string]origin)
	for _, m := range job.msgs {
		for i, r := range m.b.Records {
			id := m.b.RecordID(i)
			in = append(in, processor.Record{Data: r, Arrival: m.b.ArrivalAt(i), ID: id})
			origins[id] = origin{seq: m.b.Seq, index: i, skip: m.skip}
		}
	}
	res := procResult{job: job}
	locate := func(id string) (uint64, uint64, map[uint64]bool, bool) {
		base, suffix, _ := strings.Cut(id, ".")
		o, ok := origins[base]
		if !ok {
			return 0, 0, nil, false
		}
		if suffix != "" {
			suffix = "." + suffix
		}
		return o.seq, identity(o.index, suffix), o.skip, true
	}
	out, failed := in, []processor.Failure(nil)
	if l.Processor != nil && len(in) > 0 {
		start := time.Now()
		var err error
		if out, failed, err = l.Processor.Process(ctx, in); err != nil {
			res.err = fmt.Errorf("process records: %w", err)
			return res
		}
		recordProcessing(rec, stream, l.LegSpec, time.Since(start), out, failed)
	}
	raw := func(id string) []byte {
		base, _, _ := strings.Cut(id, ".")
		if o, ok := origins[base]; ok {
			for _, m := range job.msgs {
				if m.b.Seq == o.seq {
					return m.b.Records[o.index]
				}
			}
		}
		return nil
	}
	checked := map[string]error{} // partition id → CheckKey's verdict, once per job
	for _, r := range out {
		seq, ident, skip, ok := locate(r.ID)
		if !ok {
			res.err = fmt.Errorf("process records: output record id %q matches no input record", r.ID)
			return res
		}
		if skip[ident] {
			continue
		}
		if !l.Dynamic {
			res.out = append(res.out, routed{seq: seq, ident: ident, data: r.Data, arrival: r.Arrival})
			continue
		}
		v := prefix.Values{Time: r.Arrival, Location: l.Location, Query: r.Query, Lambda: r.Lambda, Rand: zeroRand}
		id, err := l.Prefix.Eval(v)
		if err == nil {
			// A key no destination can hold would fail every write: the record fails instead.
			var seen bool
			if err, seen = checked[id]; !seen {
				err = destination.CheckKey(id + "x")
				checked[id] = err
			}
		}
		if err != nil {
			f := processor.Failure{Raw: processor.Record{Data: raw(r.ID), Arrival: r.Arrival, ID: r.ID},
				Code: processor.CodeMetadataExtractionFailed, Message: err.Error(), Attempts: 1, At: now()}
			failed = append(failed, f)
			continue
		}
		res.out = append(res.out, routed{seq: seq, ident: ident, part: id, data: r.Data, arrival: r.Arrival,
			values: prefix.Values{Query: r.Query, Lambda: r.Lambda}})
	}
	for _, f := range failed {
		seq, ident, skip, ok := locate(f.Raw.ID)
		if !ok {
			res.err = fmt.Errorf("process records: failed record id %q matches no input record", f.Raw.ID)
			return res
		}
		if skip[ident] {
			continue
		}
		typ := f.OutputType
		if typ == "" {
			typ = processor.OutputProcessingFailed
		}
		kind := "processing"
		if strings.HasPrefix(f.Code, "DynamicPartitioning.") {
			kind = "partitioning"
		}
		res.failed = append(res.failed, failedRec{seq: seq, ident: ident, doc: processor.ErrorDocument(f), typ: typ, kind: kind,
			code: f.Code, message: f.Message, arrival: f.Raw.Arrival, at: f.At})
	}
	return res
}

// recordProcessing records the processing metrics of one job: ExecuteProcessing.* for a
// pipeline with a Lambda, JQProcessing.Duration for dynamic partitioning by JQ alone, and
// SucceedProcessing.* for what came out.
func recordProcessing(rec Recorder, stream string, l LegSpec, took time.Duration, out []processor.Record, failed []processor.Failure) {
	ms := float64(took.Microseconds()) / 1000
	if l.HasLambda {
		ok := 1.0
		for _, f := range failed {
			if f.LambdaARN != "" {
				ok = 0
			}
		}
		rec.Record(stream, "ExecuteProcessing.Duration", metrics.UnitMilliseconds, ms)
		rec.Record(stream, "ExecuteProcessing.Success", metrics.UnitCount, ok)
	} else if l.Dynamic {
		rec.Record(stream, "JQProcessing.Duration", metrics.UnitMilliseconds, ms)
	}
	n := 0
	for _, r := range out {
		n += len(r.Data)
	}
	rec.Record(stream, "SucceedProcessing.Records", metrics.UnitCount, float64(len(out)))
	rec.Record(stream, "SucceedProcessing.Bytes", metrics.UnitBytes, float64(n))
}

// zeroRand stands in for random-string when a prefix is evaluated to identify a partition.
func zeroRand() uint64 { return 0 }
