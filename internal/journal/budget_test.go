package journal

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/hydrant-dev/hydrant/internal/membudget"
)

var _ Budget = (*membudget.Budget)(nil)

// nextAsync reads the next batch of r in a goroutine.
func nextAsync(ctx context.Context, r *Reader) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := r.Next(ctx)
		done <- err
	}()
	return done
}

// sharedBudget returns a budget whose shared part, what readers may hold, is n bytes.
func sharedBudget(n int64) *membudget.Budget {
	limit := n * 4 / 3
	for membudget.New(limit).SharedLimit() < n {
		limit++
	}
	return membudget.New(limit)
}

func waitUsed(t *testing.T, b *membudget.Budget, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for b.Stats().Used != want {
		if time.Now().After(deadline) {
			t.Fatalf("budget holds %d bytes, want %d", b.Stats().Used, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestReaderWaitsForReadAheadBudget: a reader whose read-ahead does not fit the budget opens no
// consumer until another reader releases its own, then reads; each holds what it pulls.
func TestReaderWaitsForReadAheadBudget(t *testing.T) {
	b := sharedBudget(2 << 20)
	j := openTest(t, Config{Shards: 1, MaxMessageBytes: 1 << 20, ReadAheadBytes: 2 << 20, ReaderIdle: time.Minute, Budget: b})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, name := range []string{"a", "b"} {
		createTest(t, j, name)
		appendTest(t, j, name, time.UnixMilli(1), [][]byte{[]byte(name)})
	}
	ra, err := j.Read(ctx, "a", 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ra.Next(ctx); err != nil {
		t.Fatal(err)
	}
	waitUsed(t, b, 2<<20) // a's whole read-ahead

	rb, err := j.Read(ctx, "b", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer rb.Close()
	done := nextAsync(ctx, rb)
	select {
	case err := <-done:
		t.Fatalf("b read (err %v) while a held the whole budget", err)
	case <-time.After(300 * time.Millisecond):
	}
	if n := consumers(t, j, "b"); n != 1 { // one shard: a's consumer, none of b
		t.Errorf("%d consumers while b waits for budget, want only a's", n)
	}
	if err := ra.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("b after a closed: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("b still waits after a released its read-ahead")
	}
	waitUsed(t, b, 2<<20) // now b's
	rb.Close()
	waitUsed(t, b, 0)
	if st := b.Stats(); st.Peak != 2<<20 {
		t.Errorf("peak %d, want one read-ahead (%d)", st.Peak, 2<<20)
	}
}

// TestReaderReadAheadFallsBackAndParks: a reader takes MaxMessageBytes when its whole read-ahead
// does not fit, and gives it back when it parks.
func TestReaderReadAheadFallsBackAndParks(t *testing.T) {
	b := sharedBudget(3 << 20)
	j := openTest(t, Config{Shards: 1, MaxMessageBytes: 1 << 20, ReadAheadBytes: 2 << 20, ReaderIdle: 100 * time.Millisecond, Budget: b})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	createTest(t, j, "s")
	appendTest(t, j, "s", time.UnixMilli(1), [][]byte{[]byte("x")})
	if !b.TryAcquireShared(2 << 20) { // someone else's
		t.Fatal("budget refused")
	}
	r, err := j.Read(ctx, "s", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Next(ctx); err != nil {
		t.Fatal(err)
	}
	waitUsed(t, b, 3<<20) // 2 MiB of the other holder, 1 MiB of the reader
	// Nothing more to read: after ReaderIdle the reader parks and releases.
	nctx, ncancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer ncancel()
	if _, err := r.Next(nctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next on an empty stream: %v, want the deadline", err)
	}
	waitUsed(t, b, 2<<20)
	b.Release(2 << 20)
}

// TestReaderOverdrawsAfterWaiting: a reader that waited ReaderIdle for budget reads one
// message's worth without holding it, so that readers of busy streams cannot starve it.
func TestReaderOverdrawsAfterWaiting(t *testing.T) {
	b := sharedBudget(1 << 20)
	j := openTest(t, Config{Shards: 1, MaxMessageBytes: 1 << 20, ReadAheadBytes: 1 << 20, ReaderIdle: 200 * time.Millisecond, Budget: b})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	createTest(t, j, "s")
	appendTest(t, j, "s", time.UnixMilli(1), [][]byte{[]byte("x")})
	if !b.TryAcquireShared(1 << 20) {
		t.Fatal("budget refused")
	}
	r, err := j.Read(ctx, "s", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	start := time.Now()
	if _, err := r.Next(ctx); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 200*time.Millisecond {
		t.Errorf("read after %v, want a wait of ReaderIdle (200ms) first", took)
	}
	if got := b.Stats().Used; got != 1<<20 {
		t.Errorf("budget holds %d, want only the other holder's %d", got, 1<<20)
	}
	r.Close()
	b.Release(1 << 20)
	waitUsed(t, b, 0)
}

// TestReadRangeHoldsReadAheadUntilTheBound: a bounded reader holds its read-ahead until it has
// returned its last message, and a context that ends while it waits for budget ends ReadRange.
func TestReadRangeHoldsReadAheadUntilTheBound(t *testing.T) {
	b := sharedBudget(2 << 20)
	j := openTest(t, Config{Shards: 1, MaxMessageBytes: 1 << 20, ReadAheadBytes: 2 << 20, ReaderIdle: time.Minute, Budget: b})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	createTest(t, j, "s")
	for i := range 3 {
		appendTest(t, j, "s", time.UnixMilli(1), [][]byte{{byte(i)}})
	}
	r, err := j.ReadRange(ctx, "s", 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	waitUsed(t, b, 2<<20)
	wctx, wcancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer wcancel()
	if _, err := j.ReadRange(wctx, "s", 1, 3); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second ReadRange without budget: %v, want the deadline", err)
	}
	for range 2 {
		if _, err := r.Next(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitUsed(t, b, 0) // released with the last message of the range
	if _, err := r.Next(ctx); !errors.Is(err, io.EOF) {
		t.Errorf("after the bound: %v, want EOF", err)
	}
}
