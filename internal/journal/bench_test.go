package journal

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAppend measures synced appends (SyncAlways) from concurrent appenders, which share
// messages and their syncs (group commit); MB/s counts record bytes only.
func BenchmarkAppend(b *testing.B) {
	cases := []struct {
		records, size, appenders int
	}{
		{500, 1 << 10, 4},
		{500, 1 << 10, 1},
		{1, 1 << 20, 4},
		{1, 1 << 20, 1},
		{1, 1 << 10, 4},
		{1, 1 << 10, 1},
		{1, 1 << 10, 16},
		{1, 1 << 10, 64},
	}
	for _, c := range cases {
		b.Run(fmt.Sprintf("%dx%dB/appenders=%d", c.records, c.size, c.appenders), func(b *testing.B) {
			j := openTest(b, Config{})
			createTest(b, j, "bench")
			rs := records(c.records, c.size, 1)
			b.SetBytes(int64(c.records * c.size))
			b.ReportAllocs()
			b.ResetTimer()
			var n atomic.Int64
			var wg sync.WaitGroup
			for range c.appenders {
				wg.Go(func() {
					for n.Add(1) <= int64(b.N) {
						if _, err := j.Append(context.Background(), "bench", time.Now(), rs); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
		})
	}
}
