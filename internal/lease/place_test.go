package lease

import (
	"fmt"
	"hash/fnv"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// refScore is score written with hash/fnv, to show score is FNV-64a plus the finalizer.
func refScore(node, stream string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(node))
	h.Write([]byte{0})
	h.Write([]byte(stream))
	x := h.Sum64()
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

func streamNames(n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprintf("stream-%d", i)
	}
	return s
}

func TestScoreIsFNV64a(t *testing.T) {
	for _, node := range []string{"", "n1", "node-2", "é"} {
		for _, stream := range []string{"", "s", "orders-eu-west-1"} {
			if got, want := score(node, stream), refScore(node, stream); got != want {
				t.Errorf("score(%q, %q) = %x, want %x", node, stream, got, want)
			}
		}
	}
}

func TestPreferredStable(t *testing.T) {
	tests := []struct {
		name   string
		nodes  []string
		stream string
		want   string
	}{
		{"no nodes", nil, "s", ""},
		{"one node", []string{"n1"}, "s", "n1"},
		// Pinned: the choice is part of the protocol between nodes of different versions.
		{"three nodes a", []string{"n1", "n2", "n3"}, "stream-0", "n1"},
		{"three nodes b", []string{"n1", "n2", "n3"}, "stream-2", "n2"},
		{"three nodes c", []string{"n1", "n2", "n3"}, "stream-5", "n2"},
		{"three nodes d", []string{"n1", "n2", "n3"}, "stream-3", "n1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Preferred(tt.nodes, tt.stream); got != tt.want {
				t.Errorf("Preferred(%v, %q) = %q, want %q", tt.nodes, tt.stream, got, tt.want)
			}
			// The order of the node list does not matter.
			r := slices.Clone(tt.nodes)
			slices.Reverse(r)
			if got := Preferred(r, tt.stream); got != tt.want {
				t.Errorf("Preferred(%v, %q) = %q, want %q", r, tt.stream, got, tt.want)
			}
		})
	}
}

func TestPreferredSpreads(t *testing.T) {
	nodes := []string{"n1", "n2", "n3"}
	streams := streamNames(1000)
	got := map[string]int{}
	for _, s := range streams {
		got[Preferred(nodes, s)]++
	}
	even := len(streams) / len(nodes)
	for _, n := range nodes {
		if d := got[n] - even; d < -even*15/100 || d > even*15/100 {
			t.Errorf("node %s prefers %d streams, want %d ± 15%%: %v", n, got[n], even, got)
		}
	}
}

func TestPreferredJoinMovesOnlyItsShare(t *testing.T) {
	three := []string{"n1", "n2", "n3"}
	four := append(slices.Clone(three), "n4")
	streams := streamNames(1000)
	moved := 0
	for _, s := range streams {
		before, after := Preferred(three, s), Preferred(four, s)
		if before == after {
			continue
		}
		moved++
		if after != "n4" {
			t.Errorf("stream %s moved from %s to %s, not to the new node", s, before, after)
		}
	}
	if moved < 200 || moved > 300 {
		t.Errorf("%d of %d streams moved, want about a quarter (200..300)", moved, len(streams))
	}
	if diff := cmp.Diff(Preferred(three, "x"), Preferred([]string{"n3", "n1", "n2"}, "x")); diff != "" {
		t.Errorf("order changes the choice (-sorted +shuffled):\n%s", diff)
	}
}
