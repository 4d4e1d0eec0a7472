package processor

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// BenchmarkProcessJQ runs MetadataExtraction (the event-time query plus a
// customer id) and AppendDelimiterToRecord over 500 JSON records of about
// 1 KiB, the size of a full PutRecordBatch.
func BenchmarkProcessJQ(b *testing.B) {
	query := `{customer_id:.customer_id, year:.event_timestamp|strftime("%Y"), month:.event_timestamp|strftime("%m"), day:.event_timestamp|strftime("%d"), hour:.event_timestamp|strftime("%H")}`
	p := mustNew(b, Config{Processors: []Spec{
		{Type: TypeMetadataExtraction, Parameters: map[string]string{"MetadataExtractionQuery": query, "JsonParsingEngine": "JQ-1.6"}},
		{Type: TypeAppendDelimiterToRecord},
	}}, nil)
	in := make([]Record, 500)
	var bytes int64
	for i := range in {
		d := fmt.Sprintf(`{"customer_id":"%012d","event_timestamp":%d,"region":"us-east-1","type":{"device":"mobile","event":"view"},"payload":"%s"}`,
			i, 1565382027+i*60, strings.Repeat("x", 880))
		in[i] = Record{ID: fmt.Sprintf("r%d", i), Arrival: t0, Data: []byte(d)}
		bytes += int64(len(d))
	}
	b.SetBytes(bytes)
	b.ReportAllocs()
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		out, failed, err := p.Process(ctx, in)
		if err != nil || len(failed) != 0 || len(out) != len(in) {
			b.Fatalf("out %d failed %v err %v", len(out), failed, err)
		}
	}
	b.ReportMetric(float64(b.N*len(in))/b.Elapsed().Seconds(), "records/s")
}
