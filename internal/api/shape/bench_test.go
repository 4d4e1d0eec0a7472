package shape

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"testing"
)

// batchBody builds a PutRecordBatch body of n records of size bytes each.
func batchBody(tb testing.TB, n, size int) []byte {
	tb.Helper()
	var b bytes.Buffer
	b.WriteString(`{"DeliveryStreamName": "bench-stream", "Records": [`)
	rec := make([]byte, size)
	for i := range n {
		for j := range rec {
			rec[j] = byte(i*31 + j*7)
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`{"Data": "`)
		b.WriteString(base64.StdEncoding.EncodeToString(rec))
		b.WriteString(`"}`)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// jsonPutBatch is the encoding/json baseline: the struct a reflective decoder fills.
type jsonPutBatch struct {
	DeliveryStreamName string
	Records            []struct{ Data []byte }
}

func BenchmarkDecodePutRecordBatch(b *testing.B) {
	for _, size := range []int{1024, 100} {
		body := batchBody(b, 500, size)
		b.Run("fast/"+strconv.Itoa(size)+"B", func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			var dst PutBatch
			for b.Loop() {
				if err := DecodePutRecordBatch(body, &dst); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("generic/"+strconv.Itoa(size)+"B", func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			var dst PutBatch
			for b.Loop() {
				if err := genericPut("PutRecordBatch", body, &dst, true); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("encoding-json/"+strconv.Itoa(size)+"B", func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				var v jsonPutBatch
				if err := json.Unmarshal(body, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("base64-only/1024B", func(b *testing.B) {
		src := []byte(base64.StdEncoding.EncodeToString(make([]byte, 500*1024)))
		dst := make([]byte, len(src))
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			if _, err := base64.StdEncoding.Decode(dst, src); err != nil {
				b.Fatal(err)
			}
		}
	})
}
