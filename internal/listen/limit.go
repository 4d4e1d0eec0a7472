package listen

import (
	"net/http"
	"sync/atomic"
)

// Limiter is an http.Handler that serves at most n requests at once: a request beyond that is
// answered at once by another handler, without waiting, so that a burst of clients cannot queue
// up unbounded goroutines and memory. The refusal handler writes the protocol's throttling
// answer (Firehose's ServiceUnavailableException "Slow down."), which clients retry.
type Limiter struct {
	h, refuse http.Handler
	n         int64
	inFlight  atomic.Int64
	refused   atomic.Int64
}

var _ http.Handler = (*Limiter)(nil)

// NewLimiter returns a Limiter serving h to at most n requests at once (at least 1) and refuse
// to the requests beyond. A nil refuse answers 503 with a plain-text "Slow down.".
func NewLimiter(h http.Handler, n int, refuse http.Handler) *Limiter {
	if refuse == nil {
		refuse = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "Slow down.", http.StatusServiceUnavailable)
		})
	}
	return &Limiter{h: h, refuse: refuse, n: int64(max(n, 1))}
}

// ServeHTTP serves r with the Limiter's handler if fewer than n requests are being served, and
// with its refusal handler otherwise.
func (l *Limiter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !l.acquire() {
		l.refused.Add(1)
		l.refuse.ServeHTTP(w, r)
		return
	}
	// Deferred so that a handler's panic (http.ErrAbortHandler) frees its slot too.
	defer l.inFlight.Add(-1)
	l.h.ServeHTTP(w, r)
}

// acquire takes a slot if one is free. It compares before it adds, so that the bound is exact:
// a request arriving while n are served is refused, and one arriving while n-1 are is not,
// however many arrive together.
func (l *Limiter) acquire() bool {
	for {
		cur := l.inFlight.Load()
		if cur >= l.n {
			return false
		}
		if l.inFlight.CompareAndSwap(cur, cur+1) {
			return true
		}
	}
}

// Refused returns the number of requests refused since the Limiter was made.
func (l *Limiter) Refused() int64 { return l.refused.Load() }

// InFlight returns the number of requests being served.
func (l *Limiter) InFlight() int { return int(l.inFlight.Load()) }
