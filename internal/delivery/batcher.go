package delivery

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/hydrant-dev/hydrant/internal/compress"
	"github.com/hydrant-dev/hydrant/internal/prefix"
)

// maxObjectRecords bounds the records of one object, so that its intent stays small.
const maxObjectRecords = 1_000_000

// buffer is one open buffer of a leg: the leg's only one, one partition's, or an error
// output's. Its records are data split at ends; runs say which records of which message they
// are, in order. A GZIP buffer that grew past the batcher's chunk is compressed while it
// fills: z holds the object so far, made of the first base bytes of the records, and data
// only the rest.
type buffer struct {
	id       string
	errorOut bool
	// key, when set, is the buffer's fixed key: a batch pinned to the request id it was sent
	// under before a crash. A pinned buffer is sealed when its records are all routed, never
	// by the size, interval or byte bounds.
	key      string
	values   prefix.Values // partition keys, for the object key
	data     []byte
	z        *compress.Piecewise // nil: data holds every record
	base     int                 // bytes of the records compressed into z
	zerr     error               // compressing failed: the object cannot be written
	zbody    []byte              // z finished: the object
	ends     []int32
	runs     []Run
	arrivals []time.Time // arrival of each run's message
	oldest   time.Time   // arrival of the oldest record: the object's timestamp
	deadline time.Time   // when the interval hint makes it due
}

// records returns the number of records in the buffer.
func (b *buffer) records() int { return len(b.ends) }

// size returns the bytes of the buffer's records.
func (b *buffer) size() int { return b.base + len(b.data) }

// held returns the memory the buffer holds: its records' buffer and its compressed object.
func (b *buffer) held() int {
	n := cap(b.data)
	if b.z != nil {
		n += b.z.Held()
	}
	return n
}

// finish completes the object of a buffer compressed while it filled, with b's workers, and
// returns it; again, it returns the same object.
func (b *buffer) finish(blocks *compress.Blocks) ([]byte, error) {
	if b.zerr != nil {
		return nil, b.zerr
	}
	if b.zbody == nil {
		body, err := b.z.Finish(blocks, b.data)
		if err != nil {
			b.zerr = fmt.Errorf("compress object: %w", err)
			return nil, b.zerr
		}
		b.zbody = body
		b.base += len(b.data) // every record is in the object now
		b.data = b.data[:0]
	}
	return b.zbody, nil
}

// inflate turns a buffer compressed while it filled back into one that holds its records
// (for an error output: a permanent failure, so its cost does not matter).
func (b *buffer) inflate(kits *kitPool) error {
	if b.z == nil {
		return nil
	}
	if b.zbody == nil {
		k, err := kits.get(compress.Gzip)
		if err != nil {
			return err
		}
		_, err = b.finish(k.blocks)
		kits.put(compress.Gzip, k)
		if err != nil {
			return err
		}
	}
	r, err := compress.NewReader(compress.Gzip, bytes.NewReader(b.zbody))
	if err != nil {
		return fmt.Errorf("read back compressed records: %w", err)
	}
	data := bytes.NewBuffer(make([]byte, 0, b.size()))
	if _, err := io.Copy(data, r); err != nil {
		return fmt.Errorf("read back compressed records: %w", err)
	}
	if data.Len() != b.size() {
		return fmt.Errorf("read back compressed records: %d bytes, want %d", data.Len(), b.size())
	}
	b.data, b.base, b.z, b.zbody = data.Bytes(), 0, nil, nil
	return nil
}

// record returns record i's data; the buffer must not be compressing (z nil).
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
	maxRecs  int           // bound on the records of one buffer
	parts    map[string]*buffer
	total    int
	nparts   int // open partition buffers, not error outputs
	spare    [][]byte
	spareCap int // capacity of the spare buffers
	capTotal int // capacity of the open buffers
	zHeld    int // memory of the open buffers' compressed objects

	// chunk, when not 0, is the size at which an open buffer's records are compressed into
	// its GZIP object while it fills, with block workers borrowed from kits.
	chunk int
	kits  *kitPool
}

// compressChunk is the chunk of a GZIP leg whose size hint exceeds it: a buffer then holds at
// most about this much of its records uncompressed, and compressing it (four blocks, at two
// workers about 15 ms on the development machine) delays the actor's other events no longer.
const compressChunk = 4 << 20

