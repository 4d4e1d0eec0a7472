package delivery

import (
	"fmt"
	"slices"
)

// Run is the part of one journal message that an object holds.
type Run struct {
	Seq uint64
	// Whole says the run is every record of the message (legs without processing or
	// partitioning); IDs is then nil.
	Whole bool
	// N is the number of records in the run.
	N int
	// IDs are the identities of the run's records (see identity), in object order.
	IDs []uint64
}

// objState is where an object is in its life.
type objState uint8

const (
	objSealed   objState = iota // key chosen, intent not saved yet
	objIntended                 // intent saved; the write may be in flight
	objWritten                  // the object is in the store
	objDropped                  // the object will never be written
)

// entry is the ledger's record of one object.
type entry struct {
	id     uint64
	leg    string
	bucket string
	key    string
	runs   []Run
	state  objState
	maxSeq uint64
}

// msgBook is a message above its leg's settled mark.
type msgBook struct {
	open   int  // records routed to buffers or objects not yet written
	routed bool // every record of the message has been routed (or skipped)
}

// legBook is one leg's books.
type legBook struct {
	settled uint64 // every message ≤ settled is done for this leg
	msgs    map[uint64]*msgBook
	order   []uint64            // seqs of msgs, ascending
	bySeq   map[uint64][]uint64 // seq → ids of intended or written objects holding records of it
	retired bool                // no longer in the spec; kept until its objects settle
}

// Ledger is the pure bookkeeping of one stream's delivery: which records of which journal
// messages each leg holds in buffers and objects, what is settled, and which objects are
// intended or written. It does no I/O and is not safe for concurrent use.
type Ledger struct {
	legs   map[string]*legBook
	objs   map[uint64]*entry
	slots  map[int][]uint64 // intent slot → objects of its batch
	nextID uint64
}

// NewLedger returns a ledger with the given legs settled up to their marks.
func NewLedger(settled map[string]uint64) *Ledger {
	l := &Ledger{legs: map[string]*legBook{}, objs: map[uint64]*entry{}, slots: map[int][]uint64{}, nextID: 1}
	for name, s := range settled {
		l.AddLeg(name, s)
	}
	return l
}

// AddLeg adds (or revives) a leg settled up to settled.
func (l *Ledger) AddLeg(name string, settled uint64) {
	if b, ok := l.legs[name]; ok {
		b.retired = false
		return
	}
	l.legs[name] = &legBook{settled: settled, msgs: map[uint64]*msgBook{}, bySeq: map[uint64][]uint64{}}
}

// RetireLeg marks a leg as gone from the spec: records it has not routed yet are no longer
// wanted, and it stops counting for the cursor once its objects in flight are written.
func (l *Ledger) RetireLeg(name string) {
	if b, ok := l.legs[name]; ok {
		b.retired = true
		for _, m := range b.msgs {
			m.routed = true
		}
	}
}

