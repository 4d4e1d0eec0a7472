package delivery

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/hydrant-dev/hydrant/internal/journal"
)

// asleep reports whether the stream's actor sleeps.
func (m *Manager) asleepForTest(stream string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.actors[stream]
	return h != nil && h.asleep
}

// TestIdleStreamsKeepNoGoroutine: once they have nothing to do, streams keep no goroutine and
// no journal consumer; an append, a flush, a new spec and a removal each work on a sleeping
// stream.
func TestIdleStreamsKeepNoGoroutine(t *testing.T) {
	ctx := context.Background()
	j, err := journal.Open(ctx, journal.Config{Dir: t.TempDir(), Shards: 1, ReaderIdle: 20 * time.Millisecond}.WithDefaults(), discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	const n = 50
	var specs []Spec
	for i := range n {
		name := fmt.Sprintf("s%d", i)
		if err := j.CreateStream(ctx, name); err != nil {
			t.Fatal(err)
		}
		if _, err := j.Append(ctx, name, time.Now(), [][]byte{[]byte(name + "\n")}); err != nil {
			t.Fatal(err)
		}
		spec := testSpec(t)
		spec.Stream = name
		specs = append(specs, spec)
	}
	out := newStore()
	before := runtime.NumGoroutine()
	r := run(t, Deps{Log: j, State: j, Objects: out, SleepAfter: 30 * time.Millisecond}, specs...)
	defer r.stop()
	for _, s := range specs {
		r.flush(t, s.Stream)
	}
	waitFor(t, "every actor asleep", func() bool {
		for _, s := range specs {
			if !r.asleepForTest(s.Stream) {
				return false
			}
		}
		return true
	})
	// The manager and its sampler, not one goroutine per stream.
	waitFor(t, "goroutines gone", func() bool { return runtime.NumGoroutine()-before <= 5 })

	// A flush of a sleeping stream answers without waking it.
	r.flush(t, "s1")
	if !r.asleepForTest("s1") {
		t.Error("a flush woke a sleeping stream")
	}
	// An append wakes it and is delivered.
	if _, err := j.Append(ctx, "s7", time.Now(), [][]byte{[]byte("again\n")}); err != nil {
		t.Fatal(err)
	}
	r.flush(t, "s7")
	if got := lines(out.under(""))["again"]; got != 1 {
		t.Errorf("record appended to a sleeping stream delivered %d times, want 1", got)
	}
	// A new spec wakes it; its records go to the new configuration.
	waitFor(t, "s3 asleep", func() bool { return r.asleepForTest("s3") })
	spec := specs[3]
	spec.Version = 2
	spec.Legs[0].Bucket = "other"
	if err := r.Apply(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append(ctx, "s3", time.Now(), [][]byte{[]byte("moved\n")}); err != nil {
		t.Fatal(err)
	}
	r.flush(t, "s3")
	if got := lines(out.under("other/"))["moved"]; got != 1 {
		t.Errorf("record after the new spec in bucket other %d times, want 1", got)
	}
	// A sleeping stream is removed at once.
	waitFor(t, "s9 asleep", func() bool { return r.asleepForTest("s9") })
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := r.Remove(rctx, "s9"); err != nil {
		t.Errorf("Remove of a sleeping stream: %v", err)
	}
	for i := range n {
		if got := lines(out.under(""))[fmt.Sprintf("s%d", i)]; got != 1 {
			t.Errorf("s%d delivered %d times, want 1", i, got)
		}
	}
}
