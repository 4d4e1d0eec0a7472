package harness

import (
	"os"
	"time"
)

// Fsyncs is the disk's rate of small synced writes.
type Fsyncs struct {
	N       int
	Elapsed time.Duration
}

// Rate is the synced writes per second.
func (f Fsyncs) Rate() float64 { return float64(f.N) / f.Elapsed.Seconds() }

// FsyncRate appends 4 KiB and fsyncs, in a loop, to a new file at path for d (at most
// 1,000,000 times), then removes the file: the rate at which one writer can make small writes
// durable, the bound on a journal that syncs every append.
func FsyncRate(path string, d time.Duration) (Fsyncs, error) {
	f, err := os.Create(path)
	if err != nil {
		return Fsyncs{}, err
	}
	defer os.Remove(path)
	defer f.Close()
	buf := make([]byte, 4096)
	var r Fsyncs
	start := time.Now()
	for r.N < 1_000_000 && time.Since(start) < d {
		if _, err := f.Write(buf); err != nil {
			return r, err
		}
		if err := f.Sync(); err != nil {
			return r, err
		}
		r.N++
	}
	r.Elapsed = time.Since(start)
	return r, f.Close()
}
