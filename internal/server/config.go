package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"time"

	"github.com/hydrant-dev/hydrant/internal/auth"
	"github.com/hydrant-dev/hydrant/internal/delivery"
	"github.com/hydrant-dev/hydrant/internal/destination/s3"
	"github.com/hydrant-dev/hydrant/internal/journal"
	"github.com/hydrant-dev/hydrant/internal/listen"
	"github.com/hydrant-dev/hydrant/internal/metrics"
	"github.com/hydrant-dev/hydrant/internal/processor/lambda"
	"github.com/hydrant-dev/hydrant/internal/source/kafka"
	"github.com/hydrant-dev/hydrant/internal/source/kinesis"
)

// Config is the server's configuration. Flags and the YAML config file fill it.
type Config struct {
	// Listen is the address of the Firehose API, default 127.0.0.1:4573.
	Listen string `json:"listen"`
	// DataDir holds the journal and the local-directory destination, default ./hydrant-data.
	DataDir string `json:"dataDir"`
	// Region and AccountID appear in ARNs, default us-east-1 and 000000000000.
	Region    string `json:"region"`
	AccountID string `json:"accountId"`
	// ObjectStore is where buckets live by default: "local" (directories under DataDir/s3)
	// or "s3" (an S3-compatible store, configured by S3 and the standard AWS environment).
	// Empty means "local"; the serve command picks "s3" when an S3 endpoint is configured.
	ObjectStore string `json:"objectStore"`
	// S3 configures the S3-compatible object store.
	S3 s3.Config `json:"s3"`
	// Buckets places single buckets: in a directory of their own, or in S3 with settings of
	// their own.
	Buckets map[string]BucketConfig `json:"buckets"`
	// Kinesis says how the Kinesis stream of a KinesisStreamAsSource stream is reached, by
	// stream ARN ("*" for every stream without an entry); without an entry the standard AWS
	// chain applies (AWS_ENDPOINT_URL_KINESIS, profiles, roles).
	Kinesis map[string]kinesis.ClientConfig `json:"kinesis"`
	// Kafka maps the MSKClusterARN of MSKAsSource streams to the Kafka cluster's bootstrap
	// brokers, TLS and SASL settings.
	Kafka map[string]kafka.ClusterConfig `json:"kafka"`
	// MaxStreams is the number of delivery streams allowed, default 5,000 as in AWS.
	MaxStreams int `json:"maxStreams"`
	// Streams are CreateDeliveryStream inputs created at start when missing.
	Streams []json.RawMessage `json:"streams"`
	// Lambda says how the functions of Lambda processors are reached: an Invoke API endpoint
	// (AWS by default) or a plain URL per function.
	Lambda lambda.Config `json:"lambda"`
	// MaxBufferBytes bounds the bytes one stream holds in its open buffers (default 256 MiB);
	// beyond it the largest buffer is written early. With dynamic partitioning each of up to
	// MaxActivePartitions buffers may otherwise grow to SizeInMBs.
	MaxBufferBytes int `json:"maxBufferBytes"`
	// MemoryBudget bounds the bytes that request bodies being read, decoded batches, delivery
	// buffers and journal read-ahead hold together (default 128 MiB, at least 64 MiB); over it,
	// puts are refused with ServiceUnavailableException "Slow down." (docs/design/memory.md).
	MemoryBudget int64 `json:"memoryBudget"`
	// MaxActivePartitions bounds the open partition buffers of a dynamically partitioned
	// stream, default 500 as in AWS; records beyond go to the error output.
	MaxActivePartitions int `json:"maxActivePartitions"`
	// WritesPerStream bounds the object writes in flight of one stream (default 4); Writes
	// bounds them in the whole process (default 32).
	WritesPerStream int `json:"writesPerStream"`
	Writes          int `json:"writes"`
	// HTTPEndpoint configures delivery to HTTP endpoint destinations: the request timeout,
	// extra trusted certificates, and whether http:// URLs are allowed.
	HTTPEndpoint HTTPEndpointConfig `json:"httpEndpoint"`
	// Faults are failures injected into the puts of named streams (beyond AWS, for testing
	// producers' retries).
	Faults map[string]Faults `json:"faults"`
	// MetricsOff stops recording metrics (for measuring their cost; the APIs answer empty).
	MetricsOff bool `json:"metricsOff"`
	// MetricsRetention is how long the one-minute metrics are kept, default 24h.
	MetricsRetention Duration `json:"metricsRetention"`
	// Retention is how long undelivered records are kept, default 24h as in AWS.
	Retention Duration `json:"retention"`
	// MaxStreamBytes bounds each stream's journal; a full journal refuses puts with
	// ServiceUnavailableException. -1 means no bound but the disk.
	MaxStreamBytes int64 `json:"maxStreamBytes"`
	// MaxStoreBytes bounds the whole journal store (records, delivery state, catalog); -1 or 0
	// means no bound but the file system. ReservedBytes is the room within it kept for delivery
	// state, intents and the catalog (0: an eighth of the bound, at most 64 MiB); record appends
	// are refused before they would take it (docs/design/journal.md, "Space").
	MaxStoreBytes int64 `json:"maxStoreBytes"`
	ReservedBytes int64 `json:"reservedBytes"`
	// Node, ClusterListen and Routes make this server a node of a cluster (docs/design/cluster.md):
	// its name, the host:port of its route listener, and the nats://host:port routes of the
	// cluster's nodes. Replicas is the copies of every stream and bucket (default 3 with 3 or
	// more routes).
	Node          string   `json:"node"`
	ClusterListen string   `json:"clusterListen"`
	Routes        []string `json:"routes"`
	Replicas      int      `json:"replicas"`
	// NATSURL, instead of ClusterListen and Routes, makes the node a client of an existing NATS
	// JetStream deployment (comma-separated nats:// or tls:// URLs): no NATS server is embedded,
	// and every node of the Hydrant cluster gives the same URLs (docs/design/cluster.md).
	NATSURL string `json:"natsURL"`
	// NATSListen, when set, exposes the embedded NATS server on host:port.
	NATSListen string `json:"natsListen"`
	// PprofListen, when set, serves Go's net/http/pprof profiles on host:port.
	PprofListen string `json:"pprofListen"`
	// Journal tunes the record log; the fields above are copied into it.
	Journal journal.Config `json:"-"`

	// Credentials, when any is given, are the keys every request must be signed with (SigV4)
	// and what each may do (docs/design/auth.md). None: every request is accepted, and the
	// server listens on loopback only unless InsecureNoAuth.
	Credentials []auth.Credential `json:"credentials"`
	// InsecureNoAuth lets a server without credentials listen on a non-loopback address.
	InsecureNoAuth bool `json:"insecureNoAuth"`
	// TLSCert and TLSKey, together, serve HTTPS (HTTP/2 and HTTP/1.1); both are reloaded on
	// SIGHUP.
	TLSCert string `json:"tlsCert"`
	TLSKey  string `json:"tlsKey"`
	// ReadHeaderTimeout, ReadTimeout and IdleTimeout bound what a client holds of a connection
	// (defaults 10 s, 60 s, 120 s); MaxConcurrentRequests bounds the requests served at once
	// (default 512; beyond it "Slow down.").
	ReadHeaderTimeout     Duration `json:"readHeaderTimeout"`
	ReadTimeout           Duration `json:"readTimeout"`
	IdleTimeout           Duration `json:"idleTimeout"`
	MaxConcurrentRequests int      `json:"maxConcurrentRequests"`
	// Reload reads the configuration again on SIGHUP; its credentials replace the ones in
	// force (nil: SIGHUP reloads only the TLS certificate).
	Reload func() (Config, error) `json:"-"`
}

