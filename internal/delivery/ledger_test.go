package delivery

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// rec names one record of the model: message seq, index within it.
type rec struct {
	seq uint64
	idx int
}

// world is the model the ledger is checked against: messages in a journal, records in
// buffers, objects sealed, intended, written (in the store) or dropped, and what is durable.
type world struct {
	t     *testing.T
	rnd   *rand.Rand
	msgs  [][]int // msgs[seq-1] = record indices of message seq
	led   *Ledger
	next  uint64           // next message to take
	taken []uint64         // messages taken and not yet routed (processing in flight)
	bufs  map[int][]rec    // partition → records buffered, in order
	objs  map[uint64][]rec // ledger id → records, for sealed, intended or in-flight objects
	state map[uint64]objState
	slot  map[uint64]int

	store    map[string][]rec  // key → records of written objects
	keyOf    map[uint64]string // ledger id → key
	intents  map[int][]intentObject
	saved    map[string]uint64
	errorBuf int // partition index of the error output
}

const legName = "d"

func newWorld(t *testing.T, seed uint64) *world {
	w := &world{t: t, rnd: rand.New(rand.NewPCG(seed, seed)), store: map[string][]rec{}, intents: map[int][]intentObject{},
		saved: map[string]uint64{legName: 0}, errorBuf: 99}
	for range 40 {
		n := w.rnd.IntN(4) // empty messages too
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		w.msgs = append(w.msgs, idx)
	}
	w.boot()
	return w
}

// boot starts from what is durable: the saved marks and intents, and the store.
func (w *world) boot() {
	w.led = NewLedger(map[string]uint64{legName: w.saved[legName]})
	w.taken = nil
	w.bufs, w.objs, w.state, w.slot, w.keyOf = map[int][]rec{}, map[uint64][]rec{}, map[uint64]objState{}, map[uint64]int{}, map[uint64]string{}
	slots := make([]int, 0, len(w.intents))
	for s := range w.intents {
		slots = append(slots, s)
	}
	slices.Sort(slots)
	for _, s := range slots {
		for _, o := range w.intents[s] {
			_, exists := w.store[o.Key]
			w.led.Restore(s, o.Leg, o.Bucket, o.Key, o.Runs, exists)
		}
	}
	w.next = w.led.Cursor()
}

func (w *world) take() {
	if int(w.next) > len(w.msgs) {
		return
	}
	seq := w.next
	w.next++
	if !w.led.Pending(legName, seq) {
		return
	}
	if err := w.led.Take(legName, seq); err != nil {
		w.t.Fatal(err)
	}
	w.taken = append(w.taken, seq)
}

// route routes the oldest taken message, as processing results come back in order.
func (w *world) route() {
	if len(w.taken) == 0 {
		return
	}
	seq := w.taken[0]
	w.taken = w.taken[1:]
	whole, skip := w.led.Skip(legName, seq)
	n := 0
	for _, i := range w.msgs[seq-1] {
		if whole || skip[identity(i, "")] {
			continue
		}
		p := w.rnd.IntN(3)
		w.bufs[p] = append(w.bufs[p], rec{seq, i})
		n++
	}
	w.led.Hold(legName, seq, n)
	w.led.Routed(legName, seq)
}

func runsOf(rs []rec) []Run {
	var runs []Run
	for _, r := range rs {
		if n := len(runs); n > 0 && runs[n-1].Seq == r.seq {
			runs[n-1].N++
			runs[n-1].IDs = append(runs[n-1].IDs, identity(r.idx, ""))
			continue
		}
		runs = append(runs, Run{Seq: r.seq, N: 1, IDs: []uint64{identity(r.idx, "")}})
	}
	return runs
}

func (w *world) seal(p int) {
	rs := w.bufs[p]
	if len(rs) == 0 {
		return
	}
	delete(w.bufs, p)
	key := fmt.Sprintf("k%d", len(w.keyOf)+len(w.store)*1000+w.rnd.IntN(1<<30))
	id := w.led.Seal(legName, "b", key, runsOf(rs))
	w.objs[id], w.state[id], w.keyOf[id] = rs, objSealed, key
}

func (w *world) intend() {
	var ids []uint64
	var ios []intentObject
	for id, st := range w.state {
		if st == objSealed {
			ids = append(ids, id)
			ios = append(ios, intentObject{Leg: legName, Bucket: "b", Key: w.keyOf[id], Runs: runsOf(w.objs[id])})
		}
	}
	if len(ids) == 0 {
		return
	}
	slot := w.led.FreeSlot()
	w.led.Reserve(slot)
	w.intents[slot] = ios // durable before any of them is written
	w.led.Intended(slot, ids)
	for _, id := range ids {
		w.state[id] = objIntended
	}
}

