package testenv

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// Kinds of Kinesis-compatible server, the values of Kinesis.Kind.
//
// Where each one differs from Kinesis (moto 5.2.1, kinesis-local 0.6.2, kinesalite 3.3.3;
// TestKinesisServers checks the behaviour the source tests rely on). In all three,
// ListShards exists, arrival times reach the SDK in milliseconds (the SDK also sends the
// AT_TIMESTAMP Timestamp in milliseconds) and AT_TIMESTAMP returns the records that arrived
// at or after it; UpdateShardCount or SplitShard 2 → 4 closes both parents and lists two
// children per parent, each with its ParentShardId and no AdjacentParentShardId. No server
// throttles (2,500 records into one shard in a burst are all accepted).
//
//   - moto: after any reshard PutRecords keeps routing to the closed parents (it picks the
//     first shard whose hash key range holds the key, closed or not), so the children stay
//     empty. UpdateShardCount accepts any target (1 → 3 too) and the stream never leaves
//     ACTIVE. GetRecords at the end of a closed shard keeps returning a NextShardIterator
//     and no ChildShards. AT_TIMESTAMP in the future returns no records instead of an
//     error. No 1 MiB limit on a record. Account 123456789012.
//   - kinesis-local (kinesis-mock compiled to JavaScript): closest to Kinesis. Resharding
//     passes through UPDATING; UpdateShardCount beyond twice the open shards fails with
//     InvalidArgumentException. GetRecords at the end of a closed shard returns ChildShards
//     and no NextShardIterator. AT_TIMESTAMP in the future: InvalidArgumentException.
//     Hash key ranges end one below Kinesis's (of two shards the second starts at 2^127-1).
//     PutRecords accepts more than 500 entries. Binds 0.0.0.0 with no host setting (a
//     preload forces 127.0.0.1); ≈ 1 s to start, ≈ 200 MB of memory. Account 000000000000.
//   - kinesalite: no UpdateShardCount (UnknownOperationException), so Reshard splits with
//     SplitShard. GetShardIterator AT_TIMESTAMP never answers when the shard holds no
//     record at or after the timestamp: put a record into every shard read that way, and
//     bound the call with a context. AT_TIMESTAMP in the future: InvalidArgumentException.
//     GetRecords at the end of a closed shard returns no NextShardIterator and no
//     ChildShards. Its command line binds ::, so a serve.js listens on 127.0.0.1.
//
// Common error codes: ResourceInUseException (CreateStream of an existing stream),
// ResourceNotFoundException (unknown stream), ValidationException (moto and kinesalite:
// more than 500 entries, a record over 1 MiB; kinesis-local answers InvalidArgumentException
// for the record size).
const (
	KindMoto         = "moto"
	KindKinesisLocal = "kinesis-local"
	KindKinesalite   = "kinesalite"
)

const (
	kinesisAccessKey = "hydrant"
	kinesisSecretKey = "hydrant-secret"
	kinesisRegion    = "us-east-1"
	// kinesisStartTimeout bounds how long a server may take to answer ListStreams.
	kinesisStartTimeout = 30 * time.Second
	// kinesisWaitTimeout bounds how long a stream may take to become ACTIVE.
	kinesisWaitTimeout = 20 * time.Second
	// putRecordsMax and putRecordsMaxBytes are the limits of one PutRecords request.
	putRecordsMax      = 500
	putRecordsMaxBytes = 5 << 20
	// putRecordsAttempts bounds how often PutRecords retries the entries that failed.
	putRecordsAttempts = 10
)

// Kinesis is a Kinesis-compatible server of one test, on 127.0.0.1.
type Kinesis struct {
	// Kind is KindMoto, KindKinesisLocal or KindKinesalite.
	Kind string
	// Endpoint is the server's URL, http://127.0.0.1:port.
	Endpoint string
	// Region is the region the client signs for, us-east-1.
	Region string
	// Client is an aws-sdk-go-v2 client of the server with static credentials and at most
	// three attempts per call.
	Client *kinesis.Client

	// splitOnly is set when the server lacks UpdateShardCount.
	splitOnly bool
	logPath   string

	mu     sync.Mutex
	cmd    *exec.Cmd
	out    *os.File
	exited chan struct{}
}

