package main

import (
	"os"
	"time"
)

// fsyncResult is the disk's rate of small synced writes.
type fsyncResult struct {
	n       int
	elapsed time.Duration
}

func (f fsyncResult) rate() float64 { return float64(f.n) / f.elapsed.Seconds() }

// fsyncRate appends 4 KiB and fsyncs, in a loop, to a new file at path for d (at most
// 1,000,000 times), then removes the file: the rate at which one writer can make small writes
// durable, the bound on a journal that syncs every append.
func fsyncRate(path string, d time.Duration) (fsyncResult, error) {
	f, err := os.Create(path)
	if err != nil {
		return fsyncResult{}, err
	}
	defer os.Remove(path)
	defer f.Close()
	buf := make([]byte, 4096)
	var r fsyncResult
	start := time.Now()
	for r.n < 1_000_000 && time.Since(start) < d {
		if _, err := f.Write(buf); err != nil {
			return r, err
		}
		if err := f.Sync(); err != nil {
			return r, err
		}
		r.n++
	}
	r.elapsed = time.Since(start)
	return r, f.Close()
}
