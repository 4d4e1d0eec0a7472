package e2e

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
)

// The size of TestCrashLoopExactlyOnce. A round costs a start of the binary (0.1–0.4 s on two
// cores) and at most crashLoadFor of load: about 20 s per kind.
const (
	crashRounds   = 20
	crashWorkers  = 4
	crashBatch    = 100
	crashRate     = 16_000 // records per second, all goroutines together
	crashLoadFor  = 1500 * time.Millisecond
	crashShards   = 20
	crashMinAcked = 10_000 // fewer acknowledged records over all rounds test too little
	crashSeedEnv  = "HYDRANT_E2E_SEED"
	crashErrorDir = "errors/"
	crashLateWait = 5 * time.Second // the second look at a bucket where records are missing
)

// crashKind is one kind of stream that TestCrashLoopExactlyOnce crashes.
type crashKind struct {
	name string
	// create returns the CreateDeliveryStream input of the stream.
	create func(stream string) *firehose.CreateDeliveryStreamInput
	// delimited is true when the stream appends the newline itself (AppendDelimiterToRecord),
	// so records are sent without one.
	delimited bool
	// buckets are the buckets that must each hold every acknowledged record exactly once.
	buckets []crashBucket
}

// crashBucket says what the objects of one bucket may be.
type crashBucket struct {
	name string
	// data matches the key of a data object; its first submatch, when it has one, is the shard
	// of every record in the object.
	data *regexp.Regexp
}

const (
	crashRole = "arn:aws:iam::000000000000:role/r"
	// crashObjectName is the name Firehose gives an object: STREAM-1-YYYY-MM-DD-HH-MM-SS-UUID.
	crashObjectName = `-1-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`
)

func crashHints(sizeMB, intervalS int32) *types.BufferingHints {
	return &types.BufferingHints{SizeInMBs: aws.Int32(sizeMB), IntervalInSeconds: aws.Int32(intervalS)}
}

// crashKinds are the kinds of stream crashed. Every leg has a zero buffering interval, so that
// it writes an object whenever it has caught up: thousands of objects over the rounds, and a
// kill likely to land in the middle of a write.
func crashKinds() []crashKind {
	timeKey := func(stream string) *regexp.Regexp {
		return regexp.MustCompile(`^\d{4}/\d{2}/\d{2}/\d{2}/` + regexp.QuoteMeta(stream) + crashObjectName + `$`)
	}
	return []crashKind{{
		// A plain stream: one leg, no processing.
		name: "plain",
		create: func(stream string) *firehose.CreateDeliveryStreamInput {
			return &firehose.CreateDeliveryStreamInput{
				DeliveryStreamName: aws.String(stream),
				ExtendedS3DestinationConfiguration: &types.ExtendedS3DestinationConfiguration{
					RoleARN: aws.String(crashRole), BucketARN: aws.String("arn:aws:s3:::plain"),
					BufferingHints: crashHints(1, 0),
				},
			}
		},
		buckets: []crashBucket{{name: "plain", data: timeKey("crashloop-plain")}},
	}, {
		// Dynamic partitioning by a JQ query over ~20 shards, records newline-delimited by the
		// stream. 64 MiB is the smallest size hint with dynamic partitioning.
		name:      "partitioned",
		delimited: true,
		create: func(stream string) *firehose.CreateDeliveryStreamInput {
			return &firehose.CreateDeliveryStreamInput{
				DeliveryStreamName: aws.String(stream),
				ExtendedS3DestinationConfiguration: &types.ExtendedS3DestinationConfiguration{
					RoleARN: aws.String(crashRole), BucketARN: aws.String("arn:aws:s3:::parts"),
					Prefix:                           aws.String("shard=!{partitionKeyFromQuery:shard}/"),
					ErrorOutputPrefix:                aws.String(crashErrorDir + "!{firehose:error-output-type}/"),
					BufferingHints:                   crashHints(64, 0),
					DynamicPartitioningConfiguration: &types.DynamicPartitioningConfiguration{Enabled: aws.Bool(true)},
					ProcessingConfiguration: &types.ProcessingConfiguration{
						Enabled: aws.Bool(true),
						Processors: []types.Processor{{
							Type: types.ProcessorTypeMetadataExtraction,
							Parameters: []types.ProcessorParameter{
								{ParameterName: types.ProcessorParameterNameMetadataExtractionQuery, ParameterValue: aws.String("{shard: .shard}")},
								{ParameterName: types.ProcessorParameterNameJsonParsingEngine, ParameterValue: aws.String("JQ-1.6")},
							},
						}, {Type: types.ProcessorTypeAppendDelimiterToRecord}},
					},
				},
			}
		},
		buckets: []crashBucket{{name: "parts", data: regexp.MustCompile(`^shard=(s\d+)/crashloop-partitioned` + crashObjectName + `$`)}},
	}, {
		// S3 backup of the source records to a second bucket. The server does not require a
		// processor for the backup, so this stream has none: both legs are plain.
		name:   "backup",
		create: backupStream,
		buckets: []crashBucket{
			{name: "main", data: timeKey("crashloop-backup")},
			{name: "backup", data: timeKey("crashloop-backup")},
		},
	}, {
		// The same backup with processing of the destination leg, as source record backup is
		// mostly used: a JQ metadata extraction without partitioning, which keeps the records.
		name: "processed-backup",
		create: func(stream string) *firehose.CreateDeliveryStreamInput {
			in := backupStream(stream)
			c := in.ExtendedS3DestinationConfiguration
			c.ErrorOutputPrefix = aws.String(crashErrorDir + "!{firehose:error-output-type}/")
			c.ProcessingConfiguration = &types.ProcessingConfiguration{
				Enabled: aws.Bool(true),
				Processors: []types.Processor{{
					Type: types.ProcessorTypeMetadataExtraction,
					Parameters: []types.ProcessorParameter{
						{ParameterName: types.ProcessorParameterNameMetadataExtractionQuery, ParameterValue: aws.String("{shard: .shard}")},
						{ParameterName: types.ProcessorParameterNameJsonParsingEngine, ParameterValue: aws.String("JQ-1.6")},
					},
				}},
			}
			return in
		},
		buckets: []crashBucket{
			{name: "main", data: timeKey("crashloop-processed-backup")},
			{name: "backup", data: timeKey("crashloop-processed-backup")},
		},
	}}
}