// KinesisServer names a function that starts a Kinesis-compatible server, for tests that
// run against each one.
type KinesisServer struct {
	Name  string
	Start func(t testing.TB) *Kinesis
}

// KinesisServers returns the three servers, for a table test:
//
//	for _, s := range testenv.KinesisServers() {
//		t.Run(s.Name, func(t *testing.T) { k := s.Start(t); ... })
//	}
func KinesisServers() []KinesisServer {
	return []KinesisServer{
		{Name: KindMoto, Start: StartMotoKinesis},
		{Name: KindKinesisLocal, Start: StartKinesisLocal},
		{Name: KindKinesalite, Start: StartKinesalite},
	}
}

// NPMDir returns the folder scripts/install-kinesis.sh installs npm packages into:
// $HYDRANT_NPM_DIR, else $XDG_CACHE_HOME/hydrant/npm, else ~/.cache/hydrant/npm.
func NPMDir() string {
	if d := os.Getenv("HYDRANT_NPM_DIR"); d != "" {
		return d
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "hydrant", "npm")
}

// npmPackage returns the folder of an installed npm package, or skips the test (fails it
// under RequireTools) when node or the package is missing.
func npmPackage(t testing.TB, name string) string {
	t.Helper()
	dir := filepath.Join(NPMDir(), "node_modules", name)
	_, err := os.Stat(filepath.Join(dir, "package.json"))
	if _, nodeErr := exec.LookPath("node"); err != nil || nodeErr != nil {
		missingTool(t, fmt.Sprintf("node or npm package %s not found in %s (run scripts/install-kinesis.sh)", name, NPMDir()))
	}
	return dir
}

func missingTool(t testing.TB, reason string) {
	t.Helper()
	if RequireTools() {
		t.Fatal(reason)
	}
	t.Skip(reason)
}

// StartMotoKinesis starts moto's server (moto_server, preinstalled) and stops it when the
// test ends. Without moto_server it skips the test, or fails it under RequireTools.
func StartMotoKinesis(t testing.TB) *Kinesis {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		missingTool(t, "moto_server not found (pip install 'moto[server]')")
	}
	return startKinesis(t, KindMoto, func(addr string) *exec.Cmd {
		host, port, _ := strings.Cut(addr, ":")
		return exec.Command(bin, "-H", host, "-p", port)
	})
}

// StartKinesisLocal starts kinesis-local (kinesis-mock compiled to JavaScript) from
// HYDRANT_NPM_DIR and stops it when the test ends. Without node or the package it skips the
// test, or fails it under RequireTools.
func StartKinesisLocal(t testing.TB) *Kinesis {
	t.Helper()
	pkg := npmPackage(t, "kinesis-local")
	dir := t.TempDir()
	// kinesis-mock listens on 0.0.0.0 and has no host setting: force every server onto
	// the loopback interface before main.js runs.
	preload := filepath.Join(dir, "loopback.js")
	writeFile(t, preload, `const net = require('net');
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
`)
	return startKinesis(t, KindKinesisLocal, func(addr string) *exec.Cmd {
		_, port, _ := strings.Cut(addr, ":")
		_, tlsPort, _ := strings.Cut(freeAddr(t), ":")
		cmd := exec.Command("node", "-r", preload, filepath.Join(pkg, "main.js"))
		cmd.Dir = dir
		cmd.Env = append(os.Environ(),
			"KINESIS_MOCK_PLAIN_PORT="+port,
			"KINESIS_MOCK_TLS_PORT="+tlsPort,
			"KINESIS_MOCK_CERT_PATH="+filepath.Join(pkg, "server.json"),
			"AWS_REGION="+kinesisRegion,
			"CREATE_STREAM_DURATION=50ms",
			"DELETE_STREAM_DURATION=50ms",
			"UPDATE_SHARD_COUNT_DURATION=50ms",
			"SPLIT_SHARD_DURATION=50ms",
			"MERGE_SHARDS_DURATION=50ms",
			"SHARD_LIMIT=100",
			"SHOULD_PERSIST_DATA=false",
			"LOG_LEVEL=WARN",
		)
		return cmd
	})
}

