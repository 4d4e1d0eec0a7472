package delivery

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hydrant-dev/hydrant/internal/prefix"
)

func TestBatcherDecidesBySizeIntervalAndBound(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	b := newBatcher(10, time.Minute, 25)
	add := func(part string, seq uint64, data string, at time.Time) *buffer {
		p := b.open(part, false, prefix.Values{})
		b.add(p, seq, false, identity(int(seq), ""), []byte(data), at.Add(-time.Second), at)
		return p
	}
	a := add("a", 1, "12345", t0)
	add("b", 2, "123", t0.Add(10*time.Second))
	if b.full(a) {
		t.Fatal("5 of 10 bytes is full")
	}
	add("a", 3, "67890", t0.Add(20*time.Second))
	if !b.full(a) {
		t.Fatal("10 of 10 bytes is not full")
	}
	if got, want := b.next(), t0.Add(time.Minute); !got.Equal(want) {
		t.Errorf("next deadline %v, want %v (the interval counts from the first record of the empty buffer)", got, want)
	}
	if due := b.due(t0.Add(59 * time.Second)); len(due) != 0 {
		t.Errorf("%d buffers due before the interval", len(due))
	}
	var ids []string
	for _, p := range b.due(t0.Add(69 * time.Second)) {
		ids = append(ids, p.id)
	}
	if diff := cmp.Diff([]string{"a"}, ids); diff != "" {
		t.Errorf("due at +69s (-want +got):\n%s", diff)
	}
	if b.over() != nil {
		t.Errorf("13 bytes are over the 25-byte bound")
	}
	add("c", 4, "1234567890123", t0)
	if p := b.over(); p == nil || p.id != "c" {
		t.Errorf("over the bound: %v, want the largest buffer c", p)
	}
	b.take(a)
	if b.total != 16 || b.partitions() != 2 {
		t.Errorf("after taking a: %d bytes in %d partitions, want 16 in 2", b.total, b.partitions())
	}
	if diff := cmp.Diff([]Run{{Seq: 1, N: 1, IDs: []uint64{1 << 40}}, {Seq: 3, N: 1, IDs: []uint64{3 << 40}}}, a.runs); diff != "" {
		t.Errorf("runs of a (-want +got):\n%s", diff)
	}
	if got := string(a.record(1)); got != "67890" {
		t.Errorf("record 1 of a = %q", got)
	}
	if !a.oldest.Equal(t0.Add(-time.Second)) {
		t.Errorf("oldest %v: want the arrival of the first record", a.oldest)
	}
}

func TestBatcherKeepsSparesWithinTheirBudget(t *testing.T) {
	b := newBatcher(1<<20, time.Minute, 0)
	for range maxSpares + 10 {
		b.reuse(make([]byte, 0, 1<<10))
	}
	if len(b.spare) != maxSpares {
		t.Errorf("%d spares kept, want the bound %d", len(b.spare), maxSpares)
	}
	b = newBatcher(1<<20, time.Minute, 0)
	for range 10 {
		b.reuse(make([]byte, 0, maxSpareBytes/4))
	}
	if len(b.spare) != 4 || b.spareCap != maxSpareBytes {
		t.Errorf("%d spares of %d bytes kept, want 4 of %d", len(b.spare), b.spareCap, maxSpareBytes)
	}
	p := b.open("x", false, prefix.Values{})
	if cap(p.data) != maxSpareBytes/4 || b.spareCap != maxSpareBytes*3/4 {
		t.Errorf("a new buffer starts with capacity %d (spares now %d bytes): want a spare's", cap(p.data), b.spareCap)
	}
}
