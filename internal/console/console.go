// Package console serves Hydrant's web console: a page listing the delivery streams with their
// live rates (and, on a node of a cluster, the nodes and which node delivers each stream), and a
// page per stream with its configuration, charts of the last hour, the latest delivered objects
// and the latest failures.
//
// The page is plain HTML, CSS and JavaScript modules embedded in the binary (no build step, no
// third-party code); it polls a small JSON API served by the same [Handler] under
// /console/api/. The data comes from a [Source], which the server implements with adapters over
// the catalog, the metrics store and the delivery workers.
package console

import (
	"context"
	"embed"
	"encoding/json"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

//go:embed assets
var assets embed.FS

// StreamSummary is what the stream list shows of one delivery stream.
type StreamSummary struct {
	Name        string    // DeliveryStreamName
	Status      string    // DeliveryStreamStatus: CREATING, ACTIVE, DELETING, …
	Type        string    // DeliveryStreamType: DirectPut, KinesisStreamAsSource, …
	Destination string    // destination kind: "ExtendedS3", "HttpEndpoint", …
	Bucket      string    // bucket name or ARN, "" when the destination has none
	Created     time.Time // CreateTimestamp
}

// JournalSpace is the room of the journal that holds every stream's undelivered records.
type JournalSpace struct {
	StoreBytes    int64 // what the journal holds: records, delivery state and catalog
	LimitBytes    int64 // StoreBytes at which puts are refused; -1 when unknown
	ReservedBytes int64 // room kept for delivery state, never used by records
	DiskBytes     int64 // size of the file system holding the journal; 0 when unknown
	DiskFreeBytes int64 // free space on it
	Full          bool  // a put of 4 MiB would be refused for lack of room
}

// MemoryBudget is the process's memory budget and its use (docs/design/memory.md).
type MemoryBudget struct {
	LimitBytes      int64 // the budget
	UsedBytes       int64 // held now
	PeakBytes       int64 // most held at once since the start
	Refusals        int64 // acquires refused since the start: requests, readers, buffers
	RefusedRequests int64 // API requests answered "Slow down." for lack of budget
}

// SourceStatus is what the console shows of the reader of a stream whose records come from a
// Kinesis data stream or an Amazon MSK topic.
type SourceStatus struct {
	Kind   string // "Kinesis" or "MSK"
	Source string // the Kinesis stream ARN, or the MSK cluster ARN and the topic, space-separated
	State  string // "starting", "reading", "retrying" (after an error) or "stopped"
	// LagMillis is how far behind the newest record the reader is, at most over shards
	// (Kinesis's MillisBehindLatest); LagRecords the records not read yet (Kafka).
	LagMillis   int64
	LagRecords  int64
	Records     int64     // read and stored since the server started
	Bytes       int64     // read and stored since the server started
	Throttled   int64     // throttling answers of the source since the server started
	LastError   string    // the last error, when State is "retrying"
	LastErrorAt time.Time // when LastError happened
	Parts       []Part    // the shards or partitions, by ID
}

// Part is one shard of a Kinesis data stream or one partition of a Kafka topic.
type Part struct {
	ID         string
	Position   string // the last sequence number read, or the next offset
	Done       bool   // a closed shard read to its end
	LagMillis  int64
	LagRecords int64
}

// Point is the value of a metric in the minute that starts at Time.
type Point struct {
	Time  time.Time
	Value float64
}

// Object is one object written to the destination.
type Object struct {
	Time    time.Time
	Bucket  string
	Key     string
	Bytes   int64
	Records int64
}

// Failure is one record or batch that could not be processed, partitioned or delivered.
type Failure struct {
	Time    time.Time
	Kind    string // delivery, processing or partitioning
	Code    string
	Message string
}

// Cluster is what the console shows of the nodes of a cluster (docs/design/cluster.md).
type Cluster struct {
	Node     string            // this node's name
	Replicas int               // copies the journal keeps of each record
	Nodes    []Node            // the nodes seen, in any order
	Owners   map[string]string // stream → the node that delivers it, for the streams with one
}

// Node is one node of a cluster as its heartbeat describes it.
type Node struct {
	Name    string
	Addr    string    // its API address, host:port; "" when unknown
	Started time.Time // zero when unknown
	Live    bool      // its heartbeat was seen in the last round
}

// IncompleteError is the error of a Series that could read only this node's share of a
// cluster's metrics: the points returned with it miss the shares of the nodes that did not
// answer.
type IncompleteError struct {
	Nodes []string // the nodes that did not answer; empty when not known
	Err   error
}

func (e *IncompleteError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return "metrics of nodes " + strings.Join(e.Nodes, ", ") + " unavailable"
}

func (e *IncompleteError) Unwrap() error { return e.Err }

// Metric names the console asks its Source for, with their Firehose (AWS/Firehose) meaning.
const (
	IncomingBytes   = "IncomingBytes"   // Sum per minute
	IncomingRecords = "IncomingRecords" // Sum per minute
)

// DeliveryMetrics names the metrics a destination records of what it delivered.
type DeliveryMetrics struct {
	Bytes     string // Sum per minute
	Records   string // Sum per minute
	Freshness string // Maximum per minute, seconds: the age of the oldest record not yet delivered
}

// deliveryMetrics maps a destination kind (StreamSummary.Destination) to its metrics.
var deliveryMetrics = map[string]DeliveryMetrics{
	"ExtendedS3":   {"DeliveryToS3.Bytes", "DeliveryToS3.Records", "DeliveryToS3.DataFreshness"},
	"HttpEndpoint": {"DeliveryToHttpEndpoint.Bytes", "DeliveryToHttpEndpoint.Records", "DeliveryToHttpEndpoint.DataFreshness"},
}

// DeliveryMetricsOf returns the delivery metrics of a destination kind ("ExtendedS3",
// "HttpEndpoint"). Any other kind, the empty one included, gets S3's: Hydrant delivers to no
// other destination, and every stream has an S3 leg (the destination, or its backup).
func DeliveryMetricsOf(destination string) DeliveryMetrics {
	if m, ok := deliveryMetrics[destination]; ok {
		return m
	}
	return deliveryMetrics["ExtendedS3"]
}

// Stat returns the statistic the console reads of a metric per minute: "Maximum" for a data
// freshness metric, "Sum" for the others.
func Stat(metric string) string {
	for _, m := range deliveryMetrics {
		if metric == m.Freshness {
			return "Maximum"
		}
	}
	return "Sum"
}

// Source is what the console reads. Its methods are called on every poll of every open page,
// so they should be cheap and must be safe for concurrent use.
type Source interface {
	// Streams lists the delivery streams.
	Streams() []StreamSummary
	// Describe returns the DeliveryStreamDescription JSON of a stream, or false when there is
	// no such stream.
	Describe(name string) (json.RawMessage, bool)
	// Series returns the per-minute values of a metric of a stream from since on, oldest
	// first; minutes without a value may be left out. In a cluster the values are every
	// node's; when some node's share could not be read, Series returns this node's share with
	// an error, an [*IncompleteError] when it knows which nodes are missing.
	Series(ctx context.Context, name, metric string, since time.Time) ([]Point, error)
	// Objects returns at most limit of the objects last delivered, latest first.
	Objects(name string, limit int) []Object
	// Failures returns at most limit of the latest failures, latest first.
	Failures(name string, limit int) []Failure
	// Journal returns the journal's room and use.
	Journal() JournalSpace
	// Memory returns the memory budget and its use.
	Memory() MemoryBudget
	// SourceStatus returns the status of the reader of a stream fed by a Kinesis data stream
	// or an MSK topic, or false when the stream has no running reader (DirectPut streams
	// never have one).
	SourceStatus(name string) (SourceStatus, bool)
	// Cluster returns the nodes of the cluster and which node delivers which stream, or false
	// on a single node.
	Cluster() (Cluster, bool)
}

// Handler serves the console page under /console/ and its JSON API under /console/api/.
// Mount it with mux.Handle("/console/", h).
type Handler struct {
	src Source
	log *slog.Logger
	now func() time.Time
	mux *http.ServeMux
}

var _ http.Handler = (*Handler)(nil)

// New returns a Handler that reads from src and logs to log.
func New(src Source, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{src: src, log: log, now: time.Now, mux: http.NewServeMux()}
	static, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	h.mux.HandleFunc("GET /console/{$}", h.page)
	h.mux.HandleFunc("GET /console/streams/{name}", h.page)
	h.mux.Handle("GET /console/assets/", http.StripPrefix("/console/assets/", noCache(http.FileServerFS(static))))
	h.mux.HandleFunc("GET /console/api/streams", h.streams)
	h.mux.HandleFunc("GET /console/api/streams/{name}", h.stream)
	h.mux.HandleFunc("GET /console/api/streams/{name}/metrics", h.metrics)
	h.mux.HandleFunc("GET /console/api/streams/{name}/objects", h.objects)
	h.mux.HandleFunc("GET /console/api/streams/{name}/failures", h.failures)
	h.mux.HandleFunc("GET /console/api/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, http.StatusNotFound, "no such API route")
	})
	return h
}

// ServeHTTP serves the page, its assets and the API.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
	h.mux.ServeHTTP(w, r)
}

// page serves the single HTML page; the script routes between the list and a stream.
func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	b, err := assets.ReadFile("assets/index.html")
	if err != nil {
		h.fail(w, http.StatusInternalServerError, "page missing")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(b)
}

// noCache makes browsers revalidate the assets, so an upgraded binary serves its new page.
func noCache(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		next.ServeHTTP(w, r)
	})
}
