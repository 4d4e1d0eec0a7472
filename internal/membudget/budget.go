// Package membudget is the process-wide memory budget: a bound on the bytes that request bodies
// being read, decoded batches, delivery buffers and journal read-ahead hold at once. Holders
// acquire before they allocate and release when they let go; a refused acquire is how overload
// becomes "Slow down." instead of unbounded memory. See docs/design/memory.md.
package membudget

import (
	"sync"
	"sync/atomic"
)

// Budget is a bound on bytes held at once, shared by every holder in the process. A nil
// *Budget has no bound. It is safe for concurrent use.
type Budget struct {
	limit int64

	mu       sync.Mutex
	used     int64
	peak     int64
	refused  int64
	freed    signal // fired at a release
	squeezed signal // fired at a refusal
}

// New returns a budget of limit bytes (at least 1).
func New(limit int64) *Budget {
	b := &Budget{limit: max(limit, 1)}
	b.freed.init()
	b.squeezed.init()
	return b
}

// signal is a channel closed at the next fire after a wait took it. Waiting takes no lock, and
// a fire with no one waiting costs a load: puts release on every request, and an actor looks at
// both signals on every event. A waiter takes the channel, then checks its condition again (a
// fire it missed happened before that check).
type signal struct {
	ch      atomic.Pointer[chan struct{}]
	watched atomic.Bool
}

func (s *signal) init() {
	ch := make(chan struct{})
	s.ch.Store(&ch)
}

// wait returns the channel the next fire closes. It loads the channel before it marks it
// watched: a fire in between then closes the loaded channel or one the waiter did not take,
// and the waiter's check after wait sees what that fire announced.
func (s *signal) wait() <-chan struct{} {
	ch := *s.ch.Load()
	s.watched.Store(true)
	return ch
}

// fire closes the channel if it was taken; fires are serialized by Budget.mu.
func (s *signal) fire() {
	if !s.watched.Load() {
		return
	}
	s.watched.Store(false)
	ch := make(chan struct{})
	close(*s.ch.Swap(&ch))
}

// TryAcquire takes n bytes if they fit and reports whether it did. A refusal wakes the holders
// waiting on Squeezed, so that they give back what they can. Requests (bodies being read and
// decoded) acquire with TryAcquire; holders that keep bytes for longer (delivery buffers,
// journal read-ahead) use TryAcquireShared, so that they cannot take the room requests need.
func (b *Budget) TryAcquire(n int64) bool { return b.acquire(n, b.Limit()) }

// TryAcquireShared takes n bytes if they fit under SharedLimit: three quarters of the limit, so
// that a quarter is always left to requests.
func (b *Budget) TryAcquireShared(n int64) bool { return b.acquire(n, b.SharedLimit()) }

// Limit returns the budget's bound (0 for a nil budget).
func (b *Budget) Limit() int64 {
	if b == nil {
		return 0
	}
	return b.limit
}

// SharedLimit returns the bound of TryAcquireShared: three quarters of the limit.
func (b *Budget) SharedLimit() int64 {
	if b == nil {
		return 0
	}
	return b.limit - b.limit/4
}

func (b *Budget) acquire(n, limit int64) bool {
	if b == nil || n <= 0 {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > limit {
		b.refused++
		b.squeezed.fire()
		return false
	}
	b.used += n
	b.peak = max(b.peak, b.used)
	return true
}

// Release gives back n bytes taken with TryAcquire, and wakes the holders waiting on Freed.
func (b *Budget) Release(n int64) {
	if b == nil || n <= 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	if b.used < 0 {
		b.mu.Unlock()
		panic("membudget: released more than was acquired")
	}
	b.freed.fire()
	b.mu.Unlock()
}

// Freed returns a channel closed at the next Release. A nil budget's never closes.
func (b *Budget) Freed() <-chan struct{} {
	if b == nil {
		return nil
	}
	return b.freed.wait()
}

// Squeezed returns a channel closed at the next refused TryAcquire: a holder that can give
// bytes back early (write its largest buffer, drop spare ones) waits on it. A nil budget's
// never closes.
func (b *Budget) Squeezed() <-chan struct{} {
	if b == nil {
		return nil
	}
	return b.squeezed.wait()
}

// Stats is a budget's state.
type Stats struct {
	Limit, Used, Peak int64
	// Refused counts the refused acquires since the budget was made.
	Refused int64
}

// Stats returns the limit, the bytes held now, the most ever held and the refusals.
func (b *Budget) Stats() Stats {
	if b == nil {
		return Stats{}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return Stats{Limit: b.limit, Used: b.used, Peak: b.peak, Refused: b.refused}
}

// Hold is one holder's share of a budget, resized as what it holds grows and shrinks. The zero
// Hold of a nil budget always fits. A Hold is not safe for concurrent use.
type Hold struct {
	b *Budget
	n int64
}

// NewHold returns an empty share of b.
func NewHold(b *Budget) *Hold { return &Hold{b: b} }

// Held returns the bytes the hold has.
func (h *Hold) Held() int64 { return h.n }

// Resize makes the hold n bytes: it releases what is above n, or acquires what is missing (with
// TryAcquireShared: a hold is a long-lived holder) and reports false, holding what it had, when
// that does not fit.
func (h *Hold) Resize(n int64) bool {
	n = max(n, 0)
	switch {
	case n < h.n:
		h.b.Release(h.n - n)
	case n > h.n:
		if !h.b.TryAcquireShared(n - h.n) {
			return false
		}
	}
	h.n = n
	return true
}

// Close releases everything the hold has.
func (h *Hold) Close() { h.Resize(0) }
