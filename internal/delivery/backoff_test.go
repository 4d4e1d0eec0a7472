package delivery

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestBackoffBoundsAndSpread(t *testing.T) {
	b := Backoff{Initial: time.Second, Max: 30 * time.Second}
	r := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		attempt  int
		min, max time.Duration
	}{
		{1, 500 * time.Millisecond, time.Second},
		{2, time.Second, 2 * time.Second},
		{5, 8 * time.Second, 16 * time.Second},
		{6, 15 * time.Second, 30 * time.Second},
		{60, 15 * time.Second, 30 * time.Second},
	}
	for _, tc := range tests {
		seen := map[time.Duration]bool{}
		for i := 0; i < 200; i++ {
			d := b.Delay(tc.attempt, r)
			if d < tc.min || d > tc.max {
				t.Fatalf("attempt %d: delay %s outside [%s, %s]", tc.attempt, d, tc.min, tc.max)
			}
			seen[d] = true
		}
		if len(seen) < 100 {
			t.Errorf("attempt %d: only %d distinct delays in 200; jitter missing", tc.attempt, len(seen))
		}
	}
}