// compressWhileFilling makes the batcher compress its open buffers' records into GZIP objects
// chunk by chunk, with block workers from kits, when its size hint is larger than a chunk.
func (b *batcher) compressWhileFilling(kits *kitPool) {
	if b.size > compressChunk {
		b.chunk, b.kits = compressChunk, kits
	}
}

// Bounds of the emptied buffers a batcher keeps for reuse, so that new partitions start with
// room instead of growing from nothing: at most maxSpares of them, maxSpareBytes in all.
const (
	maxSpares     = 256
	maxSpareBytes = 32 << 20
)

func newBatcher(size int, interval time.Duration, maxBytes int) *batcher {
	return &batcher{size: size, interval: interval, maxBytes: maxBytes, maxRecs: maxObjectRecords, parts: map[string]*buffer{}}
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
	p.ends = append(p.ends, int32(p.size()))
	b.total += len(data)
	if b.chunk > 0 && len(p.data) >= b.chunk {
		b.compact(p)
	}
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

// compact compresses the whole blocks of p's uncompressed records into its object and keeps
// the rest. A failure is kept in p (the object is then failed when it is written); the
// encoders fail only on their own state, so retrying cannot help.
func (b *batcher) compact(p *buffer) {
	if p.zerr != nil {
		return
	}
	k, err := b.kits.get(compress.Gzip)
	if err != nil {
		p.zerr = err
		return
	}
	defer b.kits.put(compress.Gzip, k)
	if p.z == nil {
		p.z = &compress.Piecewise{}
		p.z.Reset(b.size)
	}
	was := p.z.Held()
	n, err := p.z.Add(k.blocks, p.data)
	b.zHeld += p.z.Held() - was
	if err != nil {
		p.zerr = err
		return
	}
	p.base += n
	p.data = p.data[:copy(p.data, p.data[n:])]
}

// maxRecordBytes is Firehose's bound on one record (1,000 KiB); a buffer grows past its size
// hint by at most one record, unless a processor made a larger one.
const maxRecordBytes = 1_024_000

// grow returns buf with room for n more bytes. It doubles the capacity (append grows large
// slices by a quarter, which copied a 64 MiB buffer about five times over while it filled), up
// to the size hint plus the largest record, so a buffer is copied about once in all.
func (b *batcher) grow(buf []byte, n int) []byte {
	limit := b.size
	if b.chunk > 0 {
		limit = b.chunk
	}
	c := max(2*cap(buf), 64<<10)
	c = min(c, limit+maxRecordBytes)
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
	return p.key == "" && (p.size() >= b.size || len(p.ends) >= b.maxRecs)
}

// take removes p from the open buffers.
func (b *batcher) take(p *buffer) {
	if b.parts[p.id] == p {
		delete(b.parts, p.id)
		b.total -= p.size()
		b.capTotal -= cap(p.data)
		if p.z != nil {
			b.zHeld -= p.z.Held()
		}
		if !p.errorOut {
			b.nparts--
		}
	}
}

// held returns the memory the batcher holds: the capacity of its open and spare buffers and
// their compressed objects.
func (b *batcher) held() int { return b.capTotal + b.spareCap + b.zHeld }

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
		if p.key == "" && !now.Before(p.deadline) {
			out = append(out, p)
		}
	}
	return out
}

// next returns the earliest deadline of an open buffer, or the zero time.
func (b *batcher) next() time.Time {
	var t time.Time
	for _, p := range b.parts {
		if p.key == "" && (t.IsZero() || p.deadline.Before(t)) {
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
	return b.largest((*buffer).size)
}

// largest returns the open buffer with the most of by (the first by id among equals), or nil;
// pinned buffers are left out.
func (b *batcher) largest(by func(*buffer) int) *buffer {
	var largest *buffer
	n := 0
	for _, p := range b.parts {
		if p.key != "" {
			continue
		}
		if m := by(p); largest == nil || m > n || m == n && p.id < largest.id {
			largest, n = p, m
		}
	}
	return largest
}

// partitions counts the open partition buffers, not the error outputs.
func (b *batcher) partitions() int { return b.nparts }
