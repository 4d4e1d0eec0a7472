package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/hydrant-dev/hydrant/bench/internal/harness"
	"github.com/hydrant-dev/hydrant/internal/compress"
	"github.com/hydrant-dev/hydrant/internal/destination"
	hs3 "github.com/hydrant-dev/hydrant/internal/destination/s3"
)

// gzipRate is one gzip measurement: input MB/s over all goroutines, and the ratio.
type gzipRate struct {
	name    string
	mbps    float64
	ratio   float64
	objects int
	elapsed time.Duration
	others  time.Duration // CPU time of other processes meanwhile
}

// gzipBaseline compresses data as whole objects with internal/compress, the encoder
// Hydrant's delivery uses, written in one Write as the worker writes its buffer: on one
// goroutine, on goroutines goroutines in parallel (each its own encoder and object; the
// machine's gzip capacity), and as one object with Config.Concurrency set (klauspost/pgzip
// blocks, as internal/server configures delivery). Each runs for at least minTime and at
// least one object per goroutine.
func gzipBaseline(data []byte, goroutines int, minTime time.Duration) ([]gzipRate, error) {
	run := func(name string, n int, cfg compress.Config) (gzipRate, error) {
		r := gzipRate{name: name}
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			firstErr error
			outBytes int64
		)
		sys0, err0 := harness.SystemCPU()
		self0, err1 := harness.ProcCPU(os.Getpid())
		start := time.Now()
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e, err := compress.NewEncoder(compress.Gzip, cfg)
				var buf bytes.Buffer
				buf.Grow(len(data) / 2)
				objects := 0
				for err == nil && (objects == 0 || time.Since(start) < minTime) {
					buf.Reset()
					e.Reset(&buf)
					if _, err = e.Write(data); err == nil {
						err = e.Close()
					}
					objects++
				}
				mu.Lock()
				defer mu.Unlock()
				r.objects += objects
				outBytes = int64(buf.Len())
				if err != nil && firstErr == nil {
					firstErr = err
				}
			}()
		}
		wg.Wait()
		r.elapsed = time.Since(start)
		sys1, err2 := harness.SystemCPU()
		self1, err3 := harness.ProcCPU(os.Getpid())
		if err := errors.Join(err0, err1, err2, err3); err != nil {
			return r, err
		}
		r.others = max((sys1-sys0)-(self1-self0), 0)
		r.mbps = float64(r.objects) * float64(len(data)) / 1e6 / r.elapsed.Seconds()
		r.ratio = float64(len(data)) / float64(max(outBytes, 1))
		return r, firstErr
	}
	runtime.GC()
	var rates []gzipRate
	for _, c := range []struct {
		name string
		n    int
		cfg  compress.Config
	}{
		{"1 goroutine, compress.Config{}", 1, compress.Config{}},
		{fmt.Sprintf("%d goroutines in parallel, compress.Config{} each", goroutines), goroutines, compress.Config{}},
		{fmt.Sprintf("1 object, compress.Config{Concurrency: %d} (pgzip)", runtime.GOMAXPROCS(0)), 1, compress.Config{Concurrency: runtime.GOMAXPROCS(0)}},
	} {
		r, err := run(c.name, c.n, c.cfg)
		if err != nil {
			return nil, fmt.Errorf("gzip baseline %s: %w", c.name, err)
		}
		rates = append(rates, r)
	}
	return rates, nil
}

// putRate is one PutObject measurement.
type putRate struct {
	name    string
	objects int
	bytes   int64
	elapsed time.Duration
}

func (r putRate) mbps() float64 { return float64(r.bytes) / 1e6 / r.elapsed.Seconds() }

// putBaseline stores n objects of body one after another in bucket, first with a single
// aws-sdk-go-v2 PutObject each (UNSIGNED-PAYLOAD + CRC32 over http, as Hydrant sends), then
// through Hydrant's own S3 store (internal/destination/s3, which uploads objects above its
// part size in parts, several in flight).
func putBaseline(ctx context.Context, m *minio, bucket string, body []byte, n int) ([]putRate, error) {
	raw := putRate{name: fmt.Sprintf("PutObject, %d MiB, one at a time", len(body)>>20)}
	start := time.Now()
	for i := range n {
		_, err := m.Client.PutObject(ctx, &awss3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(fmt.Sprintf("raw/%04d", i)),
			Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))),
			ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
		})
		if err != nil {
			return nil, fmt.Errorf("put baseline: %w", err)
		}
		raw.objects++
		raw.bytes += int64(len(body))
	}
	raw.elapsed = time.Since(start)

	store, err := hs3.New(ctx, hs3.Config{Endpoint: m.URL, Region: "us-east-1", AccessKeyID: harness.MinIOUser, SecretAccessKey: harness.MinIOPassword}, nil)
	if err != nil {
		return nil, fmt.Errorf("hydrant s3 store: %w", err)
	}
	viaStore := putRate{name: fmt.Sprintf("Hydrant's s3.Store.PutObject, %d MiB (multipart above %d MiB), one at a time", len(body)>>20, hs3.DefaultPartSize>>20)}
	start = time.Now()
	for i := range n {
		err := store.PutObject(ctx, destination.Object{Bucket: bucket, Key: fmt.Sprintf("store/%04d", i), Body: body, ContentType: "application/octet-stream"})
		if err != nil {
			return nil, fmt.Errorf("put baseline via hydrant's store: %w", err)
		}
		viaStore.objects++
		viaStore.bytes += int64(len(body))
	}
	viaStore.elapsed = time.Since(start)
	return []putRate{raw, viaStore}, nil
}