// Legs returns the names of the legs, sorted.
func (l *Ledger) Legs() []string {
	out := make([]string, 0, len(l.legs))
	for n := range l.legs {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Marks returns every live leg's settled mark.
func (l *Ledger) Marks() map[string]uint64 {
	out := make(map[string]uint64, len(l.legs))
	for n, b := range l.legs {
		if !b.retired {
			out[n] = b.settled
		}
	}
	return out
}

// Cursor returns the first message not settled by every leg (at least 1).
func (l *Ledger) Cursor() uint64 {
	low, any := uint64(0), false
	for _, b := range l.legs {
		s := b.settled
		if b.retired {
			if len(b.order) == 0 {
				continue
			}
			s = b.order[0] - 1
		}
		if !any || s < low {
			low, any = s, true
		}
	}
	return low + 1
}

// Pending reports whether the leg has seq above its settled mark and not yet settled.
func (l *Ledger) Pending(leg string, seq uint64) bool {
	b := l.legs[leg]
	return b != nil && seq > b.settled
}

// Take starts routing message seq for leg. Messages are taken in ascending order; taking one
// again (a replay) is allowed while it is above the settled mark.
func (l *Ledger) Take(leg string, seq uint64) error {
	b := l.legs[leg]
	if b == nil {
		return fmt.Errorf("take %d: no leg %q", seq, leg)
	}
	if seq <= b.settled {
		return fmt.Errorf("take %d: leg %q is settled up to %d", seq, leg, b.settled)
	}
	if m, ok := b.msgs[seq]; ok {
		m.routed = false
		return nil
	}
	if n := len(b.order); n > 0 && b.order[n-1] > seq {
		return fmt.Errorf("take %d: leg %q already took %d", seq, leg, b.order[n-1])
	}
	b.msgs[seq] = &msgBook{}
	b.order = append(b.order, seq)
	return nil
}

// Hold counts n records of message seq as routed into a buffer of leg.
func (l *Ledger) Hold(leg string, seq uint64, n int) {
	if m := l.msg(leg, seq); m != nil {
		m.open += n
	}
}

// Release uncounts n records of message seq that were in a buffer that is discarded.
func (l *Ledger) Release(leg string, seq uint64, n int) {
	if m := l.msg(leg, seq); m != nil {
		m.open -= n
	}
}

// Routed marks message seq as wholly routed for leg.
func (l *Ledger) Routed(leg string, seq uint64) {
	if m := l.msg(leg, seq); m != nil {
		m.routed = true
	}
}

func (l *Ledger) msg(leg string, seq uint64) *msgBook {
	b := l.legs[leg]
	if b == nil {
		return nil
	}
	return b.msgs[seq]
}

// Unroute marks every message above leg's settled mark as not routed, for a replay after the
// leg's buffers were discarded.
func (l *Ledger) Unroute(leg string) {
	if b := l.legs[leg]; b != nil {
		for _, m := range b.msgs {
			m.routed = false
		}
	}
}

// Seal records a new object of leg holding runs (records already held) and returns its id.
func (l *Ledger) Seal(leg, bucket, key string, runs []Run) uint64 {
	id := l.nextID
	l.nextID++
	e := &entry{id: id, leg: leg, bucket: bucket, key: key, runs: runs}
	for _, r := range runs {
		e.maxSeq = max(e.maxSeq, r.Seq)
	}
	l.objs[id] = e
	return id
}

// Intended records that the intents of ids were saved in slot.
func (l *Ledger) Intended(slot int, ids []uint64) {
	for _, id := range ids {
		e := l.objs[id]
		if e == nil || e.state != objSealed {
			continue
		}
		e.state = objIntended
		l.slots[slot] = append(l.slots[slot], id)
		if b := l.legs[e.leg]; b != nil {
			for _, r := range e.runs {
				b.bySeq[r.Seq] = append(b.bySeq[r.Seq], id)
			}
		}
	}
}

// Written records that object id is in the store: its records are settled.
func (l *Ledger) Written(id uint64) {
	e := l.objs[id]
	if e == nil || e.state == objWritten || e.state == objDropped {
		return
	}
	e.state = objWritten
	l.unhold(e)
}

// Drop records that object id will never be written. Its records are no longer held by it:
// the caller holds them elsewhere first (the error output) or routes their messages again.
func (l *Ledger) Drop(id uint64) {
	e := l.objs[id]
	if e == nil || e.state == objWritten || e.state == objDropped {
		return
	}
	wasSealed := e.state == objSealed
	e.state = objDropped
	l.unhold(e)
	if b := l.legs[e.leg]; b != nil && !wasSealed {
		for _, r := range e.runs {
			b.bySeq[r.Seq] = slices.DeleteFunc(b.bySeq[r.Seq], func(x uint64) bool { return x == id })
		}
	}
	if wasSealed {
		delete(l.objs, id)
	}
}

func (l *Ledger) unhold(e *entry) {
	for _, r := range e.runs {
		l.Release(e.leg, r.Seq, r.N)
	}
}

// Skip returns the records of message seq that leg must not route again because an intended
// or written object holds them: whole when all of them, else their identities.
func (l *Ledger) Skip(leg string, seq uint64) (whole bool, ids map[uint64]bool) {
	b := l.legs[leg]
	if b == nil {
		return false, nil
	}
	for _, id := range b.bySeq[seq] {
		e := l.objs[id]
		if e == nil || (e.state != objIntended && e.state != objWritten) {
			continue
		}
		for _, r := range e.runs {
			if r.Seq != seq {
				continue
			}
			if r.Whole {
				return true, nil
			}
			if ids == nil {
				ids = map[uint64]bool{}
			}
			for _, x := range r.IDs {
				ids[x] = true
			}
		}
	}
	return false, ids
}

// Advance moves each leg's settled mark past the messages that are wholly routed and have no
// open record, and reports whether any mark moved.
func (l *Ledger) Advance() bool {
	moved := false
	for name, b := range l.legs {
		for len(b.order) > 0 {
			seq := b.order[0]
			m := b.msgs[seq]
			if !m.routed || m.open > 0 {
				break
			}
			delete(b.msgs, seq)
			b.order = b.order[1:]
			b.settled = seq
			moved = true
		}
		if b.retired && len(b.order) == 0 && !l.hasLive(name) {
			delete(l.legs, name)
			moved = true
		}
	}
	return moved
}

// hasLive reports whether leg has an object not yet written or dropped.
func (l *Ledger) hasLive(leg string) bool {
	for _, e := range l.objs {
		if e.leg == leg && (e.state == objSealed || e.state == objIntended) {
			return true
		}
	}
	return false
}

// Collect forgets the objects that no replay can need any more — written or dropped, and
// wholly at or below their leg's saved mark — and returns the intent slots that held only such
// objects: they may be reused. saved are the marks last saved durably.
func (l *Ledger) Collect(saved map[string]uint64) []int {
	done := func(e *entry) bool {
		if e.state != objWritten && e.state != objDropped {
			return false
		}
		s, ok := saved[e.leg]
		return !ok && l.legs[e.leg] == nil || ok && e.maxSeq <= s
	}
	var free []int
	for slot, ids := range l.slots {
		all := true
		for _, id := range ids {
			if e := l.objs[id]; e != nil && !done(e) {
				all = false
				break
			}
		}
		if !all {
			continue
		}
		for _, id := range ids {
			l.forget(id)
		}
		delete(l.slots, slot)
		free = append(free, slot)
	}
	slices.Sort(free)
	return free
}

func (l *Ledger) forget(id uint64) {
	e := l.objs[id]
	if e == nil {
		return
	}
	delete(l.objs, id)
	if b := l.legs[e.leg]; b != nil {
		for _, r := range e.runs {
			ids := slices.DeleteFunc(b.bySeq[r.Seq], func(x uint64) bool { return x == id })
			if len(ids) == 0 {
				delete(b.bySeq, r.Seq)
			} else {
				b.bySeq[r.Seq] = ids
			}
		}
	}
}

// FreeSlot returns the lowest slot not holding a batch.
func (l *Ledger) FreeSlot() int {
	for s := 0; ; s++ {
		if _, used := l.slots[s]; !used {
			return s
		}
	}
}

// Reserve marks slot as used by a batch being saved.
func (l *Ledger) Reserve(slot int) {
	if _, ok := l.slots[slot]; !ok {
		l.slots[slot] = []uint64{}
	}
}

// Restore adds an object recovered from an intent batch in slot: written when the store holds
// it, dropped when it does not.
func (l *Ledger) Restore(slot int, leg, bucket, key string, runs []Run, exists bool) {
	id := l.nextID
	l.nextID++
	e := &entry{id: id, leg: leg, bucket: bucket, key: key, runs: runs, state: objDropped}
	for _, r := range runs {
		e.maxSeq = max(e.maxSeq, r.Seq)
	}
	l.objs[id] = e
	l.slots[slot] = append(l.slots[slot], id)
	if !exists {
		return
	}
	e.state = objWritten
	if b := l.legs[leg]; b != nil {
		for _, r := range runs {
			if r.Seq > b.settled {
				b.bySeq[r.Seq] = append(b.bySeq[r.Seq], id)
			}
		}
	}
}

// Live returns the ids of objects sealed or intended and not yet written or dropped.
func (l *Ledger) Live() []uint64 {
	var out []uint64
	for id, e := range l.objs {
		if e.state == objSealed || e.state == objIntended {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}
