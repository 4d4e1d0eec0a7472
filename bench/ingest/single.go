package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"

	"github.com/hydrant-dev/hydrant/bench/internal/harness"
)

// singleResult is the single-record PutRecord phase: many callers, one stream, next to the
// disk's own fsync rate measured in the same directory just before.
type singleResult struct {
	fsyncs    float64 // write + fdatasync of 4 KiB per second, one goroutine
	fsyncLat  time.Duration
	ok, fail  int
	elapsed   time.Duration
	lat       []time.Duration // of OK calls, sorted
	firstErr  error
	callers   int
	bytes     int
	delivered int64 // bytes in objects after the flush
	// cores used during the load: the server, this process (the clients), everything else
	server, client, other float64
}

func (r singleResult) putsPerSec() float64 { return float64(r.ok) / r.elapsed.Seconds() }

// fsyncRate writes 4 KiB at offset 0 of a file in dir and fdatasyncs it, in a loop, for d.
func fsyncRate(dir string, d time.Duration) (float64, time.Duration, error) {
	f, err := os.CreateTemp(dir, "fsync-probe-*")
	if err != nil {
		return 0, 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 4096)
	n := 0
	start := time.Now()
	for time.Since(start) < d {
		buf[0] = byte(n)
		if _, err := f.WriteAt(buf, 0); err != nil {
			return 0, 0, err
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			return 0, 0, err
		}
		n++
	}
	el := time.Since(start)
	return float64(n) / el.Seconds(), el / time.Duration(n), nil
}

