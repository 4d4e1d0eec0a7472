package server

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestAppendFrameRoundTrip(t *testing.T) {
	arrival := time.Unix(1_700_000_000, 123456789)
	tests := []struct {
		name    string
		stream  string
		records [][]byte
	}{
		{"one record", "s1", [][]byte{[]byte("hello\n")}},
		{"empty and binary records", "a.b-c_d", [][]byte{{}, {0, 1, 2, 255}, bytes.Repeat([]byte("x"), 70000)}},
		{"no records", "s", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, at, records, err := decodeAppend(encodeAppend(tt.stream, arrival, tt.records))
			if err != nil {
				t.Fatal(err)
			}
			want := tt.records
			if want == nil {
				want = [][]byte{}
			}
			if diff := cmp.Diff(want, records); diff != "" || name != tt.stream || !at.Equal(arrival) {
				t.Errorf("decode = %q, %v, records (-want +got):\n%s", name, at, diff)
			}
		})
	}
	for _, bad := range [][]byte{nil, make([]byte, 13), encodeAppend("", arrival, nil), append(encodeAppend("s", arrival, [][]byte{[]byte("ab")}), 0)} {
		if _, _, _, err := decodeAppend(bad); !errors.Is(err, errBadAppend) {
			t.Errorf("decodeAppend(%x) = %v, want errBadAppend", bad, err)
		}
	}
}

// FuzzDecodeAppend: a frame from another node decodes without a panic, and what decodes encodes
// back to the same bytes.
func FuzzDecodeAppend(f *testing.F) {
	f.Add(encodeAppend("s1", time.Unix(1, 2), [][]byte{[]byte("a"), {}}))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 's', 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		name, at, records, err := decodeAppend(b)
		if err != nil {
			return
		}
		if again := encodeAppend(name, at, records); !bytes.Equal(again, b) {
			t.Fatalf("re-encoded %x, decoded from %x", again, b)
		}
	})
}

func TestSuspectedWriters(t *testing.T) {
	var a appendForwarding
	t0 := time.Unix(1000, 0)
	a.suspect("n1", t0.Add(6*time.Second))
	tests := []struct {
		writer string
		at     time.Duration
		want   bool
	}{
		{"n1", 0, true},
		{"n2", 0, false},
		{"n1", 5 * time.Second, true},
		{"n1", 6 * time.Second, false}, // expired, and forgotten
		{"n1", 0, false},
	}
	for _, tt := range tests {
		if got := a.suspected(tt.writer, t0.Add(tt.at)); got != tt.want {
			t.Errorf("suspected(%s, +%s) = %v, want %v", tt.writer, tt.at, got, tt.want)
		}
	}
}
