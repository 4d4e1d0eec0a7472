package journal

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func seqsOf(bs []Batch) []uint64 {
	out := make([]uint64, len(bs))
	for i, b := range bs {
		out[i] = b.Seq
	}
	return out
}

// TestShardKeepsStreamsApart: two delivery streams in one shard see only their own messages, in
// the shard's sequence order, and trimming or deleting one leaves the other alone.
func TestShardKeepsStreamsApart(t *testing.T) {
	ctx := context.Background()
	j := openTest(t, Config{Shards: 1})
	createTest(t, j, "a")
	createTest(t, j, "b")
	for _, name := range []string{"a", "b", "a", "b", "a"} {
		appendTest(t, j, name, time.UnixMilli(1), [][]byte{[]byte(name)})
	}
	if diff := cmp.Diff([]uint64{1, 3, 5}, seqsOf(readAll(t, j, "a", 1))); diff != "" {
		t.Errorf("a's sequences (-want +got):\n%s", diff)
	}
	if got := readAll(t, j, "a", 1); got[0].Pending != 2 {
		t.Errorf("first message of a has %d pending, want 2 (b's do not count)", got[0].Pending)
	}
	st, err := j.Stats(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if st.Messages != 3 || st.FirstSeq != 1 || st.LastSeq != 5 {
		t.Errorf("stats of a = %+v, want 3 messages from 1 to 5", st)
	}
	if _, err := j.Get(ctx, "a", 2); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(a, 2) of b's message = %v, want ErrNotFound", err)
	}
	if _, err := j.SaveState(ctx, "a", State{Cursor: 5}); err != nil {
		t.Fatal(err)
	}
	if err := j.Trim(ctx, "a", 5); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]uint64{5}, seqsOf(readAll(t, j, "a", 1))); diff != "" {
		t.Errorf("a after trim (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]uint64{2, 4}, seqsOf(readAll(t, j, "b", 1))); diff != "" {
		t.Errorf("b after a's trim (-want +got):\n%s", diff)
	}
	if err := j.DeleteStream(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append(ctx, "a", time.Now(), [][]byte{[]byte("x")}); !errors.Is(err, ErrNoStream) {
		t.Errorf("Append to deleted a = %v, want ErrNoStream", err)
	}
	if diff := cmp.Diff([]uint64{2, 4}, seqsOf(readAll(t, j, "b", 1))); diff != "" {
		t.Errorf("b after a's delete (-want +got):\n%s", diff)
	}
	createTest(t, j, "a")
	if st, err := j.Stats(ctx, "a"); err != nil || st.Messages != 0 {
		t.Errorf("re-created a: stats %+v, %v; want empty", st, err)
	}
	if st, err := j.LoadState(ctx, "a"); err != nil || st.Cursor != 1 {
		t.Errorf("re-created a: state %+v, %v; want cursor 1", st, err)
	}
}

// TestPlacementSurvivesShardCountChange: a stream keeps the shard it was created in when the
// journal is reopened with another shard count.
func TestPlacementSurvivesShardCountChange(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	j, err := Open(ctx, Config{Dir: dir, Shards: 16}, nil)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"orders", "clicks", "logs.v1", "web_2", "x"}
	where := map[string]string{}
	for _, n := range names {
		createTest(t, j, n)
		appendTest(t, j, n, time.UnixMilli(1), [][]byte{[]byte(n)})
		ref, _ := j.ref(ctx, n)
		where[n] = ref.stream
	}
	j.Close()
	j = openTest(t, Config{Dir: dir, Shards: 2})
	for _, n := range names {
		createTest(t, j, n) // idempotent: keeps the place
		got := readAll(t, j, n, 1)
		if len(got) != 1 || string(got[0].Records[0]) != n {
			t.Errorf("%s after reopen: %d messages", n, len(got))
		}
		if ref, _ := j.ref(ctx, n); ref.stream != where[n] {
			t.Errorf("%s moved from %s to %s", n, where[n], ref.stream)
		}
	}
	createTest(t, j, "new")
	if ref, _ := j.ref(ctx, "new"); ref.stream != ShardName(0) && ref.stream != ShardName(1) {
		t.Errorf("new stream placed in %s, want one of the 2 shards", ref.stream)
	}
}

