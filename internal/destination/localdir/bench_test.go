package localdir

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hydrant-dev/hydrant/internal/destination"
)

// BenchmarkPutObjectNewPartitions writes objects of 30 KB, each into a partition directory of
// its own (as the flush of many dynamic partitions does), from 4 writers at once.
func BenchmarkPutObjectNewPartitions(b *testing.B) {
	d, err := New(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	body := make([]byte, 30<<10)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := next.Add(1)
				if n > int64(b.N) {
					return
				}
				key := fmt.Sprintf("customer_id=%d/s-1-2026-12-02-10-00-00-%d", n, n)
				if err := d.PutObject(context.Background(), destination.Object{Bucket: "b", Key: key, Body: body}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