// listenConfig is the listener's part of the configuration.
func (c Config) listenConfig() listen.Config {
	return listen.Config{
		ReadHeaderTimeout: time.Duration(c.ReadHeaderTimeout), ReadTimeout: time.Duration(c.ReadTimeout),
		IdleTimeout: time.Duration(c.IdleTimeout), MaxConcurrent: c.MaxConcurrentRequests,
	}.WithDefaults()
}

// Duration is a time.Duration written as a Go duration string ("24h") in config files.
type Duration time.Duration

// UnmarshalJSON reads "90s", "24h" and the like.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"24h\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// Defaults of Config.
const (
	DefaultListen    = "127.0.0.1:4573"
	DefaultDataDir   = "./hydrant-data"
	DefaultRegion    = "us-east-1"
	DefaultAccountID = "000000000000"
	// DefaultMemoryBudget suits a 2-core machine with a few GiB (docs/design/memory.md).
	DefaultMemoryBudget = 128 << 20
	// MinMemoryBudget admits the largest request (twice api.MaxBodyBytes) with room beside it
	// for a journal reader's smallest read-ahead and a delivery buffer.
	MinMemoryBudget = 64 << 20
)

// WithDefaults returns c with empty fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.Region == "" {
		c.Region = DefaultRegion
	}
	if c.AccountID == "" {
		c.AccountID = DefaultAccountID
	}
	if c.ObjectStore == "" {
		c.ObjectStore = StoreLocal
	}
	if c.MaxBufferBytes == 0 {
		c.MaxBufferBytes = 256 << 20
	}
	if c.MemoryBudget == 0 {
		c.MemoryBudget = DefaultMemoryBudget
	}
	if c.MaxActivePartitions == 0 {
		c.MaxActivePartitions = 500
	}
	if c.WritesPerStream == 0 {
		c.WritesPerStream = delivery.DefaultWritesPerStream
	}
	if c.Writes == 0 {
		c.Writes = delivery.DefaultWrites
	}
	if c.MaxStreams == 0 {
		c.MaxStreams = 5000
	}
	if c.Journal.Dir == "" {
		c.Journal.Dir = filepath.Join(c.DataDir, "journal")
	}
	if c.Retention != 0 {
		c.Journal.Retention = time.Duration(c.Retention)
	}
	if c.MaxStreamBytes != 0 {
		c.Journal.MaxBytesPerStream = c.MaxStreamBytes
	}
	if c.MaxStoreBytes != 0 {
		c.Journal.MaxStoreBytes = c.MaxStoreBytes
	}
	if c.ReservedBytes != 0 {
		c.Journal.ReservedBytes = c.ReservedBytes
	}
	if c.NATSListen != "" {
		c.Journal.Listen = c.NATSListen
	}
	if len(c.Routes) > 0 || c.NATSURL != "" {
		c.Journal.Cluster = journal.ClusterConfig{Node: c.Node, Listen: c.ClusterListen, Routes: c.Routes, Replicas: c.Replicas, URL: c.NATSURL}
	} else if c.Replicas != 0 {
		c.Journal.Cluster.Replicas = c.Replicas
	}
	c.Journal = c.Journal.WithDefaults()
	// A reader's read-ahead is at most a sixteenth of the budget, and at least one message.
	c.Journal.ReadAheadBytes = max(c.Journal.MaxMessageBytes, min(c.Journal.ReadAheadBytes, int(c.MemoryBudget/16)))
	return c
}

