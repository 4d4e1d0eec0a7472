package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/hydrant-dev/hydrant/internal/source"
)

// ErrInvalidConfig reports a configuration that cannot work; the message names the field.
var ErrInvalidConfig = errors.New("invalid kafka source config")

// SASL mechanisms, as written in the config file.
const (
	MechanismPlain       = "PLAIN"
	MechanismScramSHA256 = "SCRAM-SHA-256"
	MechanismScramSHA512 = "SCRAM-SHA-512"
)

// DefaultMetadataEvery is how often the topic's partitions are listed, to find new ones.
const DefaultMetadataEvery = 10 * time.Second

// ClusterConfig is one MSKClusterARN's entry in the config file: how to reach the cluster.
type ClusterConfig struct {
	// BootstrapBrokers are host:port addresses of some of the cluster's brokers.
	BootstrapBrokers []string `json:"bootstrapBrokers"`
	// TLS, when set and enabled, encrypts the connections.
	TLS *TLSConfig `json:"tls,omitempty"`
	// SASL, when set, authenticates the connections.
	SASL *SASLConfig `json:"sasl,omitempty"`
}

// TLSConfig configures TLS to the brokers: the system's roots plus CAFile's certificates.
type TLSConfig struct {
	Enabled bool `json:"enabled"`
	// CAFile is a PEM file of further certificate authorities to trust.
	CAFile string `json:"caFile,omitempty"`
	// ServerName overrides the name checked in the brokers' certificates.
	ServerName string `json:"serverName,omitempty"`
}

// SASLConfig configures SASL authentication: Mechanism is PLAIN, SCRAM-SHA-256 or
// SCRAM-SHA-512; the password is Password or the content of PasswordFile (read once, by New,
// without a final newline).
type SASLConfig struct {
	Mechanism    string `json:"mechanism"`
	Username     string `json:"username"`
	Password     string `json:"password,omitempty"`
	PasswordFile string `json:"passwordFile,omitempty"`
}

// Validate reports the first field that cannot work, wrapping ErrInvalidConfig.
func (c ClusterConfig) Validate() error {
	if len(c.BootstrapBrokers) == 0 {
		return fmt.Errorf("%w: bootstrapBrokers: at least one broker is required", ErrInvalidConfig)
	}
	for i, b := range c.BootstrapBrokers {
		host, port, err := net.SplitHostPort(b)
		if err != nil || host == "" || port == "" {
			return fmt.Errorf("%w: bootstrapBrokers[%d]: %q is not host:port", ErrInvalidConfig, i, b)
		}
	}
	if s := c.SASL; s != nil {
		switch s.Mechanism {
		case MechanismPlain, MechanismScramSHA256, MechanismScramSHA512:
		default:
			return fmt.Errorf("%w: sasl.mechanism: %q is not one of %s, %s, %s", ErrInvalidConfig,
				s.Mechanism, MechanismPlain, MechanismScramSHA256, MechanismScramSHA512)
		}
		if s.Username == "" {
			return fmt.Errorf("%w: sasl.username: required", ErrInvalidConfig)
		}
		if (s.Password == "") == (s.PasswordFile == "") {
			return fmt.Errorf("%w: sasl: exactly one of password and passwordFile is required", ErrInvalidConfig)
		}
	}
	if t := c.TLS; t != nil && !t.Enabled && (t.CAFile != "" || t.ServerName != "") {
		return fmt.Errorf("%w: tls: caFile or serverName given but enabled is false", ErrInvalidConfig)
	}
	return nil
}

// Config configures a Reader.
type Config struct {
	// Stream is the delivery stream's name: the metrics' dimension and the consumer group
	// hydrant-<Stream> that offsets are committed to.
	Stream string
	// ClusterARN and Topic are MSKSourceConfiguration's MSKClusterARN and TopicName.
	ClusterARN, Topic string
	// Cluster is how to reach ClusterARN.
	Cluster ClusterConfig
	// ReadFrom is where a partition without a saved position starts: its first record with a
	// timestamp at or after ReadFrom. The Unix epoch (or any earlier time) means the earliest.
	ReadFrom time.Time
	// MetadataEvery is how often partitions are listed; DefaultMetadataEvery when zero.
	MetadataEvery time.Duration
	// Now and Sleep are the clock; nil means the real one.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// Validate reports the first field that cannot work, wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	switch {
	case c.Stream == "":
		return fmt.Errorf("%w: stream: required", ErrInvalidConfig)
	case c.ClusterARN == "":
		return fmt.Errorf("%w: clusterARN: required", ErrInvalidConfig)
	case c.Topic == "":
		return fmt.Errorf("%w: topic: required", ErrInvalidConfig)
	case c.MetadataEvery < 0:
		return fmt.Errorf("%w: metadataEvery: %v is negative", ErrInvalidConfig, c.MetadataEvery)
	}
	return c.Cluster.Validate()
}

func (c Config) withDefaults() Config {
	if c.MetadataEvery == 0 {
		c.MetadataEvery = DefaultMetadataEvery
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Sleep == nil {
		c.Sleep = sleep
	}
	return c
}

func sleep(ctx context.Context, d time.Duration) error { return source.Sleep(ctx, d) }

// clientOpts returns the franz-go options that reach and authenticate to the cluster. It reads
// the CA and password files.
func (c ClusterConfig) clientOpts(log *slog.Logger) ([]kgo.Opt, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.BootstrapBrokers...),
		kgo.WithLogger(kgoLogger{log}),
		kgo.DialTimeout(10 * time.Second),
		kgo.RequestTimeoutOverhead(10 * time.Second),
	}
	if t := c.TLS; t != nil && t.Enabled {
		roots, err := x509.SystemCertPool()
		if err != nil {
			roots = x509.NewCertPool()
		}
		if t.CAFile != "" {
			pem, err := os.ReadFile(t.CAFile)
			if err != nil {
				return nil, fmt.Errorf("%w: tls.caFile: %w", ErrInvalidConfig, err)
			}
			if !roots.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("%w: tls.caFile: no PEM certificate in %s", ErrInvalidConfig, t.CAFile)
			}
		}
		opts = append(opts, kgo.DialTLSConfig(&tls.Config{
			MinVersion: tls.VersionTLS12,
			RootCAs:    roots,
			ServerName: t.ServerName,
		}))
	}
	if s := c.SASL; s != nil {
		pass := s.Password
		if s.PasswordFile != "" {
			b, err := os.ReadFile(s.PasswordFile)
			if err != nil {
				return nil, fmt.Errorf("%w: sasl.passwordFile: %w", ErrInvalidConfig, err)
			}
			pass = strings.TrimRight(string(b), "\r\n")
		}
		var m sasl.Mechanism
		switch s.Mechanism {
		case MechanismPlain:
			m = plain.Auth{User: s.Username, Pass: pass}.AsMechanism()
		case MechanismScramSHA256:
			m = scram.Auth{User: s.Username, Pass: pass}.AsSha256Mechanism()
		case MechanismScramSHA512:
			m = scram.Auth{User: s.Username, Pass: pass}.AsSha512Mechanism()
		}
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

// kgoLogger passes franz-go's warnings and errors to slog.
type kgoLogger struct{ log *slog.Logger }

func (l kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (l kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lv := slog.LevelWarn
	if level == kgo.LogLevelError {
		lv = slog.LevelError
	}
	l.log.Log(context.Background(), lv, "kafka client", append([]any{"event", msg}, keyvals...)...)
}
