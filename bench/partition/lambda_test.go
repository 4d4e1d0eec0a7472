package main

import (
	"encoding/json"
	"testing"
)

func TestLambdaRecord(t *testing.T) {
	for _, tc := range []struct{ lo, hi int }{{minLambdaBytes, minLambdaBytes}, {100, 1000}, {1000, 4096}} {
		for i := range 500 {
			size := lambdaSize(i, tc.lo, tc.hi)
			if size < tc.lo || size > tc.hi {
				t.Fatalf("lambdaSize(%d, %d, %d) = %d", i, tc.lo, tc.hi, size)
			}
			b := lambdaRecord(i%8, i, size)
			if len(b) != size || b[size-1] != '\n' {
				t.Fatalf("record %d of size %d: %d bytes, last %q", i, size, len(b), b[len(b)-1])
			}
			var v struct{ Client, Seq int }
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatalf("record %d: %v\n%s", i, err, b)
			}
			if v.Client != i%8 || v.Seq != i {
				t.Errorf("record %d: got %+v", i, v)
			}
		}
	}
}