// backupStream is a stream to bucket main with S3BackupMode Enabled to bucket backup.
func backupStream(stream string) *firehose.CreateDeliveryStreamInput {
	return &firehose.CreateDeliveryStreamInput{
		DeliveryStreamName: aws.String(stream),
		ExtendedS3DestinationConfiguration: &types.ExtendedS3DestinationConfiguration{
			RoleARN: aws.String(crashRole), BucketARN: aws.String("arn:aws:s3:::main"),
			BufferingHints: crashHints(1, 0),
			S3BackupMode:   types.S3BackupModeEnabled,
			S3BackupConfiguration: &types.S3DestinationConfiguration{
				RoleARN: aws.String(crashRole), BucketARN: aws.String("arn:aws:s3:::backup"),
				BufferingHints: crashHints(1, 0),
			},
		},
	}
}

// TestCrashLoopExactlyOnce crashes one stream of each kind 20 times under load and checks
// that, after a last restart and a flush, every acknowledged record is in its bucket (and in
// the backup bucket) exactly once, and nothing else is: per kind, one data directory and one
// stream; each round starts the binary on that directory, runs a paced PutRecordBatch load
// from 4 goroutines and sends SIGKILL at a random moment of it. The kill moments come from a
// logged seed; set HYDRANT_E2E_SEED to it to replay them.
func TestCrashLoopExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(crashSeedEnv); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("%s=%q: %v", crashSeedEnv, s, err)
		}
	}
	t.Logf("kill moments from seed %d (%s=%d replays them)", seed, crashSeedEnv, seed)
	for i, k := range crashKinds() {
		t.Run(k.name, func(t *testing.T) {
			runCrashLoop(t, k, rand.New(rand.NewPCG(seed, uint64(i))))
		})
	}
}

// crashLine is the delivered form of record n of goroutine g in round r: a JSON line
// without its newline. The id is unique across the rounds of a kind.
func crashLine(r, g, n int) string {
	return fmt.Sprintf(`{"id":"rec-%d-%d-%d","shard":"s%d"}`, r, g, n, (r*7+g*3+n)%crashShards)
}

