//go:build linux

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/hydrant-dev/hydrant/internal/testenv"
)

// mountTmpfs mounts a tmpfs of size (e.g. "160m") on a new directory and unmounts it when the
// test ends, after everything started later has stopped. Where mounting is impossible (not
// root) the test skips, or fails under CI=true.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0755"); err != nil {
		reason := fmt.Sprintf("cannot mount a %s tmpfs on %s (the test needs root): %v", size, dir, err)
		if testenv.RequireTools() {
			t.Fatal(reason)
		}
		t.Skip(reason)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fullDiskLoad puts batches of unique records from several goroutines until stopped, and
// keeps which were acknowledged and when puts were refused or accepted.
type fullDiskLoad struct {
	acked     sync.Map // record line → true
	unknown   sync.Map // record line → true: its call failed otherwise than with "Slow down."
	nAcked    atomic.Int64
	refused   atomic.Int64
	otherErrs atomic.Int64
	mu        sync.Mutex
	lastAck   time.Time // when the latest put was acknowledged
	firstFull time.Time // when the first put was refused with "Slow down."
	sample    error     // one error that was not "Slow down."
}

const (
	fullDiskWorkers = 4
	fullDiskBatch   = 250
	fullDiskRecord  = 1000 // bytes, newline included
)

func fullDiskLine(g, n int) string {
	id := fmt.Sprintf("g%d-%08d ", g, n)
	return id + strings.Repeat("x", fullDiskRecord-len(id)-1)
}

// run puts until ctx ends; every call gets its own deadline, never ctx's, so that an error
// means the server did not acknowledge.
func (l *fullDiskLoad) run(ctx context.Context, url, stream string) {
	var wg sync.WaitGroup
	for g := range fullDiskWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newFirehose(url)
			for n := 0; ctx.Err() == nil; n += fullDiskBatch {
				recs := make([]types.Record, fullDiskBatch)
				for i := range recs {
					recs[i].Data = []byte(fullDiskLine(g, n+i) + "\n")
				}
				callCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				callStart := time.Now()
				out, err := c.PutRecordBatch(callCtx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String(stream), Records: recs})
				cancel()
				var unavailable *types.ServiceUnavailableException
				switch {
				case errors.As(err, &unavailable) && unavailable.ErrorMessage() == "Slow down.":
					l.refused.Add(1)
					l.mu.Lock()
					if l.firstFull.IsZero() {
						l.firstFull = time.Now()
					}
					l.mu.Unlock()
					time.Sleep(20 * time.Millisecond) // as a producer backs off
				case err != nil: // the outcome is unknown: the records may have been stored
					l.otherErrs.Add(1)
					for i := range recs {
						l.unknown.Store(fullDiskLine(g, n+i), true)
					}
					l.mu.Lock()
					l.sample = fmt.Errorf("after %v: %w", time.Since(callStart).Round(time.Millisecond), err)
					l.mu.Unlock()
				default:
					acked := 0
					for i, r := range out.RequestResponses {
						if r.ErrorCode == nil && aws.ToString(r.RecordId) != "" {
							l.acked.Store(fullDiskLine(g, n+i), true)
							acked++
						}
					}
					if acked > 0 {
						l.nAcked.Add(int64(acked))
						l.mu.Lock()
						l.lastAck = time.Now()
						l.mu.Unlock()
					}
				}
			}
		}()
	}
	wg.Wait()
}

func (l *fullDiskLoad) times() (firstFull, lastAck time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.firstFull, l.lastAck
}

// waitFor polls cond every 100 ms until it holds or within passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(start)
}

// journalSpace reads the journal's room from the console API.
func journalSpace(t *testing.T, url string) (space struct {
	StoreBytes, LimitBytes, ReservedBytes, DiskBytes, DiskFreeBytes int64
	Full                                                            bool
}) {
	t.Helper()
	resp, err := http.Get(url + "/console/api/streams")
	if err != nil {
		t.Fatalf("console API: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		Journal json.RawMessage `json:"journal"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("console API: %v", err)
	}
	if err := json.Unmarshal(body.Journal, &space); err != nil {
		t.Fatalf("console API journal %s: %v", body.Journal, err)
	}
	return space
}

// metricValue returns the value of an unlabelled sample in the Prometheus exposition.
func metricValue(t *testing.T, url, name string) string {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte(name+" ")); ok {
			return string(v)
		}
	}
	t.Fatalf("metric %s not exposed", name)
	return ""
}

