package main

import (
	"encoding/json"
	"testing"
)

func TestWebLogRecord(t *testing.T) {
	for _, size := range []int{1024, 600, 4096} {
		for g := range 3 {
			for i := range 50 {
				rec := webLogRecord(g, i, size)
				if len(rec) != size || rec[size-1] != '\n' {
					t.Fatalf("size %d: record of %d bytes, last %q", size, len(rec), rec[len(rec)-1])
				}
				if !json.Valid(rec) {
					t.Fatalf("size %d: not JSON: %s", size, rec)
				}
			}
		}
	}
	if rec := webLogRecord(0, 0, 10); len(rec) != 10 || rec[9] != '\n' {
		t.Fatalf("short record %q", rec)
	}
}
