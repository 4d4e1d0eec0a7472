package cloudwatch

import (
	"encoding/hex"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDecodeCBOR(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		want any
	}{
		// Examples from RFC 8949 Appendix A.
		{"uint", "1903e8", int64(1000)},
		{"uint64", "1bffffffffffffffff", uint64(math.MaxUint64)},
		{"negative", "3903e7", int64(-1000)},
		{"half", "f93c00", 1.0},
		{"half subnormal", "f90001", 5.960464477539063e-8},
		{"half negative", "f9c400", -4.0},
		{"single", "fa47c35000", 100000.0},
		{"double", "fb3ff199999999999a", 1.1},
		{"false true null undefined", "84f4f5f6f7", []any{false, true, nil, nil}},
		{"text", "6449455446", "IETF"},
		{"bytes", "4401020304", []byte{1, 2, 3, 4}},
		{"indefinite text", "7f657374726561646d696e67ff", "streaming"},
		{"indefinite bytes", "5f42010243030405ff", []byte{1, 2, 3, 4, 5}},
		{"nested", "826161a161626163", []any{"a", map[string]any{"b": "c"}}},
		{"indefinite array and map", "bf61619f0102ff6162f5ff", map[string]any{"a": []any{int64(1), int64(2)}, "b": true}},
		{"tag 1 int", "c11a514b67b0", time.Unix(1363896240, 0).UTC()},
		{"tag 1 float", "c1fb41d452d9ec200000", time.UnixMilli(1363896240500).UTC()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := hex.DecodeString(tt.hex)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeCBOR(b)
			if err != nil {
				t.Fatalf("decodeCBOR: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeCBORErrors(t *testing.T) {
	for name, h := range map[string]string{
		"empty":              "",
		"truncated":          "1903",
		"trailing":           "0101",
		"reserved info":      "1c",
		"lone break":         "ff",
		"break in map value": "bf6161ffff",
		"odd map":            "a16161",
		"int key":            "a10102",
		"duplicate key":      "a2616101616102",
		"other tag":          "c26161",
		"tag 1 of text":      "c16161",
		"tag 1 NaN":          "c1f97e00",
		"huge length":        "5bffffffffffffffff",
		"huge array":         "9bffffffffffffffff",
		"negative overflow":  "3bffffffffffffffff",
		"bad chunk":          "5f6161ff",
		"indefinite int":     "1f",
		"simple value":       "f0",
	} {
		t.Run(name, func(t *testing.T) {
			b, _ := hex.DecodeString(h)
			if _, err := decodeCBOR(b); !errors.Is(err, errCBOR) {
				t.Errorf("decodeCBOR(%s) error = %v, want errCBOR", h, err)
			}
		})
	}
}

func TestCBORDepthLimit(t *testing.T) {
	b := make([]byte, 0, 200)
	for range 100 {
		b = append(b, 0x81)
	}
	b = append(b, 0x01)
	if _, err := decodeCBOR(b); !errors.Is(err, errCBOR) {
		t.Fatalf("error = %v, want errCBOR", err)
	}
}

func TestCBORRoundTrip(t *testing.T) {
	in := map[string]any{
		"int": int64(-24), "big": int64(1 << 40), "u": uint64(math.MaxUint64), "f": 2.5, "s": "x", "b": []byte("y"),
		"t": time.Unix(1704067200, 0).UTC(), "tf": time.UnixMilli(1704067200250).UTC(),
		"l": []any{true, false, nil, map[string]any{}}, "empty": []any{},
	}
	got, err := decodeCBOR(appendCBOR(nil, in))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(any(in), got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// FuzzDecodeCBOR checks that the decoder never panics and that whatever it accepts survives
// an encode/decode round trip.
func FuzzDecodeCBOR(f *testing.F) {
	for _, h := range []string{
		"a0", "bf61619f0102ff6162f5ff", "c11a514b67b0", "c1fb41d452d9ec200000", "7f657374726561646d696e67ff",
		"f93c00", "fa47c35000", "84f4f5f6f7", "1bffffffffffffffff", "3903e7", "5f42010243030405ff",
		"a7694e616d6573706163656c4157532f46697265686f73656a4d65747269634e616d656f496e636f6d696e675265636f726473",
	} {
		b, _ := hex.DecodeString(h)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := decodeCBOR(b)
		if err != nil {
			if !errors.Is(err, errCBOR) {
				t.Fatalf("error %v does not wrap errCBOR", err)
			}
			return
		}
		again, err := decodeCBOR(appendCBOR(nil, v))
		if err != nil {
			t.Fatalf("re-decode of %x: %v", b, err)
		}
		if !cborEqual(v, again) {
			t.Fatalf("round trip of %x: %#v became %#v", b, v, again)
		}
	})
}

// cborEqual compares decoded values, NaN equal to NaN. (cmp.Diff is too slow on deeply nested
// []any for a fuzz target.)
func cborEqual(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && (x == y || (math.IsNaN(x) && math.IsNaN(y)))
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !cborEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !cborEqual(v, w) {
				return false
			}
		}
		return true
	case []byte:
		y, ok := b.([]byte)
		return ok && string(x) == string(y)
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	}
	return a == b
}