// pick returns a random object in state st, or 0.
func (w *world) pick(st objState) uint64 {
	var ids []uint64
	for id, s := range w.state {
		if s == st {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return 0
	}
	slices.Sort(ids)
	return ids[w.rnd.IntN(len(ids))]
}

func (w *world) complete() {
	id := w.pick(objIntended)
	if id == 0 {
		return
	}
	w.store[w.keyOf[id]] = w.objs[id]
	w.led.Written(id)
	delete(w.objs, id)
	w.state[id] = objWritten
}

// fail drops an intended object permanently; its records go to the error output buffer.
func (w *world) fail() {
	id := w.pick(objIntended)
	if id == 0 {
		return
	}
	rs := w.objs[id]
	held := map[uint64]int{}
	for _, r := range rs {
		held[r.seq]++
	}
	for seq, n := range held {
		w.led.Hold(legName, seq, n)
	}
	w.bufs[w.errorBuf] = append(w.bufs[w.errorBuf], rs...)
	w.led.Drop(id)
	delete(w.objs, id)
	w.state[id] = objDropped
}

func (w *world) save() {
	w.led.Advance()
	w.saved = w.led.Marks()
	for _, s := range w.led.Collect(w.saved) {
		delete(w.intents, s)
	}
}

// checkDurable: every record of a message below the saved mark is in the store exactly once.
func (w *world) checkDurable(final bool) {
	w.t.Helper()
	count := map[rec]int{}
	for _, rs := range w.store {
		for _, r := range rs {
			count[r]++
		}
	}
	for seq := uint64(1); seq <= uint64(len(w.msgs)); seq++ {
		for _, i := range w.msgs[seq-1] {
			c := count[rec{seq, i}]
			if c > 1 || (c == 0 && (seq <= w.saved[legName] || final)) {
				w.t.Fatalf("record %d/%d is in %d objects (saved mark %d, final %v)", seq, i, c, w.saved[legName], final)
			}
		}
	}
}

// TestLedgerAgainstModel drives the ledger with random interleavings of take, seal, intend,
// complete, fail, save, crash and replay, and checks after every step that no settled record
// is missing or duplicated, and at the end that every record is in exactly one object.
func TestLedgerAgainstModel(t *testing.T) {
	for seed := range uint64(300) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			w := newWorld(t, seed)
			for range 400 {
				switch op := w.rnd.IntN(14); {
				case op < 2:
					w.take()
				case op < 4:
					w.route()
				case op < 6:
					w.take()
					w.route()
				case op < 8:
					w.seal([]int{0, 1, 2, w.errorBuf}[w.rnd.IntN(4)])
				case op < 9:
					w.intend()
				case op < 11:
					w.complete()
				case op < 12:
					w.fail()
				case op < 13:
					w.save()
				default:
					w.boot() // crash: everything in memory is lost
				}
				w.checkDurable(false)
			}
			// Drain: deliver everything, after one more crash for half of the seeds (without it,
			// a leaked count would keep the cursor from the end).
			if seed%2 == 0 {
				w.boot()
			}
			for guard := 0; guard < 10000; guard++ {
				for int(w.next) <= len(w.msgs) {
					w.take()
				}
				for len(w.taken) > 0 {
					w.route()
				}
				for p := range w.bufs {
					w.seal(p)
				}
				w.intend()
				for w.pick(objIntended) != 0 {
					w.complete()
				}
				w.save()
				if w.led.Cursor() > uint64(len(w.msgs)) {
					break
				}
			}
			if got := w.led.Cursor(); got != uint64(len(w.msgs))+1 {
				t.Fatalf("cursor %d after the drain, want %d", got, len(w.msgs)+1)
			}
			w.checkDurable(true)
			if live := w.led.Live(); len(live) != 0 {
				t.Errorf("live objects after the drain: %v", live)
			}
		})
	}
}

func TestIdentity(t *testing.T) {
	tests := []struct {
		index  int
		suffix string
		want   uint64
	}{
		{0, "", 0},
		{3, "", 3 << 40},
		{3, ".0", 3<<40 | 1},
		{3, ".7", 3<<40 | 8},
		{1, ".2.5", 1<<40 | 3<<20 | 6},
	}
	for _, tc := range tests {
		if got := identity(tc.index, tc.suffix); got != tc.want {
			t.Errorf("identity(%d, %q) = %#x, want %#x", tc.index, tc.suffix, got, tc.want)
		}
	}
	deep := identity(1, ".1.2.3")
	if deep>>40 != 1 || deep&subHash == 0 || deep == identity(1, ".1.2.4") {
		t.Errorf("identity of a three-level suffix %#x: want the hash form, distinct per suffix", deep)
	}
}

