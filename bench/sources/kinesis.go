package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/hydrant-dev/hydrant/bench/internal/harness"
	"github.com/hydrant-dev/hydrant/internal/testenv"
)

const (
	kinesisRegion    = "us-east-1"
	kinesisAccessKey = "hydrant"
	kinesisSecretKey = "hydrant-secret"
	// putBatch is PutRecords's largest request, in records.
	putBatch = 500
	// putters is how many PutRecords calls fill the shard at once; moto loses records of
	// concurrent PutRecords into one shard, so it is filled one call at a time.
	putters     = 4
	motoPutters = 1
)

// kinesisServer is a Kinesis-compatible server the benchmark started on 127.0.0.1.
type kinesisServer struct {
	kind, version, endpoint, log string
	client                       *kinesis.Client
	cmd                          *exec.Cmd
	exited                       chan struct{}
}

// startKinesisLocal starts kinesis-local (kinesis-mock compiled to JavaScript) from the npm
// folder scripts/install-kinesis.sh fills, forced onto 127.0.0.1 as internal/testenv does.
func startKinesisLocal(dir string) (*kinesisServer, error) {
	pkg := filepath.Join(testenv.NPMDir(), "node_modules", "kinesis-local")
	if _, err := os.Stat(filepath.Join(pkg, "package.json")); err != nil {
		return nil, fmt.Errorf("kinesis-local not installed in %s (run scripts/install-kinesis.sh): %w", testenv.NPMDir(), err)
	}
	preload := filepath.Join(dir, "loopback.js")
	if err := os.WriteFile(preload, []byte(`const net = require('net');
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'object' && args[0] !== null) {
    args[0] = Object.assign({}, args[0], { host: '127.0.0.1' });
  } else if (typeof args[0] === 'number' || typeof args[0] === 'string') {
    if (typeof args[1] === 'function' || args[1] === undefined) args.splice(1, 0, '127.0.0.1');
    else args[1] = '127.0.0.1';
  }
  return listen.apply(this, args);
};
`), 0o644); err != nil {
		return nil, err
	}
	addr, err := harness.FreeAddr()
	if err != nil {
		return nil, err
	}
	tlsAddr, err := harness.FreeAddr()
	if err != nil {
		return nil, err
	}
	_, port, _ := strings.Cut(addr, ":")
	_, tlsPort, _ := strings.Cut(tlsAddr, ":")
	cmd := exec.Command("node", "-r", preload, filepath.Join(pkg, "main.js"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"KINESIS_MOCK_PLAIN_PORT="+port, "KINESIS_MOCK_TLS_PORT="+tlsPort,
		"KINESIS_MOCK_CERT_PATH="+filepath.Join(pkg, "server.json"),
		"AWS_REGION="+kinesisRegion, "CREATE_STREAM_DURATION=50ms", "SHOULD_PERSIST_DATA=false", "LOG_LEVEL=WARN")
	return startKinesis(testenv.KindKinesisLocal, npmVersion(pkg), addr, filepath.Join(dir, "kinesis-local.log"), cmd)
}

// startMoto starts moto_server's Kinesis on 127.0.0.1.
func startMoto(dir string) (*kinesisServer, error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, fmt.Errorf("moto_server not found (pip install 'moto[server]'): %w", err)
	}
	addr, err := harness.FreeAddr()
	if err != nil {
		return nil, err
	}
	host, port, _ := strings.Cut(addr, ":")
	version := "unknown"
	if out, err := exec.Command("python3", "-c", "import moto; print(moto.__version__)").Output(); err == nil {
		version = strings.TrimSpace(string(out))
	}
	return startKinesis(testenv.KindMoto, version, addr, filepath.Join(dir, "moto.log"), exec.Command(bin, "-H", host, "-p", port))
}

func npmVersion(pkg string) string {
	var p struct{ Version string }
	b, err := os.ReadFile(filepath.Join(pkg, "package.json"))
	if err != nil || json.Unmarshal(b, &p) != nil || p.Version == "" {
		return "unknown"
	}
	return p.Version
}

// newKinesisClient returns a client of endpoint with static credentials. Retries are the
// SDK's (3 attempts): neither server throttles.
func newKinesisClient(endpoint string) *kinesis.Client {
	return kinesis.New(kinesis.Options{
		BaseEndpoint: aws.String(endpoint),
		Region:       kinesisRegion,
		Credentials:  credentials.NewStaticCredentialsProvider(kinesisAccessKey, kinesisSecretKey, ""),
	})
}

