package compress

import (
	"bytes"
	stdgzip "compress/gzip"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
)

// piecewise writes data through w the way a filling buffer does: pieces of the given sizes
// appended to a pending area, Add whenever it holds at least minAdd bytes, and Finish with
// what is left.
func piecewise(tb testing.TB, w *Piecewise, b *Blocks, data []byte, step func() int, minAdd int) []byte {
	tb.Helper()
	var pending []byte
	for len(data) > 0 {
		n := min(step(), len(data))
		pending = append(pending, data[:n]...)
		data = data[n:]
		if len(pending) >= minAdd {
			took, err := w.Add(b, pending)
			if err != nil {
				tb.Fatalf("Add: %v", err)
			}
			if took%PiecewiseBlock != 0 || took > len(pending) || len(pending)-took >= PiecewiseBlock {
				tb.Fatalf("Add of %d bytes took %d", len(pending), took)
			}
			pending = append(pending[:0], pending[took:]...)
		}
	}
	out, err := w.Finish(b, pending)
	if err != nil {
		tb.Fatalf("Finish: %v", err)
	}
	return bytes.Clone(out)
}

// TestPiecewiseIsParallelGzip: however the input is split and added, the object is byte for
// byte what the parallel GZIP Encoder writes, and the standard library reads it back.
func TestPiecewiseIsParallelGzip(t *testing.T) {
	inputs := append(testInputs(),
		input{"exactly three blocks", logLines(3*PiecewiseBlock, 7)[:3*PiecewiseBlock]},
		input{"a block and a short tail", logLines(PiecewiseBlock+pgzipTail, 8)[:PiecewiseBlock+pgzipTail]},
		input{"a block and a tiny tail", logLines(PiecewiseBlock+5, 9)[:PiecewiseBlock+5]},
		input{"9 MiB log lines", logLines(9<<20, 10)},
	)
	splits := []struct {
		name   string
		step   func() int
		minAdd int
	}{
		{"one piece", whole, 1},
		{"records, add at 4 MiB", recordSizes(3), 4 << 20},
		{"records, add at every record", recordSizes(4), 1},
		{"odd pieces, add at 1 MiB", func() int { return 333_333 }, PiecewiseBlock},
	}
	for _, cfg := range []Config{{Concurrency: 2}, {Concurrency: 3, Level: BestSpeed}, {Concurrency: 2, Level: BestCompression}} {
		for _, in := range inputs {
			want := encode(t, Gzip, cfg, in.data, whole)
			for _, workers := range []int{1, cfg.Concurrency} {
				b, err := NewBlocks(Config{Level: cfg.Level, Concurrency: workers})
				if err != nil {
					t.Fatal(err)
				}
				var w Piecewise
				for _, s := range splits {
					t.Run(fmt.Sprintf("level %d/%s/%d workers/%s", cfg.Level, in.name, workers, s.name), func(t *testing.T) {
						w.Reset(len(in.data))
						got := piecewise(t, &w, b, in.data, s.step, s.minAdd)
						if !bytes.Equal(got, want) {
							t.Errorf("object differs from the parallel encoder's: %d bytes, want %d", len(got), len(want))
						}
						r, err := stdgzip.NewReader(bytes.NewReader(got))
						if err != nil {
							t.Fatal(err)
						}
						plain, err := io.ReadAll(r)
						if err != nil {
							t.Fatalf("read back: %v", err)
						}
						sameBytes(t, plain, in.data)
					})
				}
			}
		}
	}
}

// TestPiecewiseHolds: a large object keeps its compressed bytes and deflate state, not its
// input; the output buffer is sized from the hint rather than doubled past it; a finished
// object refuses more input until Reset.
func TestPiecewiseHolds(t *testing.T) {
	data := logLines(24<<20, 11)
	b, err := NewBlocks(Config{Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	var w Piecewise
	w.Reset(len(data))
	out := piecewise(t, &w, b, data, recordSizes(5), 4<<20)
	if w.Held()+b.Held() >= len(data)/2 {
		t.Errorf("Held %d + %d bytes for a %d-byte input compressed to %d", w.Held(), b.Held(), len(data), len(out))
	}
	if c := cap(w.out); c > len(out)+len(out)/4+64<<10 {
		t.Errorf("output capacity %d for a %d-byte object", c, len(out))
	}
	if _, err := w.Add(b, make([]byte, PiecewiseBlock)); !errors.Is(err, ErrClosed) {
		t.Errorf("Add after Finish: %v, want ErrClosed", err)
	}
	if _, err := w.Finish(b, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Finish after Finish: %v, want ErrClosed", err)
	}
	w.Reset(0)
	again := piecewise(t, &w, b, data[:3<<20], whole, 1)
	if want := encode(t, Gzip, Config{Concurrency: 2}, data[:3<<20], whole); !bytes.Equal(again, want) {
		t.Error("object after Reset differs from the parallel encoder's")
	}
}

// TestPiecewiseRandomSplits: random inputs and random split points, against the encoder.
func TestPiecewiseRandomSplits(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 13))
	b, err := NewBlocks(Config{Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	var w Piecewise
	for i := range 20 {
		n := r.IntN(5 << 20)
		data := logLines(n, uint64(100+i))[:n]
		want := encode(t, Gzip, Config{Concurrency: 2}, data, whole)
		w.Reset(r.IntN(2 * (n + 1)))
		got := piecewise(t, &w, b, data, func() int { return 1 + r.IntN(200_000) }, 1+r.IntN(3<<20))
		if !bytes.Equal(got, want) {
			t.Fatalf("run %d (%d bytes): object differs from the parallel encoder's", i, n)
		}
	}
}
