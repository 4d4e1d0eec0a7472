package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hydrant-dev/hydrant/internal/server"
	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

func newServe(stderr io.Writer) *cobra.Command {
	var (
		metricsOff, insecureNoAuth                                                                                   bool
		configPath, listen, dataDir, region, account, logLevel, logFormat, pprofListen, objectStore, tlsCert, tlsKey string
		node, clusterListen, routes, natsURL                                                                         string
		replicas                                                                                                     int
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Firehose API and delivery on the embedded journal",
		Long: `Run the Firehose API (AWS JSON 1.1) on --listen, keeping records in an embedded
NATS JetStream journal under --data-dir and delivering them to the local directory
<data-dir>/s3/<bucket>/ (or a directory mapped in the config file), or to an S3-compatible
store: AWS_ENDPOINT_URL_S3=http://127.0.0.1:9000 hydrant serve sends every bucket there, with
credentials from the standard AWS chain.

The optional --config file is YAML or JSON; flags given on the command line override it.
AWS_REGION (or AWS_DEFAULT_REGION) sets the region when neither flag nor file does.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(configPath)
			if err != nil {
				return err
			}
			flags := cmd.Flags()
			if flags.Changed("listen") || cfg.Listen == "" {
				cfg.Listen = listen
			}
			if flags.Changed("data-dir") || cfg.DataDir == "" {
				cfg.DataDir = dataDir
			}
			if flags.Changed("region") {
				cfg.Region = region
			} else if cfg.Region == "" {
				cfg.Region = firstEnv("AWS_REGION", "AWS_DEFAULT_REGION")
			}
			if flags.Changed("account-id") || cfg.AccountID == "" {
				cfg.AccountID = account
			}
			if flags.Changed("object-store") {
				cfg.ObjectStore = objectStore
			} else if cfg.ObjectStore == "" && (cfg.S3.Endpoint != "" || firstEnv("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL") != "") {
				cfg.ObjectStore = server.StoreS3
			}
			if flags.Changed("metrics-off") {
				cfg.MetricsOff = metricsOff
			}
			if flags.Changed("pprof-listen") {
				cfg.PprofListen = pprofListen
			}
			if flags.Changed("insecure-no-auth") {
				cfg.InsecureNoAuth = insecureNoAuth
			}
			if flags.Changed("node") {
				cfg.Node = node
			}
			if flags.Changed("cluster-listen") {
				cfg.ClusterListen = clusterListen
			}
			if flags.Changed("routes") {
				cfg.Routes = splitList(routes)
			}
			if flags.Changed("replicas") {
				cfg.Replicas = replicas
			}
			if flags.Changed("nats-url") {
				cfg.NATSURL = natsURL
			}
			if flags.Changed("tls-cert") || flags.Changed("tls-key") {
				cfg.TLSCert, cfg.TLSKey = tlsCert, tlsKey
			}
			if configPath != "" {
				// SIGHUP reads the file again for its credentials (docs/design/auth.md).
				cfg.Reload = func() (server.Config, error) { return loadConfig(configPath) }
			}
			log, err := newLogger(stderr, logLevel, logFormat)
			if err != nil {
				return err
			}
			srv, err := server.New(cfg, log)
			if err != nil {
				if configPath != "" {
					return fmt.Errorf("configuration (%s and flags): %w", configPath, err)
				}
				return fmt.Errorf("configuration: %w", err)
			}
			return srv.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&configPath, "config", "", "YAML or JSON config file")
	f.StringVar(&listen, "listen", server.DefaultListen, "address of the Firehose API")
	f.StringVar(&dataDir, "data-dir", server.DefaultDataDir, "directory of the journal and the local destination")
	f.StringVar(&region, "region", "", "region in ARNs (default $AWS_REGION or "+server.DefaultRegion+")")
	f.StringVar(&account, "account-id", server.DefaultAccountID, "account id in ARNs")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&logFormat, "log-format", "text", "text or json")
	f.StringVar(&objectStore, "object-store", "", "where buckets live: local (<data-dir>/s3/<bucket>) or s3 (default: s3 when an S3 endpoint is configured, e.g. AWS_ENDPOINT_URL_S3)")
	f.BoolVar(&metricsOff, "metrics-off", false, "record no metrics (to measure their cost)")
	f.StringVar(&pprofListen, "pprof-listen", "", "serve Go runtime profiles (net/http/pprof) on host:port")
	f.StringVar(&node, "node", "", "this node's name in a cluster (docs/design/cluster.md)")
	f.StringVar(&clusterListen, "cluster-listen", "", "host:port on which this node accepts the other nodes' routes")
	f.StringVar(&routes, "routes", "", "comma-separated nats://host:port routes of the cluster's nodes; makes this server a cluster node")
	f.IntVar(&replicas, "replicas", 0, "copies of every stream and bucket in a cluster (default 3 with 3 or more routes, or with --nats-url)")
	f.StringVar(&natsURL, "nats-url", "", "comma-separated nats:// or tls:// URLs of an existing NATS JetStream cluster to keep the journal in, instead of embedding one (with --node; no --cluster-listen or --routes)")
	f.StringVar(&tlsCert, "tls-cert", "", "PEM certificate (chain) to serve HTTPS with; reloaded on SIGHUP")
	f.StringVar(&tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	f.BoolVar(&insecureNoAuth, "insecure-no-auth", false, "accept unauthenticated requests on a non-loopback --listen (without credentials in the config)")
	return cmd
}

// loadConfig reads a YAML or JSON config file; an empty path gives the zero Config.
func loadConfig(path string) (server.Config, error) {
	var cfg server.Config
	if path == "" {
		return cfg, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("read config: %w", err)
	}
	if err := yaml.UnmarshalStrict(b, &cfg); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