func runCrashLoop(t *testing.T, k crashKind, rng *rand.Rand) {
	start := time.Now()
	stream := "crashloop-" + k.name
	dataDir := t.TempDir()
	load := pacedLoad{
		Stream: stream, Workers: crashWorkers, Batch: crashBatch, Rate: crashRate,
		Max: crashRate * int(crashLoadFor/time.Millisecond) / 1000, For: crashLoadFor,
	}
	var rounds []*loadLedger
	for r := range crashRounds {
		load.Data = func(g, n int) []byte {
			b := []byte(crashLine(r, g, n))
			if !k.delimited {
				b = append(b, '\n')
			}
			return b
		}
		killAfter := time.Duration(rng.Int64N(int64(crashLoadFor)))
		var led *loadLedger
		// Each round is a subtest so that the log of a killed server is not dumped when a later
		// check fails; only the last server's log is.
		ok := t.Run(fmt.Sprintf("round-%02d", r), func(t *testing.T) {
			roundStart := time.Now()
			srv := startServer(t, dataDir)
			if r == 0 {
				createStream(t, newFirehose(srv.URL), k.create(stream))
			}
			started := time.Since(roundStart)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan *loadLedger, 1)
			go func() { done <- load.run(ctx, t, srv.URL) }()
			time.Sleep(killAfter)
			srv.Kill()
			cancel()
			led = <-done
			t.Logf("started in %v, SIGKILL after %v of load: %d acknowledged of %d sent, %d failed calls, %d failed entries",
				started.Round(time.Millisecond), killAfter.Round(time.Millisecond), led.AckedTotal(), led.SentTotal(), led.CallErrs, led.EntryErrs)
		})
		if !ok {
			return
		}
		rounds = append(rounds, led)
	}

	srv := startServer(t, dataDir)
	srv.Flush(stream)

	acked, sent := 0, 0
	for _, led := range rounds {
		acked += led.AckedTotal()
		sent += led.SentTotal()
	}
	if acked < crashMinAcked {
		t.Errorf("only %d records acknowledged in %d rounds; the kills came too early to test much", acked, crashRounds)
	}
	for _, b := range k.buckets {
		sc := scanBucket(t, srv, b)
		tl := tallyRecords(sc.counts, rounds, crashLine)
		late := 0
		if tl.Lost > 0 {
			// Tell a flush that answered before delivery from a loss: look again a little later.
			time.Sleep(crashLateWait)
			late = tl.Lost - tallyRecords(scanBucket(t, srv, b).counts, rounds, crashLine).Lost
		}
		t.Logf("%s, bucket %s: %d rounds, %d acknowledged of %d sent; %d objects (%d error output); %d lost, %d duplicate copies (of %d records, from %d rounds), %d unacknowledged delivered, %d unknown lines, %d partial objects; %v",
			k.name, b.name, len(rounds), acked, sent, sc.objects, len(sc.errorObjs), tl.Lost, tl.Duplicates, tl.DupRecords, tl.DupRounds,
			tl.UnackedDelivered, len(tl.Unknown), len(sc.partial), time.Since(start).Round(time.Millisecond))
		if len(sc.errorObjs) > 0 {
			t.Errorf("bucket %s: %d objects in the error output, none expected: %s", b.name, len(sc.errorObjs), strings.Join(first(sc.errorObjs, 5), "; "))
		}
		if len(sc.badKeys) > 0 {
			t.Errorf("bucket %s: %d objects with an unexpected key: %s", b.name, len(sc.badKeys), strings.Join(first(sc.badKeys, 5), ", "))
		}
		if len(sc.misplaced) > 0 {
			t.Errorf("bucket %s: records in the wrong partition: %s", b.name, strings.Join(sc.misplaced, "; "))
		}
		if tl.Lost > 0 {
			t.Errorf("bucket %s: %d acknowledged records are in no object when the flush answered (%d of them had arrived %v later), e.g. %s",
				b.name, tl.Lost, late, crashLateWait, strings.Join(tl.Missing, ", "))
		}
		if tl.Duplicates > 0 {
			t.Errorf("bucket %s: %d duplicate copies of %d records sent in %d of %d rounds, e.g. %s",
				b.name, tl.Duplicates, tl.DupRecords, tl.DupRounds, len(rounds), strings.Join(tl.Duplicated, ", "))
		}
		if len(sc.partial) > 0 {
			t.Errorf("bucket %s: %d objects end in a partial line: %s", b.name, len(sc.partial), strings.Join(first(sc.partial, 5), "; "))
		}
		if len(tl.Unknown) > 0 {
			t.Errorf("bucket %s: %d lines that were never sent, e.g. %s", b.name, len(tl.Unknown), strings.Join(first(tl.Unknown, 10), "; "))
		}
		// A record that was not acknowledged may still have been stored: the calls in flight at
		// the kill may have been synced before their answers were lost, one per goroutine.
		if tl.MaxUnackedInRound > crashWorkers*crashBatch {
			t.Errorf("bucket %s: %d unacknowledged records of one round delivered; at most %d (one call in flight per goroutine) can be explained by the kill",
				b.name, tl.MaxUnackedInRound, crashWorkers*crashBatch)
		}
	}
}