// startKinesis runs cmd with its output in logPath and waits up to 60 s until it answers
// ListStreams.
func startKinesis(kind, version, addr, logPath string, cmd *exec.Cmd) (*kinesisServer, error) {
	out, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("start %s: %w", kind, err)
	}
	k := &kinesisServer{kind: kind, version: version, endpoint: "http://" + addr, log: logPath,
		client: newKinesisClient("http://" + addr), cmd: cmd, exited: make(chan struct{})}
	go func() { cmd.Wait(); out.Close(); close(k.exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-k.exited:
			return nil, fmt.Errorf("%s exited early; log in %s", kind, logPath)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := k.client.ListStreams(ctx, &kinesis.ListStreamsInput{}, func(o *kinesis.Options) { o.RetryMaxAttempts = 1 })
		cancel()
		if err == nil {
			return k, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	k.Close()
	return nil, fmt.Errorf("%s does not answer ListStreams within 60s; log in %s", kind, logPath)
}

// Close stops the server: SIGTERM, SIGKILL after 5 s.
func (k *kinesisServer) Close() {
	_ = k.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-k.exited:
	case <-time.After(5 * time.Second):
		_ = k.cmd.Process.Kill()
		<-k.exited
	}
}

// createStream creates a one-shard stream, waits until it is ACTIVE and returns its ARN.
func (k *kinesisServer) createStream(ctx context.Context, name string) (string, error) {
	if _, err := k.client.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(1)}); err != nil {
		return "", fmt.Errorf("create stream %s: %w", name, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := k.client.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err == nil && out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			return aws.ToString(out.StreamDescriptionSummary.StreamARN), nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("stream %s not ACTIVE within 30s (last error %v)", name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fillResult is what filling a source took.
type fillResult struct {
	records int
	bytes   int64
	elapsed time.Duration
}

func (f fillResult) rate() float64 { return float64(f.records) / f.elapsed.Seconds() }

// fill puts up to n records of recordBytes into the stream in PutRecords calls of 500,
// putters at a time (moto: one), starting calls for at most d; it stops at the first error. Records are numbered in
// the order of the calls' starts.
func (k *kinesisServer) fill(ctx context.Context, stream string, n, recordBytes int, d time.Duration) (fillResult, error) {
	// The deadline stops new calls; calls under way finish, so that every record counted is
	// in the shard and no record is in the shard uncounted.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	deadline := start.Add(d)
	var next atomic.Int64
	var done atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	conc := putters
	if k.kind == testenv.KindMoto {
		conc = motoPutters
	}
	for range conc {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(deadline) {
				from := int(next.Add(putBatch)) - putBatch
				if from >= n {
					return
				}
				cnt := min(putBatch, n-from)
				entries := make([]types.PutRecordsRequestEntry, cnt)
				for i := range entries {
					entries[i] = types.PutRecordsRequestEntry{Data: record(from+i, recordBytes), PartitionKey: aws.String(strconv.Itoa(from + i))}
				}
				out, err := k.client.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries})
				if err == nil && aws.ToInt32(out.FailedRecordCount) > 0 {
					err = fmt.Errorf("%d of %d records failed", aws.ToInt32(out.FailedRecordCount), cnt)
				}
				if err != nil {
					if ctx.Err() == nil {
						once.Do(func() { firstErr = fmt.Errorf("put records: %w", err) })
					}
					cancel()
					return
				}
				done.Add(int64(cnt))
			}
		})
	}
	wg.Wait()
	r := fillResult{records: int(done.Load()), elapsed: time.Since(start)}
	r.bytes = int64(r.records) * int64(recordBytes)
	if firstErr != nil {
		return r, firstErr
	}
	return r, nil
}

// readResult is what a bare reader measured.
type readResult struct {
	records int
	bytes   int64
	elapsed time.Duration
	calls   int   // GetRecords calls, or fetches with records
	sizes   []int // records per call
}

func (r readResult) rate() float64 { return float64(r.records) / r.elapsed.Seconds() }
func (r readResult) mbps() float64 { return float64(r.bytes) / 1e6 / r.elapsed.Seconds() }

// bareKinesisRead reads the shard from TRIM_HORIZON with GetRecords (Limit 10,000), one call
// after the other, until the shard answers no records and MillisBehindLatest 0 after having
// returned some, or d has passed; the shard must hold exactly want records.
func (k *kinesisServer) bareKinesisRead(ctx context.Context, stream string, want int, d time.Duration) (readResult, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	shards, err := k.client.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		return readResult{}, fmt.Errorf("list shards: %w", err)
	}
	if len(shards.Shards) != 1 {
		return readResult{}, fmt.Errorf("stream %s has %d shards, want 1", stream, len(shards.Shards))
	}
	start := time.Now()
	it, err := k.client.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(stream),
		ShardId: shards.Shards[0].ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		return readResult{}, fmt.Errorf("get shard iterator: %w", err)
	}
	var r readResult
	iter := it.ShardIterator
	for iter != nil {
		out, err := k.client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(10000)})
		if err != nil {
			return r, fmt.Errorf("get records after %d records: %w", r.records, err)
		}
		r.calls++
		r.sizes = append(r.sizes, len(out.Records))
		for _, rec := range out.Records {
			r.records++
			r.bytes += int64(len(rec.Data))
		}
		if len(out.Records) == 0 && aws.ToInt64(out.MillisBehindLatest) == 0 && r.records > 0 {
			break
		}
		iter = out.NextShardIterator
	}
	// The last, empty answer is part of reading to the end, as it is for Hydrant.
	r.elapsed = time.Since(start)
	if r.records != want {
		return r, fmt.Errorf("read %d records, %d were put", r.records, want)
	}
	return r, nil
}
