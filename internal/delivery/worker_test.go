package delivery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hydrant-dev/hydrant/internal/compress"
	"github.com/hydrant-dev/hydrant/internal/destination"
	"github.com/hydrant-dev/hydrant/internal/journal"
	"github.com/hydrant-dev/hydrant/internal/prefix"
	"github.com/hydrant-dev/hydrant/internal/processor"
)

// objects records what a worker stores, failing the first failures calls.
type objects struct {
	mu       sync.Mutex
	got      map[string]string
	failures int
	calls    int
}

func (o *objects) PutObject(_ context.Context, obj destination.Object) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls++
	if o.failures > 0 {
		o.failures--
		return errors.New("destination down")
	}
	o.got[obj.Key] = string(obj.Body)
	return nil
}

func (o *objects) snapshot() map[string]string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return maps.Clone(o.got)
}

func openJournal(t *testing.T) *journal.Journal {
	t.Helper()
	j, err := journal.Open(context.Background(), journal.Config{Dir: t.TempDir()}.WithDefaults(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	if err := j.CreateStream(context.Background(), "s"); err != nil {
		t.Fatal(err)
	}
	return j
}

func testSpec(t *testing.T) Spec {
	expr, err := prefix.DataPrefix("p/")
	if err != nil {
		t.Fatal(err)
	}
	return Spec{Stream: "s", Version: 1, Legs: []LegSpec{{Name: LegDestination, Bucket: "b", Prefix: expr, Location: time.UTC,
		Compression: compress.Uncompressed, SizeBytes: 1 << 20, Interval: time.Hour}}}
}

func appendAll(t *testing.T, j *journal.Journal, recs ...string) {
	t.Helper()
	for _, r := range recs {
		if _, err := j.Append(context.Background(), "s", time.Now(), [][]byte{[]byte(r)}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRedoOfInterruptedFlushRewritesTheSameKey(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	j := openJournal(t)
	appendAll(t, j, "a", "b", "c")
	// A crash after the intent for messages 1-2 was saved, before the cursor moved.
	st, err := j.LoadState(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	st.Intent = &journal.Intent{FromSeq: 1, ToSeq: 2, Key: "p/2026/11/21/22/s-1-2026-11-21-22-40-07-fixed", Data: []byte(LegDestination)}
	if _, err := j.SaveState(ctx, "s", st); err != nil {
		t.Fatal(err)
	}
	// The interrupted write may have left anything under the key; the redo replaces it.
	out := &objects{got: map[string]string{"p/2026/11/21/22/s-1-2026-11-21-22-40-07-fixed": "torn"}}
	m := NewManager(ctx, Deps{Log: j, State: j, Objects: out, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	m.Apply(testSpec(t))
	if err := m.Flush(ctx, "s"); err != nil {
		t.Fatal(err)
	}
	got := out.snapshot()
	if len(got) != 2 || got["p/2026/11/21/22/s-1-2026-11-21-22-40-07-fixed"] != "ab" {
		t.Fatalf("objects %v: want the interrupted object rewritten as \"ab\" and one more with \"c\"", got)
	}
	for k, v := range got {
		if k != "p/2026/11/21/22/s-1-2026-11-21-22-40-07-fixed" && v != "c" {
			t.Errorf("object %s = %q, want \"c\"", k, v)
		}
	}
	st, err = j.LoadState(ctx, "s")
	if err != nil || st.Cursor != 4 || st.Intent != nil {
		t.Errorf("state %+v %v, want cursor 4 and no intent", st, err)
	}
}

func TestFailingDestinationSettlesNothingUntilItRecovers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	j := openJournal(t)
	appendAll(t, j, "x", "y")
	out := &objects{got: map[string]string{}, failures: 3}
	m := NewManager(ctx, Deps{Log: j, State: j, Objects: out, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Backoff: Backoff{Initial: 20 * time.Millisecond, Max: 40 * time.Millisecond}})
	m.Apply(testSpec(t))
	done := make(chan error, 1)
	go func() { done <- m.Flush(ctx, "s") }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		out.mu.Lock()
		calls := out.calls
		out.mu.Unlock()
		if calls >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("worker never tried to write")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if st, _ := j.LoadState(ctx, "s"); st.Cursor != 1 || st.Intent == nil {
		t.Errorf("while failing: state %+v, want cursor 1 with the intent saved", st)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for _, v := range out.snapshot() {
		bodies = append(bodies, v)
	}
	if diff := cmp.Diff([]string{"xy"}, bodies); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
	if out.calls != 4 {
		t.Errorf("%d PutObject calls, want 3 failures and 1 success", out.calls)
	}
	if st, _ := j.LoadState(ctx, "s"); st.Cursor != 3 || st.Intent != nil {
		t.Errorf("after recovery: state %+v, want cursor 3", st)
	}
}

func TestZeroBufferingDeliversWhenCaughtUp(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	j := openJournal(t)
	out := &objects{got: map[string]string{}}
	m := NewManager(ctx, Deps{Log: j, State: j, Objects: out, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	spec := testSpec(t)
	spec.Legs[0].Interval = 0
	m.Apply(spec)
	appendAll(t, j, "now")
	deadline := time.Now().Add(5 * time.Second)
	for len(out.snapshot()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("zero buffering did not deliver without a flush")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestBackupLegKeepsItsOwnProgressAcrossRestart(t *testing.T) {
	j := openJournal(t)
	out := &objects{got: map[string]string{}}
	spec := testSpec(t)
	spec.Legs[0].SizeBytes = 1 // every message is its own object
	backupPrefix, _ := prefix.DataPrefix("backup/")
	spec.Legs = append(spec.Legs, LegSpec{Name: LegBackup, Bucket: "bk", Prefix: backupPrefix, Location: time.UTC,
		Compression: compress.Uncompressed, SizeBytes: 1 << 20, Interval: time.Hour})
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))

	ctx1, stop1 := context.WithCancel(context.Background())
	m1 := NewManager(ctx1, Deps{Log: j, State: j, Objects: out, Logger: logger})
	m1.Apply(spec)
	appendAll(t, j, "a", "b")
	deadline := time.Now().Add(5 * time.Second)
	for len(out.snapshot()) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("destination leg did not deliver each message: %v", out.snapshot())
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop1() // a stop with the backup leg's buffer unwritten
	m1.Wait()
	if st, _ := j.LoadState(context.Background(), "s"); st.Cursor != 1 {
		t.Fatalf("cursor %d moved past messages the backup leg has not written", st.Cursor)
	}

	ctx2, stop2 := context.WithCancel(context.Background())
	defer stop2()
	m2 := NewManager(ctx2, Deps{Log: j, State: j, Objects: out, Logger: logger})
	m2.Apply(spec)
	if err := m2.Flush(ctx2, "s"); err != nil {
		t.Fatal(err)
	}
	var dest, backup []string
	for k, v := range out.snapshot() {
		if len(k) > 7 && k[:7] == "backup/" {
			backup = append(backup, v)
		} else {
			dest = append(dest, v)
		}
	}
	if len(dest) != 2 {
		t.Errorf("destination objects %v: the restart delivered them again", dest)
	}
	if diff := cmp.Diff([]string{"ab"}, backup); diff != "" {
		t.Errorf("backup objects (-want +got):\n%s", diff)
	}
	if st, _ := j.LoadState(context.Background(), "s"); st.Cursor != 3 {
		t.Errorf("cursor %d, want 3", st.Cursor)
	}
	legs, _ := m2.Status("s")
	if len(legs) != 2 || legs[1].Objects != 1 || legs[1].Records != 2 {
		t.Errorf("status %+v", legs)
	}
}

// keyByFirstByte is a Processor that partitions records by their first byte.
type keyByFirstByte struct{}

func (keyByFirstByte) Process(_ context.Context, in []processor.Record) ([]processor.Record, []processor.Failure, error) {
	for i := range in {
		in[i].Query = map[string]string{"k": string(in[i].Data[:1])}
	}
	return in, nil, nil
}

func TestBufferBoundWritesTheLargestPartitionEarly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	j := openJournal(t)
	out := &objects{got: map[string]string{}}
	m := NewManager(ctx, Deps{Log: j, State: j, Objects: out, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	spec := testSpec(t)
	expr, err := prefix.Parse("k=!{partitionKeyFromQuery:k}/")
	if err != nil {
		t.Fatal(err)
	}
	errs, _ := prefix.ErrorPrefix("", "e/!{firehose:error-output-type}/")
	spec.Legs[0].Prefix, spec.Legs[0].ErrorPrefix = expr, errs
	spec.Legs[0].Dynamic, spec.Legs[0].MaxPartitions, spec.Legs[0].Processor = true, 10, keyByFirstByte{}
	spec.Legs[0].MaxBufferedBytes = 100
	m.Apply(spec)
	// 30 records of 10 bytes over 3 partitions: 300 bytes against a 100-byte bound.
	for i := 0; i < 30; i++ {
		appendAll(t, j, fmt.Sprintf("%c-%08d", 'a'+i%3, i))
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		legs, _ := m.Status("s")
		written := 0
		for range out.snapshot() {
			written++
		}
		if len(legs) == 1 && legs[0].BufferedBytes <= 100 && written >= 2 && legs[0].BufferedRecords+int(legs[0].Records) == 30 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %+v, %d objects: want at most 100 bytes buffered and the rest written", legs, written)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := m.Flush(ctx, "s"); err != nil {
		t.Fatal(err)
	}
	total := 0
	for k, v := range out.snapshot() {
		total += len(v)
		if k[2] != v[0] {
			t.Errorf("object %s holds %q: another partition's records", k, v)
		}
	}
	if total != 300 {
		for k, v := range out.snapshot() {
			t.Logf("%s = %q", k, v)
		}
		t.Errorf("%d bytes delivered, want 300", total)
	}
}