// TestFullDiskDrainsWithoutRestart fills a small file system under load while the object
// store is down: puts are refused with "Slow down.", and delivery's state still has room.
// Space freed on the disk (a ballast file removed) is taken by puts at once. When the store
// comes back, delivery drains the journal, puts are accepted again, all without a restart, and
// every acknowledged record is delivered exactly once.
func TestFullDiskDrainsWithoutRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: runs the built binary")
	}
	dataDir := mountTmpfs(t, "160m")
	m := testenv.StartMinIO(t)
	m.CreateBucket(t, "full")
	s := startServer(t, dataDir, m.Env()...)
	c := newFirehose(s.URL)
	createS3Stream(t, c, "full", "full", 1, 60)
	m.Stop() // the destination is down
	ballast := filepath.Join(dataDir, "ballast")
	if err := os.WriteFile(ballast, make([]byte, 16<<20), 0o644); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	load := &fullDiskLoad{}
	ctx, stopLoad := context.WithCancel(context.Background())
	loadDone := make(chan struct{})
	go func() { defer close(loadDone); load.run(ctx, s.URL, "full") }()
	defer func() { stopLoad(); <-loadDone }()

	// Full: puts are refused, and stay refused while the store is down.
	took := waitFor(t, 30*time.Second, "a put refused with Slow down.", func() bool { return load.refused.Load() > 0 })
	full := journalSpace(t, s.URL)
	t.Logf("full after %v: journal %+v", took.Round(time.Millisecond), full)
	if !full.Full || full.StoreBytes < 100<<20 || full.ReservedBytes != 20<<20 {
		t.Errorf("console journal %+v: want full, at least 100 MiB held, 20 MiB reserved", full)
	}
	if v := metricValue(t, s.URL, "hydrant_journal_full"); v != "1" {
		t.Errorf("hydrant_journal_full = %s while full, want 1", v)
	}

	// Space freed on the disk is used at once, and filled again.
	freed := time.Now()
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	took = waitFor(t, 10*time.Second, "a put accepted after 16 MiB were freed", func() bool {
		_, last := load.times()
		return last.After(freed)
	})
	refused := load.refused.Load()
	waitFor(t, 10*time.Second, "puts refused again", func() bool { return load.refused.Load() > refused+10 })
	t.Logf("16 MiB freed on the disk: puts accepted again after %v, full again after %v",
		took.Round(time.Millisecond), time.Since(freed).Round(time.Millisecond))

	// Full, with the store down: nothing more is accepted (beyond a trickle at the edge).
	ackedFull := load.nAcked.Load()
	time.Sleep(2 * time.Second)
	refusedWhileDown := load.refused.Load()
	if n := load.nAcked.Load() - ackedFull; n > 4*fullDiskBatch {
		t.Errorf("%d records acknowledged in 2 s while full with the store down", n)
	}

	// The store comes back: delivery drains the journal and puts are accepted again.
	back := time.Now()
	m.Restart(t)
	took = waitFor(t, 40*time.Second, "a put accepted after the store came back", func() bool {
		_, last := load.times()
		return last.After(back)
	})
	t.Logf("puts accepted again %v after the store came back", took.Round(time.Millisecond))
	time.Sleep(time.Second) // a little more load into the freed room
	stopLoad()
	<-loadDone

	s.Flush("full")
	var acked []string
	load.acked.Range(func(k, _ any) bool { acked = append(acked, k.(string)); return true })
	counts := map[string]int{}
	var delivered int64
	for key, body := range m.Objects(t, "full") {
		delivered += int64(len(body))
		if len(body) > 0 && body[len(body)-1] != '\n' {
			t.Errorf("object %s does not end in a newline", key)
		}
		for line := range strings.SplitSeq(strings.TrimSuffix(string(body), "\n"), "\n") {
			counts[line]++
		}
	}
	lost, dups := 0, 0
	for _, line := range acked {
		switch n := counts[line]; {
		case n == 0:
			lost++
		case n > 1:
			dups++
		}
		delete(counts, line)
	}
	t.Logf("%d records acknowledged (%d MiB delivered), %d puts refused while the store was down, %d in all, %d other errors; %v in all",
		len(acked), delivered>>20, refusedWhileDown, load.refused.Load(), load.otherErrs.Load(), time.Since(start).Round(time.Millisecond))
	if lost > 0 || dups > 0 {
		t.Errorf("%d acknowledged records lost, %d delivered more than once", lost, dups)
	}
	unknown := 0
	load.unknown.Range(func(k, _ any) bool {
		if counts[k.(string)] > 1 {
			t.Errorf("record %.12s… of a call with an unknown outcome delivered %d times", k, counts[k.(string)])
		}
		unknown += counts[k.(string)]
		delete(counts, k.(string))
		return true
	})
	if len(counts) > 0 {
		t.Errorf("%d delivered records were never acknowledged (refused puts must store nothing)", len(counts))
	}
	if n := load.otherErrs.Load(); n > 0 {
		load.mu.Lock()
		t.Logf("%d puts failed otherwise than with Slow down. (%d of their records delivered), e.g. %v", n, unknown, load.sample)
		load.mu.Unlock()
	}
	if after := journalSpace(t, s.URL); after.Full {
		t.Errorf("journal still full after delivery: %+v", after)
	}
}