// TestStreamOfItsOwn: with a per-stream bound a stream gets a JetStream stream of its own, and a
// stream made before the registry existed (no entry) is still found.
func TestStreamOfItsOwn(t *testing.T) {
	ctx := context.Background()
	j := openTest(t, Config{MaxBytesPerStream: 16 << 20})
	createTest(t, j, "own")
	appendTest(t, j, "own", time.UnixMilli(1), [][]byte{[]byte("r")})
	s, err := j.js.Stream(ctx, StreamName("own"))
	if err != nil {
		t.Fatalf("own stream: %v", err)
	}
	if got := s.CachedInfo().Config.MaxBytes; got != 16<<20 {
		t.Errorf("MaxBytes = %d, want %d", got, 16<<20)
	}
	// Forget the registry entry, as for a journal written by an older Hydrant.
	if err := j.registry.Delete(ctx, encodeName("own")); err != nil {
		t.Fatal(err)
	}
	j.forget("own")
	if got := readAll(t, j, "own", 1); len(got) != 1 {
		t.Errorf("read %d messages from the unregistered stream, want 1", len(got))
	}
	if err := j.DeleteStream(ctx, "own"); err != nil {
		t.Fatal(err)
	}
	if _, err := j.js.Stream(ctx, StreamName("own")); err == nil {
		t.Error("own stream still there after DeleteStream")
	}
}

// consumers returns how many consumers the shard of name has.
func consumers(t *testing.T, j *Journal, name string) int {
	t.Helper()
	ref, s, err := j.stream(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatalf("info %s: %v", ref.stream, err)
	}
	return info.State.Consumers
}

// TestReaderHoldsNoConsumerWhenIdle: a Reader opens a consumer only when there is a message to
// read, parks after ReaderIdle without one, and wakes on the next append.
func TestReaderHoldsNoConsumerWhenIdle(t *testing.T) {
	j := openTest(t, Config{Shards: 1, ReaderIdle: 50 * time.Millisecond})
	createTest(t, j, "idle")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := j.Read(ctx, "idle", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := make(chan Batch)
	go func() {
		for {
			b, err := r.Next(ctx)
			if err != nil {
				return
			}
			got <- b
		}
	}()
	waitConsumers := func(want int) {
		t.Helper()
		for consumers(t, j, "idle") != want {
			if ctx.Err() != nil {
				t.Fatalf("consumers = %d, want %d", consumers(t, j, "idle"), want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	time.Sleep(100 * time.Millisecond)
	waitConsumers(0) // nothing to read yet: no consumer at all
	for i := range 3 {
		p := appendTest(t, j, "idle", time.UnixMilli(1), [][]byte{[]byte{byte(i)}})
		select {
		case b := <-got:
			if b.Seq != p.Seq {
				t.Errorf("read seq %d, want %d", b.Seq, p.Seq)
			}
		case <-ctx.Done():
			t.Fatalf("append %d: the parked reader did not wake", i)
		}
		waitConsumers(0) // parked again after ReaderIdle
	}
}

// TestStopWhenIdle: a reader set to StopWhenIdle answers ErrIdle instead of waiting, and its
// Wake channel closes at the next append.
func TestStopWhenIdle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	j := openTest(t, Config{Shards: 1, ReaderIdle: 20 * time.Millisecond})
	createTest(t, j, "s")
	r, err := j.Read(ctx, "s", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.StopWhenIdle()
	if _, err := r.Next(ctx); !errors.Is(err, ErrIdle) {
		t.Fatalf("Next of an empty stream = %v, want ErrIdle", err)
	}
	wake := r.Wake()
	select {
	case <-wake:
		t.Fatal("woken before any append")
	default:
	}
	p := appendTest(t, j, "s", time.UnixMilli(1), [][]byte{[]byte("a")})
	select {
	case <-wake:
	case <-ctx.Done():
		t.Fatal("not woken by the append")
	}
	b, err := r.Next(ctx)
	if err != nil || b.Seq != p.Seq {
		t.Fatalf("Next after the wake = seq %d, %v; want %d", b.Seq, err, p.Seq)
	}
	if _, err := r.Next(ctx); !errors.Is(err, ErrIdle) {
		t.Fatalf("Next after ReaderIdle without a message = %v, want ErrIdle", err)
	}
	if n := consumers(t, j, "s"); n != 0 {
		t.Errorf("%d consumers while idle, want 0", n)
	}
}

// TestAfterAppend: a function registered with AfterAppend runs once at the next append, and
// not at all once cancelled.
func TestAfterAppend(t *testing.T) {
	j := openTest(t, Config{Shards: 1})
	createTest(t, j, "s")
	calls := make(chan string, 4)
	j.AfterAppend("s", func() { calls <- "first" })
	cancel := j.AfterAppend("s", func() { calls <- "cancelled" })
	cancel()
	appendTest(t, j, "s", time.UnixMilli(1), [][]byte{[]byte("a")})
	appendTest(t, j, "s", time.UnixMilli(1), [][]byte{[]byte("b")})
	close(calls)
	var got []string
	for c := range calls {
		got = append(got, c)
	}
	if diff := cmp.Diff([]string{"first"}, got); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if n := len(j.callbacks); n != 0 {
		t.Errorf("%d streams still have callbacks", n)
	}
}
