package producer

import (
	"bytes"
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// recs returns n records of size bytes each.
func recs(n, size int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = bytes.Repeat([]byte{'a' + byte(i%26)}, size)
	}
	return out
}

func concat(parts ...[][]byte) [][]byte {
	var out [][]byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestChunksAtTheLimits(t *testing.T) {
	const mib4 = MaxBatchBytes
	// Four records of 1,000,000 bytes and one of the rest make exactly 4 MiB.
	const rest = mib4 - 4*1_000_000
	fill := func(last int) [][]byte { return concat(recs(4, 1_000_000), recs(1, last)) }
	tests := []struct {
		name      string
		records   [][]byte
		calls     [][2]int // records, bytes of each call
		oversized []int
	}{
		{"empty", nil, nil, nil},
		{"500 records", recs(500, 10), [][2]int{{500, 5000}}, nil},
		{"501 records", recs(501, 10), [][2]int{{500, 5000}, {1, 10}}, nil},
		{"1000 records", recs(1000, 1), [][2]int{{500, 500}, {500, 500}}, nil},
		{"exactly 4 MiB", fill(rest), [][2]int{{5, mib4}}, nil},
		{"4 MiB - 1", fill(rest - 1), [][2]int{{5, mib4 - 1}}, nil},
		{"4 MiB + 1", fill(rest + 1), [][2]int{{4, 4_000_000}, {1, rest + 1}}, nil},
		{"4 MiB then 1 byte", concat(fill(rest), recs(1, 1)), [][2]int{{5, mib4}, {1, 1}}, nil},
		{"500 records over 4 MiB", recs(500, 8389), [][2]int{{499, 499 * 8389}, {1, 8389}}, nil},
		{"record of MaxRecordBytes", recs(1, MaxRecordBytes), [][2]int{{1, MaxRecordBytes}}, nil},
		{"record of MaxRecordBytes-1", recs(1, MaxRecordBytes-1), [][2]int{{1, MaxRecordBytes - 1}}, nil},
		{"record of MaxRecordBytes+1", concat(recs(1, 5), recs(1, MaxRecordBytes+1), recs(1, 7)), [][2]int{{2, 12}}, []int{1}},
		{"only oversized", recs(2, MaxRecordBytes+1), nil, []int{0, 1}},
		{"five max records", recs(5, MaxRecordBytes), [][2]int{{4, 4 * MaxRecordBytes}, {1, MaxRecordBytes}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chunks, oversized := Chunks(tt.records)
			var got [][2]int
			next := 0
			for _, c := range chunks {
				size := 0
				for _, i := range c {
					for next < len(tt.records) && len(tt.records[next]) > MaxRecordBytes {
						next++
					}
					if i != next {
						t.Fatalf("chunk index %d, want %d (order)", i, next)
					}
					next++
					size += len(tt.records[i])
				}
				got = append(got, [2]int{len(c), size})
			}
			if diff := cmp.Diff(tt.calls, got); diff != "" {
				t.Errorf("Chunks calls (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.oversized, oversized); diff != "" {
				t.Errorf("Chunks oversized (-want +got):\n%s", diff)
			}

			// PutRecordBatch makes exactly these calls and reports the oversized records.
			f := &fakeClient{}
			res, err := PutRecordBatch(context.Background(), f, "s", tt.records, Config{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.calls, nilIfEmpty(f.callSizes())); diff != "" {
				t.Errorf("PutRecordBatch calls (-want +got):\n%s", diff)
			}
			var wantFailed []FailedRecord
			for _, i := range tt.oversized {
				wantFailed = append(wantFailed, tooLarge(i, tt.records[i]))
			}
			want := Result{Sent: len(tt.records) - len(tt.oversized), Failed: wantFailed}
			if diff := cmp.Diff(want, res, cmp.Transformer("len", func(b []byte) int { return len(b) })); diff != "" {
				t.Errorf("Result (-want +got):\n%s", diff)
			}
		})
	}
}

func nilIfEmpty(s [][2]int) [][2]int {
	if len(s) == 0 {
		return nil
	}
	return s
}
