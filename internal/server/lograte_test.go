package server

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLogLimiter(t *testing.T) {
	now := time.Unix(0, 0)
	l := newLogLimiter(10*time.Second, func() time.Time { return now })
	type call struct {
		at         time.Duration
		key        string
		ok         bool
		suppressed int
	}
	calls := []call{
		{0, "a", true, 0},
		{time.Second, "a", false, 0},
		{2 * time.Second, "a", false, 0},
		{3 * time.Second, "b", true, 0}, // keys are apart
		{10 * time.Second, "a", true, 2},
		{11 * time.Second, "a", false, 0},
		{30 * time.Second, "a", true, 1},
	}
	var got []call
	for _, c := range calls {
		now = time.Unix(0, 0).Add(c.at)
		ok, n := l.allow(c.key)
		got = append(got, call{c.at, c.key, ok, n})
	}
	if diff := cmp.Diff(calls, got, cmp.AllowUnexported(call{})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