// bucketScan is what the objects of one bucket hold.
type bucketScan struct {
	objects   int
	counts    map[string]int // line → copies, in the data objects
	errorObjs []string       // error output objects, with their first document
	badKeys   []string       // objects that are neither data nor error output
	misplaced []string       // up to 10 records in an object of another partition
	partial   []string       // objects that end in a partial line
}

func scanBucket(t testing.TB, srv *server, b crashBucket) bucketScan {
	t.Helper()
	objs := srv.Objects(b.name)
	sc := bucketScan{objects: len(objs)}
	var data []object
	for _, o := range objs {
		switch {
		case strings.HasPrefix(o.Key, crashErrorDir):
			doc, _, _ := bytes.Cut(readFile(t, o.Path), []byte("\n"))
			sc.errorObjs = append(sc.errorObjs, fmt.Sprintf("%s: %.300s", o.Key, doc))
		case b.data.MatchString(o.Key):
			data = append(data, o)
		default:
			sc.badKeys = append(sc.badKeys, o.Key)
		}
	}
	sc.counts, sc.partial = countLines(t, data, func(o object, line []byte) {
		m := b.data.FindStringSubmatch(o.Key)
		if len(m) > 1 && !bytes.Contains(line, []byte(`"shard":"`+m[1]+`"`)) && len(sc.misplaced) < 10 {
			sc.misplaced = append(sc.misplaced, fmt.Sprintf("%s holds %s", o.Key, line))
		}
	})
	return sc
}

func first(xs []string, n int) []string { return xs[:min(len(xs), n)] }

// createStream creates a delivery stream and waits until it is ACTIVE.
func createStream(t testing.TB, c *firehose.Client, in *firehose.CreateDeliveryStreamInput) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.CreateDeliveryStream(ctx, in); err != nil {
		t.Fatalf("CreateDeliveryStream %s: %v", aws.ToString(in.DeliveryStreamName), err)
	}
	waitActive(t, c, aws.ToString(in.DeliveryStreamName))
}

// pacedLoad is a bounded PutRecordBatch load from several goroutines at a steady rate.
type pacedLoad struct {
	Stream  string
	Workers int
	Batch   int           // records per call
	Rate    int           // records per second, all goroutines together
	Max     int           // records, all goroutines together
	For     time.Duration // the longest the load runs
	// Data returns the bytes of record n of goroutine g.
	Data func(g, n int) []byte
}

// loadLedger is what a pacedLoad sent and which of those records the server acknowledged.
type loadLedger struct {
	// Acked[g][n] is true when record n of goroutine g was acknowledged; len(Acked[g]) is how
	// many records goroutine g sent, acknowledged or not.
	Acked [][]bool
	// CallErrs counts the calls that failed as a whole (the kill, a 503, ...); EntryErrs the
	// entries with an ErrorCode in an answer.
	CallErrs, EntryErrs int64
}

// SentTotal is the number of records sent, acknowledged or not.
func (l *loadLedger) SentTotal() int {
	n := 0
	for _, a := range l.Acked {
		n += len(a)
	}
	return n
}

// AckedTotal is the number of acknowledged records.
func (l *loadLedger) AckedTotal() int {
	n := 0
	for _, a := range l.Acked {
		for _, ok := range a {
			if ok {
				n++
			}
		}
	}
	return n
}

