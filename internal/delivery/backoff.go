package delivery

import (
	"math/rand/v2"
	"time"
)

// Backoff computes retry delays: exponential from Initial, capped at Max, with full jitter
// in the upper half (so a delay is never below half the exponential step).
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
}

// Delay returns the wait before retry number attempt (1-based).
func (b Backoff) Delay(attempt int, r *rand.Rand) time.Duration {
	d := b.Initial
	for i := 1; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	half := d / 2
	return half + time.Duration(r.Int64N(int64(half)+1))
}
