package firehoseio

import (
	"errors"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type name string

type blob []byte

func TestEncodeBatch(t *testing.T) {
	tests := []struct {
		name               string
		jsonify, multiline bool
		batch              any
		want               []string
		err                error
	}{
		{"strings", false, false, []string{"one", "two"}, []string{"one", "two"}, nil},
		{"strings multiline", false, true, []string{"one", "two"}, []string{"one\n", "two\n"}, nil},
		{"strings jsonified", true, false, []string{"one", "<b>"}, []string{`"one"`, `"<b>"`}, nil},
		{"bytes unchanged by Jsonify", true, true, [][]byte{[]byte("a,1")}, []string{"a,1\n"}, nil},
		{"named string and bytes", false, true, []any{name("n"), blob("b")}, []string{"n\n", "b\n"}, nil},
		{"mixed any jsonified", true, true, []any{"one", 1, nil, map[string]int{"a": 1}}, []string{"\"one\"\n", "1\n", "null\n", "{\"a\":1}\n"}, nil},
		{"ints jsonified", true, false, []int{1, 2}, []string{"1", "2"}, nil},
		{"int without Jsonify", false, false, []any{"one", 2}, nil, ErrUnsupportedElement},
		{"nil without Jsonify", false, false, []any{nil}, nil, ErrUnsupportedElement},
		{"NaN is not JSON", true, false, []float64{math.NaN()}, nil, nil},
		{"not a slice", false, false, "one", nil, ErrUnsupportedElement},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := newEncoder(tt.jsonify, tt.multiline).encodeBatch(tt.batch)
			if tt.want == nil {
				if err == nil {
					t.Fatalf("encodeBatch: got %q, want an error", got)
				}
				if tt.err != nil && !errors.Is(err, tt.err) {
					t.Fatalf("encodeBatch: got %v, want %v", err, tt.err)
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
	got, err := newEncoder(false, false).encodeBatch([][]byte{rec})
	if err != nil {
		t.Fatal(err)
	}
	rec[0] = 'x'
	if string(got[0]) != "abc" {
		t.Errorf("encoded record changed with its source: %q", got[0])
	}
}