// StartKinesalite starts kinesalite from HYDRANT_NPM_DIR with an in-memory store and stops
// it when the test ends. Without node or the package it skips the test, or fails it under
// RequireTools.
func StartKinesalite(t testing.TB) *Kinesis {
	t.Helper()
	pkg := npmPackage(t, "kinesalite")
	dir := t.TempDir()
	serve := filepath.Join(dir, "serve.js")
	// kinesalite's command line binds ::, so listen on 127.0.0.1 from a script.
	writeFile(t, serve, fmt.Sprintf(`const kinesalite = require(%q);
const port = Number(process.argv[2]);
kinesalite({createStreamMs: 50, updateStreamMs: 50, deleteStreamMs: 50, shardLimit: 100})
  .listen(port, '127.0.0.1', (err) => { if (err) { console.error(err); process.exit(1); } });
`, pkg))
	k := startKinesis(t, KindKinesalite, func(addr string) *exec.Cmd {
		_, port, _ := strings.Cut(addr, ":")
		return exec.Command("node", serve, port)
	})
	k.splitOnly = true
	return k
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
}

// startKinesis runs the command that cmd builds for a free loopback address, with its output in
// a log file, waits until the server answers ListStreams, and kills it when the test ends. A
// server that exits at once (another process took the port in between) is started again on
// another port, three times at most.
func startKinesis(t testing.TB, kind string, cmd func(addr string) *exec.Cmd) *Kinesis {
	t.Helper()
	var err error
	for attempt := 1; ; attempt++ {
		var k *Kinesis
		k, err = tryKinesis(t, kind, freeAddr(t), cmd)
		if err == nil {
			return k
		}
		if attempt == 3 {
			t.Fatalf("start %s: %v", kind, err)
		}
		t.Logf("start %s failed, trying another port: %v", kind, err)
	}
}

func tryKinesis(t testing.TB, kind, addr string, build func(addr string) *exec.Cmd) (*Kinesis, error) {
	t.Helper()
	cmd := build(addr)
	endpoint := "http://" + addr
	k := &Kinesis{
		Kind:     kind,
		Endpoint: endpoint,
		Region:   kinesisRegion,
		Client: kinesis.New(kinesis.Options{
			BaseEndpoint:     aws.String(endpoint),
			Region:           kinesisRegion,
			Credentials:      credentials.NewStaticCredentialsProvider(kinesisAccessKey, kinesisSecretKey, ""),
			RetryMaxAttempts: 3,
		}),
		logPath: filepath.Join(t.TempDir(), kind+".log"),
	}
	if err := k.start(cmd); err != nil {
		return nil, fmt.Errorf("%w\n%s", err, k.logTail())
	}
	t.Cleanup(func() {
		k.stop()
		if t.Failed() {
			t.Logf("%s log (tail):\n%s", kind, k.logTail())
		}
	})
	return k, nil
}

