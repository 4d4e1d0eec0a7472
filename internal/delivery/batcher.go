package delivery

import (
	"cmp"
	"slices"
	"time"

	"github.com/hydrant-dev/hydrant/internal/prefix"
)

// maxObjectRecords bounds the records of one object, so that its intent stays small.
const maxObjectRecords = 1_000_000

// buffer is one open buffer of a leg: the leg's only one, one partition's, or an error
// output's. Its records are data split at ends; runs say which records of which message they
// are, in order.
type buffer struct {
	id       string
	errorOut bool
	values   prefix.Values // partition keys, for the object key
	data     []byte
	ends     []int32
	runs     []Run
	arrivals []time.Time // arrival of each run's message
	oldest   time.Time   // arrival of the oldest record: the object's timestamp
	deadline time.Time   // when the interval hint makes it due
}

// records returns the number of records in the buffer.
func (b *buffer) records() int { return len(b.ends) }

// record returns record i's data.
func (b *buffer) record(i int) []byte {
	start := int32(0)
	if i > 0 {
		start = b.ends[i-1]
	}
	return b.data[start:b.ends[i]]
}

// batcher holds a leg's open buffers and decides when each is written. It is pure: time comes
// in as arguments.
type batcher struct {
	size     int           // SizeInMBs in bytes
	interval time.Duration // IntervalInSeconds
	maxBytes int           // bound on the bytes of all open buffers (0: none)
	parts    map[string]*buffer
	total    int
	nparts   int // open partition buffers, not error outputs
	spare    [][]byte
	spareCap int // capacity of the spare buffers
	capTotal int // capacity of the open buffers
}

// Bounds of the emptied buffers a batcher keeps for reuse, so that new partitions start with
// room instead of growing from nothing: at most maxSpares of them, maxSpareBytes in all.
const (
	maxSpares     = 256
	maxSpareBytes = 32 << 20
)

func newBatcher(size int, interval time.Duration, maxBytes int) *batcher {
	return &batcher{size: size, interval: interval, maxBytes: maxBytes, parts: map[string]*buffer{}}
}

// open returns the buffer of id, creating it.
func (b *batcher) open(id string, errorOut bool, v prefix.Values) *buffer {
	p, ok := b.parts[id]
	if !ok {
		p = &buffer{id: id, errorOut: errorOut, values: v}
		if n := len(b.spare); n > 0 {
			p.data, b.spare = b.spare[n-1], b.spare[:n-1]
			b.spareCap -= cap(p.data)
			b.capTotal += cap(p.data)
		}
		b.parts[id] = p
		if !errorOut {
			b.nparts++
		}
	}
	return p
}

// has reports whether a buffer of id is open.
func (b *batcher) has(id string) bool {
	_, ok := b.parts[id]
	return ok
}

// add appends one record of message seq to p. whole says the leg keeps whole messages (the
// run then carries no identities).
func (b *batcher) add(p *buffer, seq uint64, whole bool, ident uint64, data []byte, arrival, now time.Time) {
	if len(p.runs) == 0 {
		p.oldest = arrival
		p.deadline = now.Add(b.interval)
	} else if arrival.Before(p.oldest) {
		p.oldest = arrival
	}
	if len(p.data)+len(data) > cap(p.data) {
		was := cap(p.data)
		p.data = b.grow(p.data, len(data))
		b.capTotal += cap(p.data) - was
	}
	p.data = append(p.data, data...)
	p.ends = append(p.ends, int32(len(p.data)))
	b.total += len(data)
	n := len(p.runs)
	if n == 0 || p.runs[n-1].Seq != seq {
		p.runs = append(p.runs, Run{Seq: seq, Whole: whole})
		p.arrivals = append(p.arrivals, arrival)
		n++
	}
	r := &p.runs[n-1]
	r.N++
	if !whole {
		r.IDs = append(r.IDs, ident)
	}
}

// maxRecordBytes is Firehose's bound on one record (1,000 KiB); a buffer grows past its size
// hint by at most one record, unless a processor made a larger one.
const maxRecordBytes = 1_024_000

// grow returns buf with room for n more bytes. It doubles the capacity (append grows large
// slices by a quarter, which copied a 64 MiB buffer about five times over while it filled), up
// to the size hint plus the largest record, so a buffer is copied about once in all.
func (b *batcher) grow(buf []byte, n int) []byte {
	c := max(2*cap(buf), 64<<10)
	c = min(c, b.size+maxRecordBytes)
	c = max(c, len(buf)+n)
	return slices.Grow(buf, c-len(buf))
}

// addEmpty records an empty message in p (a put of no records still occupies its place).
func (b *batcher) addEmpty(p *buffer, seq uint64, arrival, now time.Time) {
	if len(p.runs) == 0 {
		p.oldest = arrival
		p.deadline = now.Add(b.interval)
	}
	p.runs = append(p.runs, Run{Seq: seq, Whole: true})
	p.arrivals = append(p.arrivals, arrival)
}

// full reports whether p reached the size hint or the record bound.
func (b *batcher) full(p *buffer) bool {
	return len(p.data) >= b.size || len(p.ends) >= maxObjectRecords
}

// take removes p from the open buffers.
func (b *batcher) take(p *buffer) {
	if b.parts[p.id] == p {
		delete(b.parts, p.id)
		b.total -= len(p.data)
		b.capTotal -= cap(p.data)
		if !p.errorOut {
			b.nparts--
		}
	}
}

// held returns the memory the batcher holds: the capacity of its open and spare buffers.
func (b *batcher) held() int { return b.capTotal + b.spareCap }

// dropSpares lets the spare buffers go.
func (b *batcher) dropSpares() {
	b.spare, b.spareCap = nil, 0
}

// reuse keeps an emptied buffer's memory for a later buffer.
func (b *batcher) reuse(data []byte) {
	if len(b.spare) < maxSpares && cap(data) > 0 && b.spareCap+cap(data) <= maxSpareBytes {
		b.spare = append(b.spare, data[:0])
		b.spareCap += cap(data)
	}
}

// sorted returns the open buffers, oldest first (by their first message), so that writes are
// deterministic.
func (b *batcher) sorted() []*buffer {
	ps := make([]*buffer, 0, len(b.parts))
	for _, p := range b.parts {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(x, y *buffer) int {
		if c := cmp.Compare(x.runs[0].Seq, y.runs[0].Seq); c != 0 {
			return c
		}
		return cmp.Compare(x.id, y.id)
	})
	return ps
}

// due returns the buffers whose interval has passed at now.
func (b *batcher) due(now time.Time) []*buffer {
	var out []*buffer
	for _, p := range b.sorted() {
		if !now.Before(p.deadline) {
			out = append(out, p)
		}
	}
	return out
}

// next returns the earliest deadline of an open buffer, or the zero time.
func (b *batcher) next() time.Time {
	var t time.Time
	for _, p := range b.parts {
		if t.IsZero() || p.deadline.Before(t) {
			t = p.deadline
		}
	}
	return t
}

// over returns the largest buffer while the open buffers hold more than maxBytes, else nil.
func (b *batcher) over() *buffer {
	if b.maxBytes <= 0 || b.total <= b.maxBytes {
		return nil
	}
	return b.largest()
}

// largest returns the open buffer with the most bytes (the first by id among equals), or nil.
func (b *batcher) largest() *buffer {
	var largest *buffer
	for _, p := range b.parts {
		if largest == nil || len(p.data) > len(largest.data) || len(p.data) == len(largest.data) && p.id < largest.id {
			largest = p
		}
	}
	return largest
}

// partitions counts the open partition buffers, not the error outputs.
func (b *batcher) partitions() int { return b.nparts }
