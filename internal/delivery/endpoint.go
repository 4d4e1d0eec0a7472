package delivery

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/hydrant-dev/hydrant/internal/destination"
	"github.com/hydrant-dev/hydrant/internal/journal"
	"github.com/hydrant-dev/hydrant/internal/metrics"
	"github.com/hydrant-dev/hydrant/internal/prefix"
)

// HTTP endpoint legs (docs/design/http-endpoint.md): a sealed buffer is a batch whose key is
// its request id; it is sent with the leg's Endpoint and retried within RetryFor, and its
// records go to the error output (http-endpoint-failed) when it fails for good. After a crash,
// the batches whose intents were saved are pinned: their records are gathered again into a
// buffer of their own and sent under the same request id.

// OutputHTTPEndpointFailed is the error output type of records an HTTP endpoint did not take.
const OutputHTTPEndpointFailed = "http-endpoint-failed"

// endpointBackoff is Firehose's back-off between attempts of an endpoint batch: 1 s doubled per
// attempt, capped at 2 minutes, ±15 % jitter.
func endpointBackoff() Backoff {
	return Backoff{Initial: time.Second, Max: 2 * time.Minute, Jitter: 0.15}
}

// endpointBatch reports whether p, a buffer of lr, is a batch for the leg's endpoint (rather
// than an error output object).
func endpointBatch(lr *LegSpec, p *buffer) bool { return lr.Endpoint != nil && !p.errorOut }

// objectBucket is the bucket of an object's intent: "" marks a batch for an endpoint.
func objectBucket(lr *LegSpec, p *buffer) string {
	if endpointBatch(lr, p) {
		return ""
	}
	return lr.Bucket
}

// pin is a batch recovered from an intent: its records, found by identity when their messages
// are read again, go into a buffer sealed under the same request id.
type pin struct {
	leg    string
	key    string
	top    uint64                     // its last message
	bySeq  map[uint64]map[uint64]bool // message → identities; nil: the whole message
	whole  map[uint64]bool            // messages held whole
	sealed bool                       // its buffer is sealed (an object exists for it)
}

func newPin(leg, key string, runs []Run) *pin {
	p := &pin{leg: leg, key: key, bySeq: map[uint64]map[uint64]bool{}, whole: map[uint64]bool{}}
	for _, r := range runs {
		p.top = max(p.top, r.Seq)
		if r.Whole {
			p.whole[r.Seq] = true
			continue
		}
		ids := p.bySeq[r.Seq]
		if ids == nil {
			ids = map[uint64]bool{}
			p.bySeq[r.Seq] = ids
		}
		for _, id := range r.IDs {
			ids[id] = true
		}
	}
	return p
}

// holds reports whether the pin holds record ident of message seq.
func (p *pin) holds(seq, ident uint64) bool {
	return p.whole[seq] || p.bySeq[seq][ident]
}

// inMessage reports whether the pin holds any record of message seq.
func (p *pin) inMessage(seq uint64) bool {
	return p.whole[seq] || len(p.bySeq[seq]) > 0
}

// pinSet holds the pins of an actor by request id, and by message for routing.
type pinSet struct {
	byKey map[string]*pin
	bySeq map[uint64][]*pin
}

func newPinSet() *pinSet {
	return &pinSet{byKey: map[string]*pin{}, bySeq: map[uint64][]*pin{}}
}

// get returns the pin of a request id, or nil.
func (s *pinSet) get(key string) *pin { return s.byKey[key] }

func (s *pinSet) add(p *pin) {
	s.byKey[p.key] = p
	for _, seq := range p.seqs() {
		s.bySeq[seq] = append(s.bySeq[seq], p)
	}
}

func (s *pinSet) remove(key string) {
	p := s.byKey[key]
	if p == nil {
		return
	}
	delete(s.byKey, key)
	for _, seq := range p.seqs() {
		kept := slices.DeleteFunc(s.bySeq[seq], func(q *pin) bool { return q == p })
		if len(kept) == 0 {
			delete(s.bySeq, seq)
		} else {
			s.bySeq[seq] = kept
		}
	}
}

// seqs returns the messages the pin holds records of.
func (p *pin) seqs() []uint64 {
	out := make([]uint64, 0, len(p.whole)+len(p.bySeq))
	for seq := range p.whole {
		out = append(out, seq)
	}
	for seq := range p.bySeq {
		if !p.whole[seq] {
			out = append(out, seq)
		}
	}
	return out
}

