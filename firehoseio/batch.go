package firehoseio

import (
	"fmt"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
)

func init() {
	register.DoFn3x0[beam.EventTime, beam.T, func(beam.EventTime, []beam.T)](&batchFn{})
	register.Emitter2[beam.EventTime, []beam.T]()
}

// Batch groups the elements of col, a PCollection<T> in the global window, into
// batches of up to size elements: a PCollection<[]T> for Write. It is the Go
// counterpart of Python's BatchElements with a fixed size (the Go SDK has no
// unkeyed batching transform).
//
// Batches do not cross bundles: a batch is emitted when it holds size elements, and
// the remainder when the bundle ends, so a runner that makes small bundles (streaming
// runners do) makes small batches. A batch carries the latest event time of its
// elements. For windowed or keyed input use batch.GroupIntoBatches from the Beam SDK,
// whose KV<K, []V> output Write takes as it is.
//
// Batch panics when the pipeline is built if size is below 1 or col is not in the
// global window; TryBatch returns that error instead.
func Batch(s beam.Scope, col beam.PCollection, size int) beam.PCollection {
	return beam.Must(TryBatch(s, col, size))
}

// TryBatch is Batch that returns an error wrapping ErrInvalidOption or
// ErrUnsupportedElement instead of panicking.
func TryBatch(s beam.Scope, col beam.PCollection, size int) (beam.PCollection, error) {
	s = s.Scope("firehoseio.Batch")
	if size < 1 {
		return beam.PCollection{}, fmt.Errorf("firehoseio.Batch: %w: size %d must be at least 1", ErrInvalidOption, size)
	}
	if ws := col.WindowingStrategy(); ws != nil && ws.Fn != nil && ws.Fn.Kind != window.GlobalWindows {
		return beam.PCollection{}, fmt.Errorf("firehoseio.Batch: %w: input is in %v windows; Batch takes the global window only (use batch.GroupIntoBatches)", ErrUnsupportedElement, ws.Fn)
	}
	outs, err := beam.TryParDo(s, &batchFn{Size: size}, col)
	if err != nil {
		return beam.PCollection{}, fmt.Errorf("firehoseio.Batch: %w", err)
	}
	return outs[0], nil
}

// batchFn buffers the elements of one bundle into batches of Size.
type batchFn struct {
	Size int

	buf []beam.T
	ts  beam.EventTime
}

// ProcessElement adds elem to the current batch and emits the batch when it is full.
func (f *batchFn) ProcessElement(ts beam.EventTime, elem beam.T, emit func(beam.EventTime, []beam.T)) {
	if len(f.buf) == 0 || ts > f.ts {
		f.ts = ts
	}
	f.buf = append(f.buf, elem)
	if len(f.buf) >= f.Size {
		f.flush(emit)
	}
}

// FinishBundle emits the incomplete last batch of the bundle.
func (f *batchFn) FinishBundle(emit func(beam.EventTime, []beam.T)) {
	f.flush(emit)
}

func (f *batchFn) flush(emit func(beam.EventTime, []beam.T)) {
	if len(f.buf) == 0 {
		return
	}
	emit(f.ts, f.buf)
	f.buf = make([]beam.T, 0, f.Size)
	f.ts = mtime.MinTimestamp
}