var (
	accountPattern = regexp.MustCompile(`^\d{12}$`)
	regionPattern  = regexp.MustCompile(`^[a-z0-9-]+$`)
)

// Validate checks the configuration; messages name the field and the bound.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen %q: must be host:port: %w", c.Listen, err))
	}
	if !accountPattern.MatchString(c.AccountID) {
		errs = append(errs, fmt.Errorf("accountId %q: must be 12 digits", c.AccountID))
	}
	if !regionPattern.MatchString(c.Region) {
		errs = append(errs, fmt.Errorf("region %q: must be lower-case letters, digits and dashes", c.Region))
	}
	if c.MaxStreams < 1 {
		errs = append(errs, fmt.Errorf("maxStreams %d: must be at least 1", c.MaxStreams))
	}
	if c.ObjectStore != StoreLocal && c.ObjectStore != StoreS3 {
		errs = append(errs, fmt.Errorf("objectStore %q: must be %q or %q", c.ObjectStore, StoreLocal, StoreS3))
	}
	for name, b := range c.Buckets {
		if name == "" {
			errs = append(errs, errors.New("buckets: a bucket name is empty"))
		}
		if b.Dir != "" && b.s3Overrides() {
			errs = append(errs, fmt.Errorf("buckets.%s: dir and S3 settings are exclusive", name))
		}
	}
	if err := c.HTTPEndpoint.options().Validate(); err != nil {
		errs = append(errs, err)
	}
	for arn, k := range c.Kinesis {
		if err := k.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("kinesis.%s: %w", arn, err))
		}
	}
	for arn, k := range c.Kafka {
		if err := k.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("kafka.%s: %w", arn, err))
		}
	}
	for name, f := range c.Faults {
		if err := f.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("faults.%s: %w", name, err))
		}
	}
	if c.MaxBufferBytes < 1<<20 {
		errs = append(errs, fmt.Errorf("maxBufferBytes %d: must be at least 1 MiB", c.MaxBufferBytes))
	}
	if c.MemoryBudget < MinMemoryBudget {
		errs = append(errs, fmt.Errorf("memoryBudget %d: must be at least %d (64 MiB)", c.MemoryBudget, MinMemoryBudget))
	}
	if c.MaxActivePartitions < 1 || c.MaxActivePartitions > 100000 {
		errs = append(errs, fmt.Errorf("maxActivePartitions %d: must be between 1 and 100000", c.MaxActivePartitions))
	}
	if c.WritesPerStream < 1 || c.WritesPerStream > 64 {
		errs = append(errs, fmt.Errorf("writesPerStream %d: must be between 1 and 64", c.WritesPerStream))
	}
	if c.Writes < c.WritesPerStream || c.Writes > 4096 {
		errs = append(errs, fmt.Errorf("writes %d: must be between writesPerStream (%d) and 4096", c.Writes, c.WritesPerStream))
	}
	if err := (metrics.Config{Retention: time.Duration(c.MetricsRetention)}).Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Lambda.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("lambda: %w", err))
	}
	if err := c.S3.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("s3: %w", err))
	}
	if err := c.Journal.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("journal: %w", err))
	}
	if err := c.listenConfig().Validate(); err != nil {
		errs = append(errs, err)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("tlsCert and tlsKey: give both or neither"))
	}
	if _, err := auth.Compile(c.Credentials); err != nil {
		errs = append(errs, err)
	}
	if len(c.Credentials) == 0 && !c.InsecureNoAuth && !listen.IsLoopback(c.Listen) {
		errs = append(errs, fmt.Errorf("refusing to serve %s without authentication: configure credentials, or pass --insecure-no-auth (insecureNoAuth: true) to accept unauthenticated requests from the network", c.Listen))
	}
	return errors.Join(errs...)
}
