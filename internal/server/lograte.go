package server

import (
	"sync"
	"time"
)

// logLimiter lets a repeated log line through at most once per interval per key, and says how
// many were held back since the last one, so that an overload (every put refused) logs a line
// every few seconds rather than one per call. The events themselves are counted by metrics.
type logLimiter struct {
	every time.Duration
	now   func() time.Time

	mu   sync.Mutex
	keys map[string]*logBucket
}

type logBucket struct {
	last       time.Time
	suppressed int
}

// maxLimiterKeys bounds the keys a limiter remembers; beyond it the oldest state is dropped,
// at worst letting one extra line through.
const maxLimiterKeys = 10_000

func newLogLimiter(every time.Duration, now func() time.Time) *logLimiter {
	return &logLimiter{every: every, now: now, keys: map[string]*logBucket{}}
}

// allow reports whether a line for key may be logged now, and how many were suppressed
// since the last one that was.
func (l *logLimiter) allow(key string) (ok bool, suppressed int) {
	t := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.keys[key]
	if b == nil {
		if len(l.keys) >= maxLimiterKeys {
			clear(l.keys)
		}
		b = &logBucket{}
		l.keys[key] = b
	} else if t.Sub(b.last) < l.every {
		b.suppressed++
		return false, 0
	}
	n := b.suppressed
	b.last, b.suppressed = t, 0
	return true, n
}
