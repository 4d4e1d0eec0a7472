package mockdata

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestRecordsAreGenerateLines checks that Records splits exactly what Generate writes,
// for several counts, and that each record is one JSON object and its newline.
func TestRecordsAreGenerateLines(t *testing.T) {
	end := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, count := range []int{0, 1, 7, 2550} {
		var buf bytes.Buffer
		if err := New(3).Generate(&buf, count, end); err != nil {
			t.Fatal(err)
		}
		recs, err := Records(3, count, end)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(recs); got != count {
			t.Fatalf("count %d: %d records", count, got)
		}
		if diff := cmp.Diff(buf.String(), string(bytes.Join(recs, nil))); diff != "" {
			t.Errorf("count %d: records differ from Generate (-want +got):\n%s", count, diff)
		}
		for i, r := range recs {
			var m map[string]any
			if !bytes.HasSuffix(r, []byte("\n")) || json.Unmarshal(r, &m) != nil || len(m) != 9 {
				t.Fatalf("count %d: record %d %q is not one JSON object of 9 fields and a newline", count, i, r)
			}
		}
	}
}

func TestRecordsBySeed(t *testing.T) {
	end := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	gen := func(seed uint64) string {
		t.Helper()
		recs, err := Records(seed, 200, end)
		if err != nil {
			t.Fatal(err)
		}
		return string(bytes.Join(recs, nil))
	}
	if gen(1) != gen(1) {
		t.Error("same seed, different records")
	}
	if gen(1) == gen(2) {
		t.Error("different seeds, same records")
	}
}
