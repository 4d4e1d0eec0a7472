package journal

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestGroupCommit appends from many goroutines at once: every put is acknowledged with its own
// record IDs, the reader finds each put's records and arrival at its position, puts share
// messages, and lseq counts the messages.
func TestGroupCommit(t *testing.T) {
	j := openTest(t, Config{})
	createTest(t, j, "g")
	const appenders, each = 64, 20
	type put struct {
		pos     Position
		arrival time.Time
		records [][]byte
	}
	puts := make([]put, appenders*each)
	var wg sync.WaitGroup
	for a := range appenders {
		wg.Go(func() {
			for k := range each {
				i := a*each + k
				p := put{arrival: time.UnixMilli(1_700_000_000_000 + int64(i)), records: records(1+i%3, 10+i%50, byte(i))}
				if i%17 == 0 {
					p.records = nil // a put of no records is a put too
				}
				pos, err := j.Append(context.Background(), "g", p.arrival, p.records)
				if err != nil {
					t.Errorf("put %d: %v", i, err)
					return
				}
				p.pos = pos
				puts[i] = p
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	got := map[uint64]Batch{}
	var lseqs []uint64
	for _, b := range readAll(t, j, "g", 1) {
		got[b.Seq] = b
		lseqs = append(lseqs, b.LSeq)
	}
	t.Logf("%d puts in %d messages", len(puts), len(got))
	if len(got) >= len(puts) {
		t.Errorf("%d puts took %d messages: nothing was gathered", len(puts), len(got))
	}
	for i, want := range lseqs {
		if want != uint64(i+1) {
			t.Fatalf("lseqs = %v, want 1, 2, 3, …", lseqs)
		}
	}
	ids := map[string]int{}
	for i, p := range puts {
		b, ok := got[p.pos.Seq]
		if !ok {
			t.Fatalf("put %d: seq %d not read", i, p.pos.Seq)
		}
		if p.pos.First+len(p.records) > len(b.Records) {
			t.Fatalf("put %d: records %d+%d beyond the message's %d", i, p.pos.First, len(p.records), len(b.Records))
		}
		if diff := cmp.Diff(p.records, b.Records[p.pos.First:p.pos.First+len(p.records)], cmp.Comparer(recordsEqual)); diff != "" {
			t.Errorf("put %d (-want +got):\n%s", i, diff)
		}
		for k := range p.records {
			if got := b.ArrivalAt(p.pos.First + k); !got.Equal(p.arrival) {
				t.Errorf("put %d record %d: arrival %v, want %v", i, k, got, p.arrival)
			}
			id := p.pos.RecordID(k)
			if other, dup := ids[id]; dup {
				t.Errorf("record ID %s of put %d also given to put %d", id, i, other)
			}
			ids[id] = i
			if rid := b.RecordID(p.pos.First + k); rid != id {
				t.Errorf("put %d record %d: reader's ID %s, Append's %s", i, k, rid, id)
			}
		}
	}
}

// TestGroupCommitBounds gathers puts that cannot all share a message: a message stays within
// MaxMessageBytes and 65,536 records, and a put is never split.
func TestGroupCommitBounds(t *testing.T) {
	tests := []struct {
		name       string
		puts, size int // records per put and bytes per record
	}{
		{"bytes", 1, 600 << 10},
		{"records", 40_000, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := openTest(t, Config{MaxMessageBytes: 1 << 20, ReadAheadBytes: 1 << 20})
			createTest(t, j, "b")
			var wg sync.WaitGroup
			for range 6 {
				wg.Go(func() {
					if _, err := j.Append(context.Background(), "b", time.Now(), records(tt.puts, tt.size, 1)); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			n := 0
			for _, b := range readAll(t, j, "b", 1) {
				if len(b.f.puts) > 1 && (len(b.Records) > maxRecordsPerFrame || tt.size > 0) {
					t.Errorf("seq %d holds %d puts, %d records", b.Seq, len(b.f.puts), len(b.Records))
				}
				if len(b.Records)%tt.puts != 0 {
					t.Errorf("seq %d holds %d records: a put was split", b.Seq, len(b.Records))
				}
				n += len(b.Records)
			}
			if n != 6*tt.puts {
				t.Errorf("%d records stored, want %d", n, 6*tt.puts)
			}
		})
	}
}

// TestLSeqContinues: lseq starts after the last message of the stream, across a restart, and at
// 1 after a version 1 message.
func TestLSeqContinues(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	j, err := Open(ctx, Config{Dir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	createTest(t, j, "old")
	createTest(t, j, "new")
	ref, err := j.ref(ctx, "old")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.js.Publish(ctx, ref.subject, encodeV1(testPut{Arrival: 1, Records: [][]byte{[]byte("v1")}})); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		appendTest(t, j, "old", time.UnixMilli(int64(i)), nil)
		appendTest(t, j, "new", time.UnixMilli(int64(i)), nil)
	}
	j.Close()
	j = openTest(t, Config{Dir: dir})
	appendTest(t, j, "new", time.Now(), [][]byte{[]byte("after restart")})
	lseqs := func(name string) []uint64 {
		var l []uint64
		for _, b := range readAll(t, j, name, 1) {
			l = append(l, b.LSeq)
		}
		return l
	}
	if diff := cmp.Diff([]uint64{0, 1, 2, 3}, lseqs("old")); diff != "" {
		t.Errorf("old: lseqs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]uint64{1, 2, 3, 4}, lseqs("new")); diff != "" {
		t.Errorf("new: lseqs (-want +got):\n%s", diff)
	}
}

// TestGroupCommitErrors: an error of a message reaches every put in it, a cancelled caller gets
// its context's error, and no publisher outlives Close.
func TestGroupCommitErrors(t *testing.T) {
	j := openTest(t, Config{})
	createTest(t, j, "e")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := j.Append(ctx, "e", time.Now(), nil); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("Append with a cancelled context = %v, want nil or context.Canceled", err)
	}
	// The stream goes away under a flood of puts: each fails with ErrNoStream or succeeds.
	var wg sync.WaitGroup
	for a := range 16 {
		wg.Go(func() {
			for i := range 50 {
				_, err := j.Append(context.Background(), "e", time.Now(), [][]byte{fmt.Appendf(nil, "%d-%d", a, i)})
				if err != nil && !errors.Is(err, ErrNoStream) {
					t.Errorf("Append = %v, want nil or ErrNoStream", err)
					return
				}
			}
		})
	}
	time.Sleep(20 * time.Millisecond)
	if err := j.DeleteStream(context.Background(), "e"); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if _, err := j.Append(context.Background(), "e", time.Now(), nil); !errors.Is(err, ErrNoStream) {
		t.Errorf("Append after DeleteStream = %v, want ErrNoStream", err)
	}
	// Close with puts in flight ends them and every publisher.
	createTest(t, j, "c")
	for range 8 {
		wg.Go(func() {
			for {
				if _, err := j.Append(context.Background(), "c", time.Now(), [][]byte{[]byte("x")}); err != nil {
					return
				}
			}
		})
	}
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	j.Close()
	wg.Wait()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close with puts in flight took %v", d)
	}
}

// TestCommitterWaiting holds a committer as if a publish were in flight, so puts stay gathered:
// a caller whose context ends gets its error and its put is withdrawn, and puts beyond
// IngestQueueBytes are refused with ErrFull.
func TestCommitterWaiting(t *testing.T) {
	j := openTest(t, Config{})
	createTest(t, j, "w")
	ref, err := j.ref(context.Background(), "w")
	if err != nil {
		t.Fatal(err)
	}
	c := j.committer("w", ref)
	c.mu.Lock()
	c.running = true // no publisher will take the queue
	c.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := c.append(ctx, time.Now(), [][]byte{[]byte("x")}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("append with an ending context = %v, want DeadlineExceeded", err)
	}
	c.mu.Lock()
	if len(c.queue) != 0 || c.queued != 0 {
		t.Errorf("after withdrawal: %d puts, %d bytes gathered, want none", len(c.queue), c.queued)
	}
	c.queued = j.cfg.IngestQueueBytes - 10 // as if that much waited
	c.mu.Unlock()
	if _, err := c.append(context.Background(), time.Now(), [][]byte{[]byte("x")}); !errors.Is(err, ErrFull) {
		t.Errorf("append over IngestQueueBytes = %v, want ErrFull", err)
	}
	c.mu.Lock()
	c.queued, c.running = 0, false
	c.mu.Unlock()
	// Released, the committer publishes again.
	appendTest(t, j, "w", time.Now(), [][]byte{[]byte("y")})
}