// run sends records to the server at url until ctx ends or a bound is reached, and returns
// what it sent. A call's own context is not ctx: a call ends by the server's answer or its
// death, never by our cancellation, so an error means that the server did not acknowledge.
func (l pacedLoad) run(ctx context.Context, t testing.TB, url string) *loadLedger {
	ctx, cancel := context.WithTimeout(ctx, l.For)
	defer cancel()
	led := &loadLedger{Acked: make([][]bool, l.Workers)}
	var total, callErrs, entryErrs atomic.Int64
	var wg sync.WaitGroup
	for g := range l.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newFirehose(url)
			pace := time.NewTicker(time.Second * time.Duration(l.Batch*l.Workers) / time.Duration(l.Rate))
			defer pace.Stop()
			for ctx.Err() == nil && total.Add(int64(l.Batch)) <= int64(l.Max) {
				n := len(led.Acked[g])
				recs := make([]types.Record, l.Batch)
				for i := range recs {
					recs[i].Data = l.Data(g, n+i)
				}
				led.Acked[g] = append(led.Acked[g], make([]bool, l.Batch)...)
				callCtx, callCancel := context.WithTimeout(context.Background(), 20*time.Second)
				out, err := c.PutRecordBatch(callCtx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String(l.Stream), Records: recs})
				callCancel()
				switch {
				case err != nil:
					callErrs.Add(1)
				case len(out.RequestResponses) != l.Batch:
					t.Errorf("RequestResponses has %d entries for %d records", len(out.RequestResponses), l.Batch)
				default:
					for i, r := range out.RequestResponses {
						switch {
						case r.ErrorCode != nil:
							entryErrs.Add(1)
						case aws.ToString(r.RecordId) == "":
							t.Errorf("entry %d: no ErrorCode and no RecordId", i)
						default:
							led.Acked[g][n+i] = true
						}
					}
				}
				select {
				case <-pace.C:
				case <-ctx.Done():
				}
			}
		}()
	}
	wg.Wait()
	led.CallErrs, led.EntryErrs = callErrs.Load(), entryErrs.Load()
	return led
}

// countLines counts the newline-terminated lines of objects, by content; each, when not nil,
// sees every line with its object. Objects whose last line has no newline are listed in
// partial.
func countLines(t testing.TB, objs []object, each func(o object, line []byte)) (counts map[string]int, partial []string) {
	t.Helper()
	counts = map[string]int{}
	for _, o := range objs {
		b := readFile(t, o.Path)
		if len(b) == 0 {
			continue
		}
		if b[len(b)-1] != '\n' {
			partial = append(partial, fmt.Sprintf("%s ends in %q", o.Key, lastLine(b)))
		}
		for line := range bytes.SplitSeq(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
			counts[string(line)]++
			if each != nil {
				each(o, line)
			}
		}
	}
	return counts, partial
}

// recordTally compares delivered lines with what was sent.
type recordTally struct {
	Lost, Duplicates, DupRecords int
	UnackedDelivered             int
	MaxUnackedInRound            int      // the most unacknowledged records of one round delivered
	DupRounds                    int      // rounds with a duplicated record
	Missing, Duplicated          []string // up to 10 examples
	Unknown                      []string // delivered lines that were never sent, sorted
}

// tallyRecords checks the line counts of delivered objects against the ledgers of the rounds
// of a load; line(r, g, n) is the delivered line of record n of goroutine g in round r.
func tallyRecords(counts map[string]int, rounds []*loadLedger, line func(r, g, n int) string) recordTally {
	counts = maps.Clone(counts)
	var tl recordTally
	for r, led := range rounds {
		unacked, dups := 0, 0
		for g, acked := range led.Acked {
			for n, ok := range acked {
				key := line(r, g, n)
				c := counts[key]
				delete(counts, key)
				switch {
				case ok && c == 0:
					tl.Lost++
					if len(tl.Missing) < 10 {
						tl.Missing = append(tl.Missing, key)
					}
				case !ok && c > 0:
					unacked++
				}
				if c > 1 {
					dups++
					tl.DupRecords++
					tl.Duplicates += c - 1
					if len(tl.Duplicated) < 10 {
						tl.Duplicated = append(tl.Duplicated, fmt.Sprintf("%s ×%d", key, c))
					}
				}
			}
		}
		tl.UnackedDelivered += unacked
		tl.MaxUnackedInRound = max(tl.MaxUnackedInRound, unacked)
		if dups > 0 {
			tl.DupRounds++
		}
	}
	for l, c := range counts {
		tl.Unknown = append(tl.Unknown, fmt.Sprintf("%q ×%d", l, c))
	}
	sort.Strings(tl.Unknown)
	return tl
}
