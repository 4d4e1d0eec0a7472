package httpendpoint_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hydrant-dev/hydrant/internal/destination/httpendpoint"
)

// BenchmarkSend sends a batch of 4 MiB (4,096 records of 1 KiB) to a receiver that reads the
// body and answers; B/op shows what one attempt allocates on the sender's side and the
// receiver's (the request body is generated as it is sent).
func BenchmarkSend(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = json.NewEncoder(w).Encode(map[string]any{"requestId": r.Header.Get(httpendpoint.HeaderRequestID), "timestamp": 1})
	}))
	b.Cleanup(srv.Close)
	records := make([][]byte, 4096)
	for i := range records {
		records[i] = make([]byte, 1024)
	}
	for _, gz := range []bool{false, true} {
		b.Run(fmt.Sprintf("gzip=%v", gz), func(b *testing.B) {
			c := client(b, httpendpoint.Options{AllowPlainHTTP: true})
			e := endpoint(b, c, httpendpoint.Config{URL: srv.URL, GZIP: gz, SourceARN: testARN})
			b.SetBytes(4 << 20)
			b.ReportAllocs()
			for b.Loop() {
				if err := e.Send(context.Background(), testID, records); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