// benchSingle runs callers goroutines, each with its own aws-sdk-go-v2 client, sending
// PutRecord calls of one record of size bytes to one stream for d, on a fresh server.
func benchSingle(ctx context.Context, o options, bin, tmp string, stdout io.Writer) (singleResult, error) {
	r := singleResult{callers: o.singleCallers, bytes: o.singleBytes}
	dataDir := filepath.Join(tmp, "single-data")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return r, err
	}
	var err error
	if r.fsyncs, r.fsyncLat, err = fsyncRate(dataDir, 2*time.Second); err != nil {
		return r, fmt.Errorf("fsync rate: %w", err)
	}
	fmt.Fprintf(stdout, "disk: %.0f write+fdatasync of 4 KiB per second (%v each) in %s\n", r.fsyncs, r.fsyncLat.Round(time.Microsecond), dataDir)
	argv := []string{bin, "serve", "--data-dir", dataDir, "--listen", "{addr}", "--log-level", "warn"}
	if o.profileDir != "" {
		argv = append(argv, "--pprof-listen", "{addr2}")
	}
	p, err := harness.StartProc(harness.ProcSpec{Name: "hydrant", LogPath: filepath.Join(tmp, "single.log"), Ready: "/_hydrant/health", Within: 30 * time.Second, Argv: argv})
	if err != nil {
		return r, err
	}
	defer p.Stop()
	if err := harness.CreateStream(ctx, harness.NewClient(p.URL, 2, false), harness.StreamSpec{Name: "single", Bucket: "single", SizeMB: int32(o.sizeMB), IntervalS: int32(o.intervalS)}); err != nil {
		return r, err
	}
	fmt.Fprintf(stdout, "hydrant: %d callers × PutRecord(1 × %d B) for %v ...\n", o.singleCallers, o.singleBytes, o.singleDuration)
	prof := startProfile(o, p, "putrecord", o.singleDuration)
	var mu sync.Mutex
	var wg sync.WaitGroup
	srv0, _ := p.CPU()
	cli0, _ := harness.ProcCPU(os.Getpid())
	sys0, _ := harness.SystemCPU()
	start := time.Now()
	deadline := start.Add(o.singleDuration)
	for g := range o.singleCallers {
		wg.Go(func() {
			c := harness.NewClient(p.URL, 1, false)
			var lat []time.Duration
			ok, fail := 0, 0
			var first error
			for n := 0; ctx.Err() == nil && time.Now().Before(deadline); n++ {
				t0 := time.Now()
				_, err := c.PutRecord(ctx, &firehose.PutRecordInput{
					DeliveryStreamName: aws.String("single"),
					Record:             &types.Record{Data: harness.FillerRecord(g, n, o.singleBytes)},
				})
				if err != nil {
					fail++
					if first == nil {
						first = err
					}
					continue
				}
				ok++
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			r.ok += ok
			r.fail += fail
			r.lat = append(r.lat, lat...)
			if r.firstErr == nil {
				r.firstErr = first
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	srv1, _ := p.CPU()
	cli1, _ := harness.ProcCPU(os.Getpid())
	sys1, _ := harness.SystemCPU()
	cores := func(d time.Duration) float64 { return d.Seconds() / r.elapsed.Seconds() }
	r.server, r.client = cores(srv1-srv0), cores(cli1-cli0)
	r.other = cores(sys1-sys0) - r.server - r.client
	slices.Sort(r.lat)
	if err := prof(); err != nil {
		fmt.Fprintf(stdout, "  profile: %v\n", err)
	}
	if err := harness.Flush(ctx, p.URL, "single"); err != nil {
		return r, err
	}
	if r.delivered, _, err = deliveredBytes(dataDir, "single"); err != nil {
		return r, err
	}
	if want := int64(r.ok * o.singleBytes); r.delivered < want {
		return r, fmt.Errorf("after flush %d bytes delivered, %d acknowledged: acknowledged records missing", r.delivered, want)
	}
	fmt.Fprintf(stdout, "  %.0f puts/s (%.1f× the disk's fsync rate), %d failed; cores: hydrant %.2f, clients %.2f, other processes %.2f\n",
		r.putsPerSec(), r.putsPerSec()/r.fsyncs, r.fail, r.server, r.client, r.other)
	return r, nil
}

func (r singleResult) render() string {
	pct := func(p float64) time.Duration {
		if len(r.lat) == 0 {
			return 0
		}
		return r.lat[min(max(int(p*float64(len(r.lat))+0.5)-1, 0), len(r.lat)-1)]
	}
	s := fmt.Sprintf("\nSingle-record puts (group commit): %d callers, each its own aws-sdk-go-v2 client (UNSIGNED-PAYLOAD, retries off), PutRecord of one %d B record to one stream; the disk's fsync rate measured just before in the server's data directory (one goroutine: 4 KiB write at offset 0 + fdatasync, 2 s):\n\n",
		r.callers, r.bytes)
	s += "| disk fsyncs/s | load | PutRecord ok / failed | puts/s | puts per fsync of the disk | p50 | p99 | max | delivered = acked |\n|---|---|---|---|---|---|---|---|---|\n"
	s += fmt.Sprintf("| %.0f (%v each) | %v | %d / %d | %.0f | %.1f | %s | %s | %s | %v |\n", r.fsyncs, r.fsyncLat.Round(time.Microsecond), r.elapsed.Round(time.Millisecond),
		r.ok, r.fail, r.putsPerSec(), r.putsPerSec()/r.fsyncs, ms(pct(0.5)), ms(pct(0.99)), ms(pct(1)), r.delivered >= int64(r.ok*r.bytes))
	s += fmt.Sprintf("\n- cores during the load: hydrant %.2f, the clients (this process) %.2f, other processes %.2f; hydrant CPU per put %.0f µs, client CPU per put %.0f µs\n",
		r.server, r.client, r.other, 1e6*r.server/r.putsPerSec(), 1e6*r.client/r.putsPerSec())
	if r.firstErr != nil {
		s += fmt.Sprintf("- first PutRecord error: %v\n", r.firstErr)
	}
	return s
}

// startProfile fetches a CPU profile of the server over the load into o.profileDir/name.pprof;
// the returned function waits for it.
func startProfile(o options, p *harness.Proc, name string, d time.Duration) func() error {
	if o.profileDir == "" {
		return func() error { return nil }
	}
	done := make(chan error, 1)
	go func() {
		secs := max(int(d.Seconds())-1, 1)
		resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", p.Addr2, secs))
		if err != nil {
			done <- err
			return
		}
		defer resp.Body.Close()
		if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			done <- err
			return
		}
		f, err := os.Create(filepath.Join(o.profileDir, name+".pprof"))
		if err != nil {
			done <- err
			return
		}
		_, err = io.Copy(f, resp.Body)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		done <- err
	}()
	return func() error { return <-done }
}
