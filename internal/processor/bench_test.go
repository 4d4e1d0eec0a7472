package processor

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
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

// BenchmarkMetadataExtraction extracts {customer_id, region} from one
// realistic 1 KiB JSON record, on the fast path and with gojq.
func BenchmarkMetadataExtraction(b *testing.B) {
	s := metadataTestStage(b, `{customer_id: .customer_id, region: .geo.region}`)
	data := []byte(`{"event_id":"5f0c6a1e-9b8d-4c1f-a3e2-7d6b5c4a3f21","event_type":"page_view","event_timestamp":1565382027,` +
		`"customer_id":"123456789012","session":{"id":"s-8f14e45fceea167a","started_at":"2019-08-09T20:20:27Z","page_count":7,"new":false},` +
		`"geo":{"country":"IE","region":"eu-west-1","city":"Dublin","lat":53.3498,"lon":-6.2603},` +
		`"device":{"type":"mobile","os":"iOS","os_version":"17.5.1","app_version":"4.12.0","screen":{"w":1170,"h":2532},"locale":"en-IE"},` +
		`"page":{"url":"https://example.com/products/widget?ref=home\u0026utm_source=newsletter","referrer":"https://www.google.com/","title":"Widget \u2014 Example Store"},` +
		`"cart":{"items":[{"sku":"W-1","qty":2,"price":19.99},{"sku":"G-7","qty":1,"price":5.5},{"sku":"B-3","qty":4,"price":1.25}],"total":50.48,"currency":"EUR"},` +
		`"tags":["new","promo","mobile","returning"],"consent":true,"experiment":null,` +
		`"user_agent":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",` +
		`"note":"`)
	data = append(data, strings.Repeat("x", 1024-len(data)-2)...)
	data = append(data, `"}`...)
	want := map[string]string{"customer_id": "123456789012", "region": "eu-west-1"}
	ctx := context.Background()
	for _, bc := range []struct {
		name    string
		extract func() (map[string]string, error)
	}{
		{"fast", func() func() (map[string]string, error) {
			sc := s.fast.scanner()
			return func() (map[string]string, error) { return s.extract(ctx, sc, data) }
		}()},
		{"gojq", func() (map[string]string, error) { return s.extractJQ(ctx, data) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			keys, err := bc.extract()
			if d := cmp.Diff(want, keys); err != nil || d != "" {
				b.Fatalf("err %v, keys (-want +got):\n%s", err, d)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.extract(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
