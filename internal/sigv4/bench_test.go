package sigv4

import (
	"fmt"
	"io"
	"net/http"
	"testing"
)

// BenchmarkVerify measures Verify and a handler's read of the whole body (io.Copy), on a
// PutRecord-shaped request signed by aws-sdk-go-v2.
func BenchmarkVerify(b *testing.B) {
	for _, size := range []int{1 << 10, 5 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			body := bodyOf(size)
			r := signGo(b, signed{
				header: http.Header{
					"Content-Type": {"application/x-amz-json-1.1"},
					"X-Amz-Target": {"Firehose_20150804.PutRecord"},
				},
				body: body,
			})
			v := testVerifier(at0())
			rd := &resettable{}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(body)
				r.Body = rd
				if _, err := v.Verify(r, testService); err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, r.Body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