func (k *Kinesis) start(cmd *exec.Cmd) error {
	out, err := os.OpenFile(k.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("run %s: %w", cmd.Path, err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()

	deadline := time.Now().Add(kinesisStartTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			out.Close()
			return fmt.Errorf("%s exited: %v", k.Kind, waitErr)
		default:
		}
		if k.ready() {
			k.mu.Lock()
			k.cmd, k.out, k.exited = cmd, out, exited
			k.mu.Unlock()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Kill()
	<-exited
	out.Close()
	return fmt.Errorf("%s does not answer ListStreams after %v", k.Kind, kinesisStartTimeout)
}

func (k *Kinesis) ready() bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := k.Client.ListStreams(ctx, &kinesis.ListStreamsInput{}, func(o *kinesis.Options) { o.RetryMaxAttempts = 1 })
	return err == nil
}

// stop kills the server and waits until it has exited.
func (k *Kinesis) stop() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cmd == nil {
		return
	}
	k.cmd.Process.Kill()
	<-k.exited
	k.out.Close()
	k.cmd, k.out, k.exited = nil, nil, nil
}

func (k *Kinesis) logTail() string {
	b, _ := os.ReadFile(k.logPath)
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}

// CreateStream creates a provisioned stream of shards shards, waits until it is ACTIVE and
// returns its ARN.
func (k *Kinesis) CreateStream(t testing.TB, name string, shards int) (arn string) {
	t.Helper()
	ctx := context.Background()
	_, err := k.Client.CreateStream(ctx, &kinesis.CreateStreamInput{
		StreamName: aws.String(name),
		ShardCount: aws.Int32(int32(shards)),
	})
	if err != nil {
		t.Fatalf("%s: create stream %s: %v", k.Kind, name, err)
	}
	sum, err := k.waitActive(ctx, name)
	if err != nil {
		t.Fatalf("%s: create stream %s: %v", k.Kind, name, err)
	}
	return aws.ToString(sum.StreamARN)
}

// waitActive polls the stream until it is ACTIVE.
func (k *Kinesis) waitActive(ctx context.Context, name string) (*types.StreamDescriptionSummary, error) {
	deadline := time.Now().Add(kinesisWaitTimeout)
	for {
		out, err := k.Client.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err == nil && out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			return out.StreamDescriptionSummary, nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return nil, fmt.Errorf("wait for ACTIVE: %w", err)
			}
			return nil, fmt.Errorf("wait for ACTIVE: still %s after %v", out.StreamDescriptionSummary.StreamStatus, kinesisWaitTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// PutRecords puts records into stream, record i with partition key partitionKeys[i] (the
// decimal index i when partitionKeys is nil), in requests of at most 500 records and 5 MiB,
// retrying the entries that failed a bounded number of times.
func (k *Kinesis) PutRecords(t testing.TB, stream string, records [][]byte, partitionKeys []string) {
	t.Helper()
	if partitionKeys != nil && len(partitionKeys) != len(records) {
		t.Fatalf("%s: put records: %d records but %d partition keys", k.Kind, len(records), len(partitionKeys))
	}
	entries := make([]types.PutRecordsRequestEntry, len(records))
	for i, data := range records {
		pk := strconv.Itoa(i)
		if partitionKeys != nil {
			pk = partitionKeys[i]
		}
		entries[i] = types.PutRecordsRequestEntry{Data: data, PartitionKey: aws.String(pk)}
	}
	for len(entries) > 0 {
		n, size := 0, 0
		for n < len(entries) && n < putRecordsMax {
			s := len(entries[n].Data) + len(aws.ToString(entries[n].PartitionKey))
			if n > 0 && size+s > putRecordsMaxBytes {
				break
			}
			size += s
			n++
		}
		if err := k.putChunk(context.Background(), stream, entries[:n]); err != nil {
			t.Fatalf("%s: put records into %s: %v", k.Kind, stream, err)
		}
		entries = entries[n:]
	}
}

// putChunk puts the entries of one request, retrying those that fail.
func (k *Kinesis) putChunk(ctx context.Context, stream string, entries []types.PutRecordsRequestEntry) error {
	backoff := 20 * time.Millisecond
	for attempt := 1; ; attempt++ {
		out, err := k.Client.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries})
		if err != nil {
			return err
		}
		if aws.ToInt32(out.FailedRecordCount) == 0 {
			return nil
		}
		var failed []types.PutRecordsRequestEntry
		var lastErr string
		for i, r := range out.Records {
			if r.ErrorCode != nil {
				failed = append(failed, entries[i])
				lastErr = aws.ToString(r.ErrorCode) + ": " + aws.ToString(r.ErrorMessage)
			}
		}
		if attempt == putRecordsAttempts {
			return fmt.Errorf("%d records still failing after %d attempts, last %s", len(failed), attempt, lastErr)
		}
		entries = failed
		time.Sleep(backoff)
		backoff = min(2*backoff, time.Second)
	}
}

// Reshard changes the number of open shards of stream to target and waits until the stream
// is ACTIVE. It calls UpdateShardCount with UNIFORM_SCALING where the server has it; on
// kinesalite it splits every open shard at the middle of its hash key range, one SplitShard
// at a time, until target shards are open, so only growth by doubling is supported there.
func (k *Kinesis) Reshard(t testing.TB, stream string, target int) {
	t.Helper()
	ctx := context.Background()
	if !k.splitOnly {
		_, err := k.Client.UpdateShardCount(ctx, &kinesis.UpdateShardCountInput{
			StreamName:       aws.String(stream),
			TargetShardCount: aws.Int32(int32(target)),
			ScalingType:      types.ScalingTypeUniformScaling,
		})
		if err != nil {
			t.Fatalf("%s: update shard count of %s to %d: %v", k.Kind, stream, target, err)
		}
		if _, err := k.waitActive(ctx, stream); err != nil {
			t.Fatalf("%s: update shard count of %s to %d: %v", k.Kind, stream, target, err)
		}
		return
	}
	if err := k.splitTo(ctx, stream, target); err != nil {
		t.Fatalf("%s: reshard %s to %d: %v", k.Kind, stream, target, err)
	}
}

// splitTo doubles the open shards of stream until target are open.
func (k *Kinesis) splitTo(ctx context.Context, stream string, target int) error {
	for {
		shards, err := k.listShards(ctx, stream)
		if err != nil {
			return err
		}
		open := openShards(shards)
		switch {
		case len(open) == target:
			return nil
		case len(open) > target || target%len(open) != 0:
			return fmt.Errorf("only growth by doubling is supported: %d open shards", len(open))
		}
		for _, s := range open {
			mid, err := midHashKey(s.HashKeyRange)
			if err != nil {
				return fmt.Errorf("split %s: %w", aws.ToString(s.ShardId), err)
			}
			_, err = k.Client.SplitShard(ctx, &kinesis.SplitShardInput{
				StreamName:         aws.String(stream),
				ShardToSplit:       s.ShardId,
				NewStartingHashKey: aws.String(mid),
			})
			if err != nil {
				return fmt.Errorf("split %s: %w", aws.ToString(s.ShardId), err)
			}
			if _, err := k.waitActive(ctx, stream); err != nil {
				return fmt.Errorf("split %s: %w", aws.ToString(s.ShardId), err)
			}
		}
	}
}

// midHashKey returns the first hash key of the upper half of r.
func midHashKey(r *types.HashKeyRange) (string, error) {
	if r == nil {
		return "", errors.New("no hash key range")
	}
	lo, ok1 := new(big.Int).SetString(aws.ToString(r.StartingHashKey), 10)
	hi, ok2 := new(big.Int).SetString(aws.ToString(r.EndingHashKey), 10)
	if !ok1 || !ok2 || hi.Cmp(lo) <= 0 {
		return "", fmt.Errorf("hash key range %s..%s cannot be split", aws.ToString(r.StartingHashKey), aws.ToString(r.EndingHashKey))
	}
	mid := new(big.Int).Add(lo, hi)
	mid.Rsh(mid, 1)
	return mid.Add(mid, big.NewInt(1)).String(), nil
}

// Shards returns every shard of stream, open and closed, in ListShards order.
func (k *Kinesis) Shards(t testing.TB, stream string) []types.Shard {
	t.Helper()
	shards, err := k.listShards(context.Background(), stream)
	if err != nil {
		t.Fatalf("%s: %v", k.Kind, err)
	}
	return shards
}

// OpenShards returns the shards of stream that are open (no ending sequence number).
func (k *Kinesis) OpenShards(t testing.TB, stream string) []types.Shard {
	t.Helper()
	return openShards(k.Shards(t, stream))
}

func (k *Kinesis) listShards(ctx context.Context, stream string) ([]types.Shard, error) {
	var shards []types.Shard
	in := &kinesis.ListShardsInput{StreamName: aws.String(stream)}
	for {
		out, err := k.Client.ListShards(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list shards of %s: %w", stream, err)
		}
		shards = append(shards, out.Shards...)
		if out.NextToken == nil {
			return shards, nil
		}
		// A request with NextToken must not name the stream.
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
}

func openShards(shards []types.Shard) []types.Shard {
	var open []types.Shard
	for _, s := range shards {
		if s.SequenceNumberRange == nil || s.SequenceNumberRange.EndingSequenceNumber == nil {
			open = append(open, s)
		}
	}
	return open
}
