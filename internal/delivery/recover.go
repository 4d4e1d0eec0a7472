package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/hydrant-dev/hydrant/internal/destination"
	"github.com/hydrant-dev/hydrant/internal/journal"
	"github.com/hydrant-dev/hydrant/internal/metrics"
)

// Recovery: at the start of a run the actor loads its saved marks and intents and asks the
// store which intended objects exist (docs/design/delivery.md, "Exactly-once objects").

// errStaleState reports a claim of the delivery state that found it changed since it was read;
// the state is read again.
var errStaleState = errors.New("stale delivery state")

// recover loads the durable state and intents, and asks the store which intended objects
// exist, in a goroutine.
func (a *actor) recover(ctx context.Context) {
	a.ready = false
	buckets := map[string]string{}
	for _, l := range a.spec.Legs {
		buckets[l.Name] = l.Bucket
	}
	a.spawn(ctx, func(ctx context.Context) any {
		var r recovered
		r.err = a.retry(ctx, "load delivery state", func() error {
			st, err := a.d.State.LoadState(ctx, a.stream)
			if err != nil {
				return err
			}
			// Claim it: saving the state as read is a compare-and-set that the stream's leader
			// decides with its quorum. It fails when the read came from a replica that missed
			// writes (a node back from a partition), so this worker never resumes from an old
			// cursor, and it makes the next save of any earlier owner fail.
			r.st, err = a.d.State.SaveState(ctx, a.stream, st)
			if errors.Is(err, journal.ErrConflict) {
				return fmt.Errorf("%w: the state changed since it was read", errStaleState)
			}
			return err
		})
		if r.err != nil {
			return r
		}
		var p progress
		if len(r.st.Data) > 0 {
			if err := json.Unmarshal(r.st.Data, &p); err != nil {
				r.err = fmt.Errorf("decode delivery progress: %w", err)
				return r
			}
		}
		r.marks = map[string]uint64{}
		for leg, s := range p.Settled {
			r.marks[leg] = max(s, r.st.Cursor-1)
		}
		var slots map[int][]byte
		r.err = a.retry(ctx, "load flush intents", func() error {
			var err error
			slots, err = a.d.State.Intents(ctx, a.stream)
			return err
		})
		if r.err != nil {
			return r
		}
		var todo []recoveredObject
		for slot, data := range slots {
			objs, err := decodeIntents(data)
			if err != nil {
				a.d.Logger.Error("flush intent does not decode; ignored", "stream", a.stream, "slot", slot, "err", err)
				a.d.Metrics.Record(a.stream, "Journal.CorruptIntents", metrics.UnitCount, 1)
				continue
			}
			for _, o := range objs {
				todo = append(todo, recoveredObject{slot: slot, o: o})
			}
		}
		if in := r.st.Intent; in != nil { // an intent of the one-write-at-a-time engine
			o := intentObject{Leg: string(in.Data), Key: in.Key, Bucket: buckets[string(in.Data)]}
			for s := in.FromSeq; s <= in.ToSeq; s++ {
				o.Runs = append(o.Runs, Run{Seq: s, Whole: true})
			}
			todo = append(todo, recoveredObject{slot: -1, o: o})
		}
		for i := range todo {
			ro := &todo[i]
			top := uint64(0)
			for _, run := range ro.o.Runs {
				top = max(top, run.Seq)
			}
			mark, ok := r.marks[ro.o.Leg]
			if !ok {
				mark = r.st.Cursor - 1
			}
			if top <= mark {
				ro.stale = true
				continue // stale: its records are settled either way
			}
			if ro.o.Bucket == "" {
				continue // a batch sent to an endpoint, which cannot be asked: pinned (onRecovered)
			}
			err := a.retry(ctx, "check intended object", func() error {
				var err error
				ro.exists, err = a.d.Objects.Exists(ctx, ro.o.Bucket, ro.o.Key)
				return err
			})
			if err != nil && !destination.IsPermanent(err) {
				r.err = err
				return r
			}
		}
		r.objects = todo
		a.d.Logger.Debug("delivery state recovered", "stream", a.stream, "cursor", r.st.Cursor, "marks", r.marks, "intent_slots", len(slots), "intended_objects", len(todo))
		return r
	})
}

// onRecovered builds the ledger from the durable state and starts reading.
func (a *actor) onRecovered(ctx context.Context, r recovered) error {
	if r.err != nil {
		return fmt.Errorf("recover delivery state: %w", r.err)
	}
	a.st = r.st
	a.st.Intent = nil
	cursor := max(r.st.Cursor, 1)
	marks := map[string]uint64{}
	for _, ls := range a.spec.Legs {
		m, ok := r.marks[ls.Name]
		if !ok {
			m = cursor - 1
		}
		marks[ls.Name] = m
	}
	a.led = NewLedger(marks)
	a.sv = maps.Clone(marks)
	for _, ro := range r.objects {
		slot := ro.slot
		if slot < 0 {
			slot = a.led.FreeSlot()
			a.led.Reserve(slot)
		}
		a.led.Restore(slot, ro.o.Leg, ro.o.Bucket, ro.o.Key, ro.o.Runs, ro.exists)
		if ro.exists {
			a.d.Logger.Info("object of an interrupted write is in the store; its records are delivered", "stream", a.stream, "key", ro.o.Key)
		}
		if !ro.stale && ro.o.Bucket == "" && a.pins.get(ro.o.Key) == nil && slices.ContainsFunc(a.spec.Legs, func(l LegSpec) bool {
			return l.Name == ro.o.Leg && l.Endpoint != nil
		}) {
			a.pins.add(newPin(ro.o.Leg, ro.o.Key, ro.o.Runs))
			a.d.Logger.Info("batch of an interrupted delivery is sent again under its request id", "stream", a.stream, "request_id", ro.o.Key)
		}
	}
	a.buildLegs(a.spec)
	a.lastRead = cursor - 1
	a.ready = true
	a.startReader(ctx, a.led.Cursor())
	if r.st.Revision != 0 && (len(r.objects) > 0) {
		a.stateDirty = true // rewrite the state without the old single intent, collect slots
	}
	return nil
}
