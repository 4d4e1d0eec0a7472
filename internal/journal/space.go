package journal

import (
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Room on disk (docs/design/journal.md, "Space"). JetStream refuses every write, record or
// state, once its store limit is reached, and that limit is fixed when the server starts. So
// the journal does its own admission of record appends: it refuses an Append (ErrFull) while
// the file system has less than the reserve free, or the store would pass MaxStoreBytes less
// the reserve. Worker state, intents and the catalog are never refused by it, so they always
// find the reserve, and delivery can save its progress and trim a full journal. JetStream's own
// limit is MaxStoreBytes when set, else the size of the file system: never the first to bite.

// Reserve bounds: without Config.ReservedBytes the reserve is an eighth of the bound
// (MaxStoreBytes, or the file system's size) and at most maxDefaultReserve.
const maxDefaultReserve = 64 << 20

// appendOverhead is what an append takes on disk beyond its put's body, as admission counts
// it: the frame's header and what the store adds to a message (JetStream's record header,
// subject and checksum: about 30 bytes plus the subject, up to 204 bytes).
const appendOverhead = 256

// largestPut is what the largest put Firehose allows counts in admission: 500 records of 4 MiB
// in all, each with its length in the frame (a uvarint of at most 3 bytes for 1,000 KiB).
const largestPut = 4<<20 + 500*3 + 2 + appendOverhead

// Reading ages: a decision to admit may rest on a reading up to spaceEvery old (the bytes
// admitted since are counted); a refusal only on one younger than spaceRecheck, so space that
// trims or an operator freed is seen within that.
const (
	spaceEvery   = time.Second
	spaceRecheck = 50 * time.Millisecond
	spaceReport  = 250 * time.Millisecond // the oldest reading Space reports
)

// Space describes the journal's room: its limit and its current use.
type Space struct {
	// StoreBytes is what the journal's store holds, by JetStream's accounting: records,
	// worker state, intents and catalog.
	StoreBytes int64
	// LimitBytes is the StoreBytes at which record appends are refused: MaxStoreBytes less the
	// reserve, or StoreBytes plus the file system's free space less the reserve, whichever is
	// less (without MaxStoreBytes, only the latter); -1 when neither is known.
	LimitBytes int64
	// ReservedBytes is the room kept for worker state, intents and catalog.
	ReservedBytes int64
	// DiskBytes and DiskFreeBytes are the size and the free space (available to the process)
	// of the file system holding the store; 0 when it cannot be read.
	DiskBytes, DiskFreeBytes int64
	// Full is true when a put of the largest size Firehose allows (4 MiB of records) would be
	// refused for lack of room now; smaller puts may still fit.
	Full bool
	// RefusedAppends counts the appends refused for lack of room since Open.
	RefusedAppends int64
}

// fsStat is a reading of a file system: its size and the bytes available to the process.
type fsStat struct{ Total, Free int64 }

// statFS reads the file system holding dir.
func statFS(dir string) (fsStat, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fsStat{}, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return fsStat{Total: int64(st.Blocks) * int64(st.Bsize), Free: int64(st.Bavail) * int64(st.Bsize)}, nil
}

// space admits record appends while there is room for them and the reserve. It holds no lock:
// counters are atomic, a reading is replaced whole, and one caller at a time takes a new one
// (the others go on with the old reading and the bytes counted since).
type space struct {
	dir     string
	limit   int64 // Config.MaxStoreBytes, or -1
	reserve int64
	stat    func(dir string) (fsStat, error)
	store   func() int64 // the store's bytes; set by start
	now     func() time.Time

	inflight atomic.Int64 // bytes of appends admitted and not finished
	done     atomic.Int64 // bytes of appends finished, ever
	refused  atomic.Int64
	reading  atomic.Pointer[spaceReading]
	busy     atomic.Bool // a reading is being taken
}

// spaceReading is one look at the disk and the store.
type spaceReading struct {
	at    time.Time
	done  int64 // space.done before the look: bytes finished after it are counted on top
	disk  fsStat
	err   error // the disk could not be read; only the limit applies
	store int64
}

// newSpace returns the admission of a journal with cfg (defaults applied) and the JetStream
// store limit to start the server with.
func newSpace(cfg Config, stat func(string) (fsStat, error), now func() time.Time) (*space, int64) {
	s := &space{dir: cfg.Dir, limit: cfg.MaxStoreBytes, reserve: cfg.ReservedBytes, stat: stat, now: now}
	disk, err := stat(cfg.Dir)
	bound, jsMax := cfg.MaxStoreBytes, cfg.MaxStoreBytes
	if bound <= 0 {
		bound, jsMax = disk.Total, disk.Total
		if err != nil || disk.Total <= 0 {
			bound, jsMax = maxDefaultReserve*8, -1 // JetStream's default; the disk is not readable
		}
	}
	if s.reserve <= 0 {
		s.reserve = min(bound/8, maxDefaultReserve)
	}
	return s, jsMax
}

// start takes the first reading with store, the function that reports the store's bytes.
func (s *space) start(store func() int64) {
	s.store = store
	s.refresh()
}

// refresh takes a new reading unless another caller is taking one, and returns the newest.
func (s *space) refresh() *spaceReading {
	if !s.busy.CompareAndSwap(false, true) {
		return s.reading.Load()
	}
	defer s.busy.Store(false)
	r := &spaceReading{at: s.now(), done: s.done.Load()}
	r.disk, r.err = s.stat(s.dir)
	r.store = s.store()
	s.reading.Store(r)
	return r
}

// within returns a reading no older than age.
func (s *space) within(age time.Duration) *spaceReading {
	r := s.reading.Load()
	if r == nil || s.now().Sub(r.at) >= age {
		if n := s.refresh(); n != nil {
			r = n
		}
	}
	return r
}

// admit counts an append of a put of body bytes in the frame (putBodyLen) as in flight if there
// is room for it and returns its size, to be given to release when the append is over; else it
// returns an error wrapping ErrFull.
func (s *space) admit(body int) (int64, error) {
	n := int64(body) + appendOverhead
	pending := s.inflight.Add(n)
	r := s.within(spaceEvery)
	err := s.check(r, pending)
	if err != nil && s.now().Sub(r.at) >= spaceRecheck {
		r = s.refresh()
		err = s.check(r, s.inflight.Load())
	}
	if err != nil {
		s.inflight.Add(-n)
		s.refused.Add(1)
		return 0, err
	}
	return n, nil
}

// release ends an append admitted with size n, stored or not.
func (s *space) release(n int64) {
	s.done.Add(n) // before inflight goes down: counted twice for a moment, never missed
	s.inflight.Add(-n)
}

// check reports whether the reading r, with the pending bytes in flight, leaves the reserve.
func (s *space) check(r *spaceReading, pending int64) error {
	since := s.done.Load() - r.done + pending
	if r.err == nil && r.disk.Free-since < s.reserve {
		return fmt.Errorf("%w: %d bytes free on the file system of %s, %d reserved for delivery state",
			ErrFull, max(r.disk.Free-since, 0), s.dir, s.reserve)
	}
	if s.limit > 0 && r.store+since > s.limit-s.reserve {
		return fmt.Errorf("%w: store holds %d bytes of maxStoreBytes %d, %d reserved for delivery state",
			ErrFull, r.store+since, s.limit, s.reserve)
	}
	return nil
}

// report describes the room as of a recent reading.
func (s *space) report() Space {
	r := s.within(spaceReport)
	out := Space{
		StoreBytes:     r.store,
		ReservedBytes:  s.reserve,
		RefusedAppends: s.refused.Load(),
		Full:           s.check(r, s.inflight.Load()+largestPut) != nil,
		LimitBytes:     -1,
	}
	if r.err == nil {
		out.DiskBytes, out.DiskFreeBytes = r.disk.Total, r.disk.Free
		out.LimitBytes = max(r.store+r.disk.Free-s.reserve, 0)
	}
	if s.limit > 0 && (out.LimitBytes < 0 || s.limit-s.reserve < out.LimitBytes) {
		out.LimitBytes = s.limit - s.reserve
	}
	return out
}

// Space reports the journal's limit and current use, as of a reading at most 250 ms old.
func (j *Journal) Space() Space { return j.space.report() }
