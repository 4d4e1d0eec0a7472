package delivery

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRingKeepsTheLatest(t *testing.T) {
	for _, n := range []int{0, 1, 3, keep, keep + 1, 3*keep + 7} {
		var r ring[int]
		for i := 1; i <= n; i++ {
			r.add(i)
		}
		var want []int
		for i := n; i > 0 && len(want) < 5; i-- {
			want = append(want, i)
		}
		if diff := cmp.Diff(want, r.latest(5), cmpEmpty); diff != "" {
			t.Errorf("after %d adds (-want +got):\n%s", n, diff)
		}
		if got := len(r.latest(1000)); got != min(n, keep) {
			t.Errorf("after %d adds: %d kept, want %d", n, got, min(n, keep))
		}
	}
}

var cmpEmpty = cmp.Comparer(func(a, b []int) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return cmp.Equal(a, b)
})
