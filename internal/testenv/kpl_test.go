package testenv

import (
	"bytes"
	"crypto/md5"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hydrant-dev/hydrant/internal/processor"
)

func TestAggregateKPL(t *testing.T) {
	tests := []struct {
		name    string
		records [][]byte
	}{
		{"one", [][]byte{[]byte(`{"a":1}`)}},
		{"empty record", [][]byte{{}, []byte("x")}},
		{"three", [][]byte{[]byte("alpha"), []byte("beta"), []byte("gamma")}},
		{"many", numbered(1000, 10)},
		{"large records", numbered(3, 300<<10)}, // lengths with 3-byte varints
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			agg := AggregateKPL("pk-1", tt.records)
			if !bytes.HasPrefix(agg, []byte{0xF3, 0x89, 0x9A, 0xC2}) {
				t.Fatalf("no KPL magic: % x", agg[:4])
			}
			body := agg[4 : len(agg)-md5.Size]
			if sum := md5.Sum(body); !bytes.Equal(sum[:], agg[len(agg)-md5.Size:]) {
				t.Fatal("MD5 trailer does not match the protobuf bytes")
			}
			got, ok := processor.DeaggregateKPL(agg)
			if !ok {
				t.Fatal("processor.DeaggregateKPL does not recognise the aggregated record")
			}
			if diff := cmp.Diff(tt.records, got, cmp.Comparer(bytes.Equal)); diff != "" {
				t.Errorf("de-aggregated records (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAggregateKPLBytes pins the encoding of a small aggregate, field by field.
func TestAggregateKPLBytes(t *testing.T) {
	got := AggregateKPL("k", [][]byte{[]byte("ab")})
	body := []byte{
		0x0a, 0x01, 'k', // partition_key_table[0] = "k"
		0x1a, 0x06, // records[0], 6 bytes
		0x08, 0x00, // partition_key_index = 0
		0x1a, 0x02, 'a', 'b', // data = "ab"
	}
	sum := md5.Sum(body)
	want := append(append([]byte{0xF3, 0x89, 0x9A, 0xC2}, body...), sum[:]...)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("AggregateKPL (-want +got):\n%s", diff)
	}
}

// numbered returns n records of size bytes each, each starting with its index.
func numbered(n, size int) [][]byte {
	recs := make([][]byte, n)
	for i := range recs {
		r := bytes.Repeat([]byte{'.'}, size)
		copy(r, fmt.Sprintf("record-%d", i))
		recs[i] = r
	}
	return recs
}
