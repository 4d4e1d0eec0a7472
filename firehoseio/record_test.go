package firehoseio

import (
	"errors"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type name string

type blob []byte

func TestEncode(t *testing.T) {
	tests := []struct {
		name                        string
		jsonify, multiline, compact bool
		records                     []any
		want                        []string
		err                         error
	}{
		{"strings", false, false, false, []any{"one", "two"}, []string{"one", "two"}, nil},
		{"strings multiline", false, true, false, []any{"one", "two"}, []string{"one\n", "two\n"}, nil},
		{"strings jsonified", true, false, false, []any{"one", "<b>"}, []string{`"one"`, `"<b>"`}, nil},
		{"bytes unchanged by Jsonify", true, true, false, []any{[]byte("a,1")}, []string{"a,1\n"}, nil},
		{"named string and bytes", false, true, false, []any{name("n"), blob("b")}, []string{"n\n", "b\n"}, nil},
		{"mixed jsonified as Python", true, true, false, []any{"one", 1, nil, map[string]int{"b": 2, "a": 1}, 1.0},
			[]string{"\"one\"\n", "1\n", "null\n", "{\"a\": 1, \"b\": 2}\n", "1.0\n"}, nil},
		{"mixed jsonified compact", true, true, true, []any{"é", 1, nil, map[string]int{"b": 2, "a": 1}, 1.0},
			[]string{"\"é\"\n", "1\n", "null\n", "{\"a\":1,\"b\":2}\n", "1\n"}, nil},
		{"non-ASCII as Python", true, false, false, []any{"é😀"}, []string{`"\u00e9\ud83d\ude00"`}, nil},
		{"ints jsonified", true, false, false, []any{1, 2}, []string{"1", "2"}, nil},
		{"NaN as Python", true, false, false, []any{math.NaN()}, []string{"NaN"}, nil},
		{"NaN is not compact JSON", true, false, true, []any{math.NaN()}, nil, ErrNotJSON},
		{"channel is not JSON", true, false, false, []any{make(chan int)}, nil, ErrNotJSON},
		{"int without Jsonify", false, false, false, []any{"one", 2}, nil, ErrUnsupportedElement},
		{"nil without Jsonify", false, false, false, []any{nil}, nil, ErrUnsupportedElement},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := writer{Stream: "s", enc: newEncoder(tt.jsonify, tt.multiline, tt.compact)}
			got, err := encodeBatch(&w, tt.records)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("encodeBatch: got %q, %v; want %v", got, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("encodeBatch: %v", err)
			}
			var s []string
			for _, b := range got {
				s = append(s, string(b))
			}
			if diff := cmp.Diff(tt.want, s); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEncodeDoesNotAlias(t *testing.T) {
	rec := []byte("abc")
	got, err := newEncoder(false, false, false).encode(rec)
	if err != nil {
		t.Fatal(err)
	}
	rec[0] = 'x'
	if string(got) != "abc" {
		t.Errorf("encoded record changed with its source: %q", got)
	}
}
