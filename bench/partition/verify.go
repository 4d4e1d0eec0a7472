package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/hydrant-dev/hydrant/bench/internal/harness"
)

// partitionDir is the first key component of a partition's objects: the Prefix
// customer_id=!{partitionKeyFromQuery:customer_id}/ evaluated.
const partitionDir = "customer_id="

// errorDir is the first key component of the error output: the ErrorOutputPrefix
// errors/!{firehose:error-output-type}/ evaluated.
const errorDir = "errors"

// bucketBytes sums the sizes of the objects in a bucket of the local directory destination and
// counts them; temporary files live in dot-directories and are skipped.
func bucketBytes(dataDir, bucket string) (n int64, objects int, err error) {
	err = harness.WalkObjects(dataDir, bucket, func(_, _ string, size int64) error {
		n += size
		objects++
		return nil
	})
	return n, objects, err
}

// delivered is what a bucket's objects hold after a run, checked record by record.
type delivered struct {
	objects int
	records int
	bytes   int64 // record bytes in data objects (not the error output)
	// partitions counts the objects of each partition directory (customer id); nil for a
	// stream without dynamic partitioning.
	partitions  map[string]int
	errorFiles  int
	errorBytes  int64
	badLength   int // records (lines) not recordBytes long
	misplaced   int // records whose customer_id is not their directory's
	sampled     int // objects read in full: every record parsed, rebuilt and compared
	sampledRecs int
	sampleBad   int // sampled records that do not parse or differ from what was sent
	firstBad    string
}

// store is where a stream's objects are read back: hydrant's local directory or MinIO.
type store interface {
	// list calls fn with the key and size of every object of bucket.
	list(ctx context.Context, bucket string, fn func(key string, size int64) error) error
	// read returns the content of bucket/key.
	read(ctx context.Context, bucket, key string) ([]byte, error)
}

// localStore is hydrant's local-directory destination under a data directory.
type localStore struct{ dataDir string }

func (s localStore) list(_ context.Context, bucket string, fn func(string, int64) error) error {
	return harness.WalkObjects(s.dataDir, bucket, func(_, key string, size int64) error { return fn(key, size) })
}

func (s localStore) read(_ context.Context, bucket, key string) ([]byte, error) {
	return os.ReadFile(harness.ObjectPath(s.dataDir, bucket, key))
}

// minioStore is a MinIO server.
type minioStore struct{ m *harness.MinIO }

func (s minioStore) list(ctx context.Context, bucket string, fn func(string, int64) error) error {
	objs, err := s.m.List(ctx, bucket)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if err := fn(o.Key, o.Size); err != nil {
			return err
		}
	}
	return nil
}

func (s minioStore) read(ctx context.Context, bucket, key string) ([]byte, error) {
	return s.m.Get(ctx, bucket, key)
}

// verifyBucket reads every object of the bucket: it counts the records and bytes, checks every
// record is recordBytes long and, with dynamic partitioning, that every record's customer_id is
// its directory's (by the record's leading member); samples objects, spread over the listing,
// are checked in full: each record is parsed and compared byte for byte with the record the
// client sent, sent(client, seq, recordBytes), rebuilt from its client and seq members.
func verifyBucket(ctx context.Context, st store, bucket string, dynamic bool, recordBytes, samples int, sent func(g, i, size int) []byte) (delivered, error) {
	type object struct {
		key, dir string
	}
	d := delivered{}
	if dynamic {
		d.partitions = map[string]int{}
	}
	var objs []object
	err := st.list(ctx, bucket, func(key string, size int64) error {
		d.objects++
		first, _, _ := strings.Cut(key, "/")
		switch {
		case !dynamic:
			objs = append(objs, object{key: key})
		case strings.HasPrefix(first, partitionDir):
			id := strings.TrimPrefix(first, partitionDir)
			d.partitions[id]++
			objs = append(objs, object{key: key, dir: id})
		default: // the error output, or anything else that should not be there
			d.errorFiles++
			d.errorBytes += size
		}
		return nil
	})
	if err != nil {
		return d, err
	}
	step := max(len(objs)/max(samples, 1), 1)
	bad := func(format string, args ...any) {
		if d.firstBad == "" {
			d.firstBad = fmt.Sprintf(format, args...)
		}
	}
	for n, o := range objs {
		b, err := st.read(ctx, bucket, o.key)
		if err != nil {
			return d, err
		}
		d.bytes += int64(len(b))
		sample := samples > 0 && n%step == 0 && d.sampled < samples
		if sample {
			d.sampled++
		}
		want := []byte(`{"customer_id":"` + o.dir + `"`)
		for len(b) > 0 {
			i := bytes.IndexByte(b, '\n')
			line := b
			if i >= 0 {
				line = b[:i+1]
			}
			b = b[len(line):]
			d.records++
			if len(line) != recordBytes {
				d.badLength++
				bad("%s: record %d is %d bytes", o.key, d.records, len(line))
			}
			if dynamic && !bytes.HasPrefix(line, want) {
				d.misplaced++
				bad("%s: record does not start %s: %.60s", o.key, want, line)
			}
			if !sample {
				continue
			}
			d.sampledRecs++
			var v struct {
				CustomerID string `json:"customer_id"`
				Client     int    `json:"client"`
				Seq        int    `json:"seq"`
			}
			if err := json.Unmarshal(line, &v); err != nil {
				d.sampleBad++
				bad("%s: record does not parse: %v", o.key, err)
				continue
			}
			if (dynamic && v.CustomerID != o.dir) || !bytes.Equal(line, sent(v.Client, v.Seq, recordBytes)) {
				d.sampleBad++
				bad("%s: record client %d seq %d differs from what was sent", o.key, v.Client, v.Seq)
			}
		}
	}
	return d, nil
}