// pinsOf returns the unsealed pins of leg holding records of message seq.
func (a *actor) pinsOf(leg string, seq uint64) []*pin {
	var out []*pin
	for _, p := range a.pins.bySeq[seq] {
		if p.leg == leg && !p.sealed && p.inMessage(seq) {
			out = append(out, p)
		}
	}
	return out
}

// pinFor returns the pin among ps holding record ident of message seq, or nil.
func pinFor(ps []*pin, seq, ident uint64) *pin {
	for _, p := range ps {
		if p.holds(seq, ident) {
			return p
		}
	}
	return nil
}

// pinBuffer returns the open buffer of a pin.
func (a *actor) pinBuffer(lr *legRun, p *pin) *buffer {
	b := lr.b.open("pin:"+p.key, false, prefix.Values{})
	b.key = p.key
	return b
}

// sealPins seals the pins of lr whose messages are all routed (every message up to seq).
func (a *actor) sealPins(lr *legRun, seq uint64) {
	if len(a.pins.byKey) == 0 {
		return
	}
	for _, p := range a.pins.byKey {
		if p.leg != lr.Name || p.sealed || p.top > seq {
			continue
		}
		p.sealed = true
		if b, ok := lr.b.parts["pin:"+p.key]; ok {
			a.seal(lr, b)
		} else {
			a.pins.remove(p.key) // none of its records came back (a Lambda dropped them)
		}
	}
}

// send delivers an endpoint batch: attempts with Firehose's back-off until one succeeds, one
// fails permanently, or the waits between attempts reach the leg's RetryFor.
func (a *actor) send(ctx context.Context, o *object) writeDone {
	lr, p := o.leg, o.buf
	recs := make([][]byte, p.records())
	for i := range recs {
		recs[i] = p.record(i)
	}
	rnd := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	start := a.d.Clock.Now()
	var waited time.Duration
	for attempt := 1; ; attempt++ {
		err := lr.Endpoint.Send(ctx, o.key, recs)
		if ctx.Err() != nil {
			return writeDone{o: o, err: ctx.Err()}
		}
		ok := 0.0
		if err == nil {
			ok = 1
		}
		name := lr.metricPrefix()
		a.d.Metrics.Record(a.stream, name+".Success", metrics.UnitCount, ok)
		if err == nil {
			a.d.Metrics.Record(a.stream, name+".ProcessingTime", metrics.UnitMilliseconds, float64(a.d.Clock.Now().Sub(start).Milliseconds()))
			a.d.Logger.Debug("delivered batch", "stream", a.stream, "leg", lr.Name, "request_id", o.key, "records", len(recs), "bytes", p.size(), "attempts", attempt)
			return writeDone{o: o, stored: p.size(), attempts: attempt}
		}
		code := ErrorCode(err)
		a.status.failed(lr.Name, code, err, a.d.Clock.Now())
		if destination.IsPermanent(err) || waited >= lr.RetryFor {
			a.d.Logger.Warn("batch not delivered; its records go to the error output", "stream", a.stream, "leg", lr.Name,
				"request_id", o.key, "attempts", attempt, "code", code, "permanent", destination.IsPermanent(err), "err", err)
			return writeDone{o: o, err: err, permanent: true, attempts: attempt}
		}
		d := min(endpointBackoff().Delay(attempt, rnd), lr.RetryFor-waited)
		a.d.Logger.Warn("deliver batch failed; retrying", "stream", a.stream, "leg", lr.Name, "request_id", o.key,
			"attempt", attempt, "retry_in", d, "code", code, "err", err)
		if err := sleep(ctx, a.d.Clock, d); err != nil {
			return writeDone{o: o, err: err}
		}
		waited += d
	}
}

// subsequence returns the de-aggregated sub-record number of an identity: 0 for a record as
// put, n for sub-record n of one level of de-aggregation, 0 for deeper levels.
func subsequence(ident uint64) uint64 {
	sub := ident & (1<<subBits - 1)
	if sub == 0 || sub >= 1<<subLevel {
		return 0
	}
	return sub - 1
}

// errorMessage returns the message of err for an error document: the error's own message
// when it has one (without the request id and code around it), else err.Error().
func errorMessage(err error) string {
	var m interface{ ErrorMessage() string }
	if errors.As(err, &m) {
		return m.ErrorMessage()
	}
	return err.Error()
}

// recordID returns a record's journal id, the dataId of its error document.
func (a *actor) recordID(seq, ident uint64) string {
	return journal.RecordID(a.nonce, seq, int(ident>>subBits))
}
