package delivery

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hydrant-dev/hydrant/internal/membudget"
)

// waitFor polls cond until it holds or 20 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestBudgetWritesEarlyAndLosesNothing: a stream whose size hint is far above the memory
// budget writes its buffer early, as objects smaller than the hint, whenever what it holds does
// not fit, and delivers every record once.
func TestBudgetWritesEarlyAndLosesNothing(t *testing.T) {
	j := openJournal(t)
	const limit = 4 << 20
	budget := membudget.New(limit)
	spec := testSpec(t)
	spec.Legs[0].SizeBytes, spec.Legs[0].Interval = 64<<20, time.Hour
	var want []byte
	for i := range 24 { // 24 messages of 512 KiB: 12 MiB, three times the budget
		rec := bytes.Repeat([]byte{byte('a' + i%26)}, 512<<10-1)
		rec = append(rec, '\n')
		want = append(want, rec...)
		if _, err := j.Append(context.Background(), "s", time.Now(), [][]byte{rec}); err != nil {
			t.Fatal(err)
		}
	}
	out := newStore()
	r := run(t, Deps{Log: j, State: j, Objects: out, Budget: budget}, spec)
	// Without a flush, objects appear because the budget is short, not because of the hints.
	waitFor(t, "objects written early", func() bool { return len(out.under("")) >= 2 })
	r.flush(t, "s")
	if diff := cmp.Diff(lines(map[string]string{"": string(want)}), lines(out.under(""))); diff != "" {
		t.Errorf("delivered records (-want +got):\n%s", diff)
	}
	for k, v := range out.under("") {
		if len(v) > limit+(1<<20) {
			t.Errorf("object %s of %d bytes: more than the budget and one message", k, len(v))
		}
	}
	st := budget.Stats()
	if st.Refused == 0 {
		t.Error("the budget never refused: the test did not reach the bound")
	}
	r.stop()
	if got := budget.Stats().Used; got != 0 {
		t.Errorf("%d bytes still held after the actor stopped", got)
	}
}

// TestSqueezeWritesTheLargestBuffer: when another holder is refused, a stream holding an open
// buffer of at least squeezeMin writes it at once instead of waiting for its interval.
func TestSqueezeWritesTheLargestBuffer(t *testing.T) {
	j := openJournal(t)
	budget := membudget.New(64 << 20)
	spec := testSpec(t)
	spec.Legs[0].SizeBytes, spec.Legs[0].Interval = 64<<20, time.Hour
	rec := append(bytes.Repeat([]byte{'x'}, 3<<20), '\n')
	if _, err := j.Append(context.Background(), "s", time.Now(), [][]byte{rec}); err != nil {
		t.Fatal(err)
	}
	out := newStore()
	r := run(t, Deps{Log: j, State: j, Objects: out, Budget: budget}, spec)
	defer r.stop()
	waitFor(t, "the record in an open buffer", func() bool { return budget.Stats().Used >= 3<<20 })
	if n := len(out.under("")); n != 0 {
		t.Fatalf("%d objects before the squeeze", n)
	}
	if budget.TryAcquire(64 << 20) {
		t.Fatal("the whole budget was free")
	}
	waitFor(t, "the squeezed buffer written", func() bool { return len(out.under("")) == 1 })
	waitFor(t, "the buffer's bytes released", func() bool { return budget.Stats().Used < 1<<20 })
	for k, v := range out.under("") {
		if v != string(rec) {
			t.Errorf("object %s holds %d bytes, want the record's %d", k, len(v), len(rec))
		}
	}
}
