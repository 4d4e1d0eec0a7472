package delivery

import (
	"math/rand/v2"
	"time"
)

// Backoff computes retry delays: exponential from Initial, capped at Max. With Jitter 0 the
// jitter is full in the upper half (a delay is never below half the exponential step); with
// Jitter j in (0, 1) a delay is the step times a factor in [1−j, 1+j].
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
	Jitter  float64
}

// Delay returns the wait before retry number attempt (1-based).
func (b Backoff) Delay(attempt int, r *rand.Rand) time.Duration {
	d := b.Initial
	for i := 1; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	if b.Jitter > 0 {
		return time.Duration(float64(d) * (1 + b.Jitter*(2*r.Float64()-1)))
	}
	half := d / 2
	return half + time.Duration(r.Int64N(int64(half)+1))
}
