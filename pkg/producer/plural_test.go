package producer

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCount(t *testing.T) {
	tests := []struct {
		n    int
		want string
	}{
		{0, "0 attempts"},
		{1, "1 attempt"},
		{2, "2 attempts"},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, count(tt.n, "attempt", "attempts")); diff != "" {
			t.Errorf("count(%d) (-want +got):\n%s", tt.n, diff)
		}
	}
}
