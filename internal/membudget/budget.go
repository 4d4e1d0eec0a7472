// Package membudget is the process-wide memory budget: a bound on the bytes that request bodies
// being read, decoded batches, delivery buffers and journal read-ahead hold at once. Holders
// acquire before they allocate and release when they let go; a refused acquire is how overload
// becomes "Slow down." instead of unbounded memory. See docs/design/memory.md.
package membudget

import (
	"sync"
)

// Budget is a bound on bytes held at once, shared by every holder in the process. A nil
// *Budget has no bound. It is safe for concurrent use.
type Budget struct {
	limit int64

	mu       sync.Mutex
	used     int64
	peak     int64
	refused  int64
	freed    chan struct{} // closed at the next release
	squeezed chan struct{} // closed at the next refusal
}

// New returns a budget of limit bytes (at least 1).
func New(limit int64) *Budget {
	return &Budget{limit: max(limit, 1), freed: make(chan struct{}), squeezed: make(chan struct{})}
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
		close(b.squeezed)
		b.squeezed = make(chan struct{})
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
	close(b.freed)
	b.freed = make(chan struct{})
	b.mu.Unlock()
}

// Freed returns a channel closed at the next Release. A nil budget's never closes.
func (b *Budget) Freed() <-chan struct{} {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.freed
}

// Squeezed returns a channel closed at the next refused TryAcquire: a holder that can give
// bytes back early (write its largest buffer, drop spare ones) waits on it. A nil budget's
// never closes.
func (b *Budget) Squeezed() <-chan struct{} {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.squeezed
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
