package journal

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestFrameRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		records [][]byte
	}{
		{"none", nil},
		{"one empty", [][]byte{{}}},
		{"mixed", [][]byte{[]byte("a"), {}, make([]byte, 200), make([]byte, 20000)}},
		{"500 records", records(500, 100, 3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			arrival := time.UnixMilli(1_700_000_000_999)
			b := appendFrame(nil, arrival, tt.records)
			if len(b) != frameLen(tt.records) {
				t.Errorf("len = %d, frameLen = %d", len(b), frameLen(tt.records))
			}
			gotArrival, got, err := decodeFrame(b)
			if err != nil {
				t.Fatal(err)
			}
			if !gotArrival.Equal(arrival) {
				t.Errorf("arrival = %v, want %v", gotArrival, arrival)
			}
			if diff := cmp.Diff(tt.records, got, cmp.Comparer(recordsEqual)); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeFrameRejects(t *testing.T) {
	good := appendFrame(nil, time.UnixMilli(5), [][]byte{[]byte("abc")})
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"short header", good[:5]},
		{"bad version", append([]byte{2}, good[1:]...)},
		{"no count", good[:9]},
		{"truncated record", good[:len(good)-1]},
		{"trailing byte", append(append([]byte{}, good...), 0)},
		{"huge count", append(append([]byte{}, good[:9]...), 0xff, 0xff, 0xff, 0xff, 0x0f)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := decodeFrame(tt.b); err == nil {
				t.Errorf("decodeFrame(%x) succeeded", tt.b)
			}
		})
	}
}

func FuzzDecodeFrame(f *testing.F) {
	f.Add(appendFrame(nil, time.UnixMilli(0), nil))
	f.Add(appendFrame(nil, time.UnixMilli(1_700_000_000_000), [][]byte{[]byte("hello"), {}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		arrival, recs, err := decodeFrame(b)
		if err != nil {
			return
		}
		// What decodes re-encodes to the same bytes.
		if again := appendFrame(nil, arrival, recs); string(again) != string(b) {
			t.Fatalf("re-encode differs:\n%x\n%x", b, again)
		}
	})
}