func TestIntentBatchRoundTrip(t *testing.T) {
	objs := []intentObject{
		{Leg: "destination", Bucket: "b", Key: "p/k-1", Runs: []Run{{Seq: 5, Whole: true, N: 3}, {Seq: 9, Whole: true}}},
		{Leg: "backup", Bucket: "bk", Key: "x", Runs: []Run{{Seq: 2, N: 3, IDs: []uint64{3 << 40, 1 << 40, 7<<40 | 2}}}},
	}
	batches := encodeIntents(objs)
	if len(batches) != 1 {
		t.Fatalf("%d batches", len(batches))
	}
	got, err := decodeIntents(batches[0])
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(objs, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	// A batch too large for one value is split between whole objects.
	big := make([]intentObject, 3)
	for i := range big {
		ids := make([]uint64, 200_000)
		for k := range ids {
			ids[k] = uint64(k) << 40
		}
		big[i] = intentObject{Leg: "d", Key: "k", Runs: []Run{{Seq: 1, N: len(ids), IDs: ids}}}
	}
	split := encodeIntents(big)
	n := 0
	for _, b := range split {
		if len(b) > maxIntentBytes+maxIntentBytes/2 {
			t.Errorf("batch of %d bytes", len(b))
		}
		os, err := decodeIntents(b)
		if err != nil {
			t.Fatal(err)
		}
		n += len(os)
		if intentCount(b) != len(os) {
			t.Errorf("intentCount %d, decoded %d", intentCount(b), len(os))
		}
	}
	if n != 3 || len(split) < 2 {
		t.Errorf("%d objects in %d batches, want 3 in at least 2", n, len(split))
	}
}

func FuzzDecodeIntents(f *testing.F) {
	for _, b := range encodeIntents([]intentObject{
		{Leg: "destination", Bucket: "b", Key: "p/k", Runs: []Run{{Seq: 5, Whole: true, N: 3}}},
		{Leg: "d", Key: "k", Runs: []Run{{Seq: 3, N: 2, IDs: []uint64{1, 1 << 40}}, {Seq: 4, N: 1, IDs: []uint64{0}}}},
	}) {
		f.Add(b)
	}
	f.Add([]byte{1, 0})
	f.Add([]byte{2})
	f.Fuzz(func(t *testing.T, b []byte) {
		objs, err := decodeIntents(b)
		if err != nil {
			return
		}
		// What decodes re-encodes to a batch that decodes to the same objects.
		again := encodeIntents(objs)
		var got []intentObject
		for _, e := range again {
			os, err := decodeIntents(e)
			if err != nil {
				t.Fatalf("re-encoded batch does not decode: %v", err)
			}
			got = append(got, os...)
		}
		if len(objs) == 0 && len(got) == 0 {
			return
		}
		if diff := cmp.Diff(objs, got); diff != "" {
			t.Errorf("re-encoding changed the objects (-first +second):\n%s", diff)
		}
	})
}

func TestRetiredLegStopsHoldingTheCursor(t *testing.T) {
	l := NewLedger(map[string]uint64{"destination": 0, "backup": 0})
	for _, leg := range []string{"destination", "backup"} {
		for seq := uint64(1); seq <= 3; seq++ {
			if err := l.Take(leg, seq); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The destination routed everything into a written object; the backup leg routed message 1
	// into an object in flight and was still processing 2 and 3 when it was removed.
	for seq := uint64(1); seq <= 3; seq++ {
		l.Hold("destination", seq, 1)
		l.Routed("destination", seq)
	}
	d := l.Seal("destination", "b", "k1", []Run{{Seq: 1, N: 1, Whole: true}, {Seq: 2, N: 1, Whole: true}, {Seq: 3, N: 1, Whole: true}})
	l.Hold("backup", 1, 1)
	l.Routed("backup", 1)
	b := l.Seal("backup", "bk", "k2", []Run{{Seq: 1, N: 1, Whole: true}})
	l.Reserve(0)
	l.Intended(0, []uint64{d, b})
	l.Written(d)
	l.RetireLeg("backup")
	l.Advance()
	if got := l.Cursor(); got != 1 {
		t.Errorf("cursor %d while the retired leg's object is in flight, want 1", got)
	}
	l.Written(b)
	l.Advance()
	if got := l.Cursor(); got != 4 {
		t.Errorf("cursor %d once the retired leg's object is written, want 4", got)
	}
	if diff := cmp.Diff([]string{"destination"}, l.Legs()); diff != "" {
		t.Errorf("legs (-want +got):\n%s", diff)
	}
}
