package console

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// The JSON API. Every response carries the server's clock as "now", so that the page shows
// ages ("12 s ago") against the server's time, not the browser's.

const (
	defaultMinutes = 60
	maxMinutes     = 24 * 60
	defaultLimit   = 20
	maxLimit       = 200
	trendMinutes   = 30 // minutes of IncomingBytes in a list row's trend
	listReaders    = 8  // streams of the list whose metrics are read at once
)

// streamJSON is a stream as the API shows it: its summary and its current rates.
type streamJSON struct {
	Name        string    `json:"name"`
	Status      string    `json:"status"`
	Type        string    `json:"type"`
	Destination string    `json:"destination"`
	Bucket      string    `json:"bucket"`
	Created     time.Time `json:"created"`
	// IncomingRecordsPerSecond and IncomingBytesPerSecond average the last complete minute
	// and the current one.
	IncomingRecordsPerSecond float64 `json:"incomingRecordsPerSecond"`
	IncomingBytesPerSecond   float64 `json:"incomingBytesPerSecond"`
	// FreshnessSeconds is the latest data freshness of the same window, read from the
	// destination's metric (DeliveryToS3.DataFreshness, DeliveryToHttpEndpoint.DataFreshness);
	// null without one.
	FreshnessSeconds *float64 `json:"freshnessSeconds"`
	// DeliveredBy is the node that delivers the stream; absent on a single node and while no
	// node does.
	DeliveredBy string `json:"deliveredBy,omitempty"`
}

type listJSON struct {
	Now     time.Time   `json:"now"`
	Journal journalJSON `json:"journal"`
	Memory  memoryJSON  `json:"memory"`
	// Cluster is absent on a single node.
	Cluster *clusterJSON `json:"cluster,omitempty"`
	// Incomplete is present when the rates and trends hold only this node's share.
	Incomplete *incompleteJSON `json:"incomplete,omitempty"`
	Streams    []rowJSON       `json:"streams"`
}

type clusterJSON struct {
	Node     string     `json:"node"` // this node
	Replicas int        `json:"replicas"`
	Nodes    []nodeJSON `json:"nodes"` // by name
}

type nodeJSON struct {
	Name    string     `json:"name"`
	Addr    string     `json:"addr"`
	Started *time.Time `json:"started"` // null when unknown
	Live    bool       `json:"live"`
	Self    bool       `json:"self"`    // the node serving the console
	Streams int        `json:"streams"` // how many streams it delivers
}

// incompleteJSON tells that the metrics of an answer hold only this node's share: the nodes
// named did not answer (none are named when it is not known which).
type incompleteJSON struct {
	Nodes []string `json:"nodes"`
	Error string   `json:"error"`
}

type memoryJSON struct {
	LimitBytes      int64 `json:"limitBytes"`
	UsedBytes       int64 `json:"usedBytes"`
	PeakBytes       int64 `json:"peakBytes"`
	Refusals        int64 `json:"refusals"`
	RefusedRequests int64 `json:"refusedRequests"`
}

type journalJSON struct {
	StoreBytes    int64 `json:"storeBytes"`
	LimitBytes    int64 `json:"limitBytes"`
	ReservedBytes int64 `json:"reservedBytes"`
	DiskBytes     int64 `json:"diskBytes"`
	DiskFreeBytes int64 `json:"diskFreeBytes"`
	Full          bool  `json:"full"`
}

type rowJSON struct {
	streamJSON
	// Trend is IncomingBytes per minute over the last trendMinutes minutes, oldest first.
	Trend []float64 `json:"trend"`
}

type detailJSON struct {
	Now         time.Time       `json:"now"`
	Stream      streamJSON      `json:"stream"`
	Description json.RawMessage `json:"description"`
	Cluster     *clusterJSON    `json:"cluster,omitempty"`
	Incomplete  *incompleteJSON `json:"incomplete,omitempty"`
	// Source is the reader of a Kinesis or MSK source; absent for DirectPut streams and
	// while no reader runs.
	Source *sourceJSON `json:"source,omitempty"`
}

type sourceJSON struct {
	Kind        string     `json:"kind"`
	Source      string     `json:"source"`
	State       string     `json:"state"`
	LagMillis   int64      `json:"lagMillis"`
	LagRecords  int64      `json:"lagRecords"`
	Records     int64      `json:"records"`
	Bytes       int64      `json:"bytes"`
	Throttled   int64      `json:"throttled"`
	LastError   string     `json:"lastError"`
	LastErrorAt *time.Time `json:"lastErrorAt"` // null without an error
	Parts       []partJSON `json:"parts"`
}

type partJSON struct {
	ID         string `json:"id"`
	Position   string `json:"position"`
	Done       bool   `json:"done"`
	LagMillis  int64  `json:"lagMillis"`
	LagRecords int64  `json:"lagRecords"`
}

type pointJSON struct {
	Time  time.Time `json:"time"`
	Value *float64  `json:"value"`
}

type seriesJSON struct {
	Metric string      `json:"metric"` // the CloudWatch metric name
	Role   string      `json:"role"`   // what the page charts it as: see charted
	Stat   string      `json:"stat"`   // Sum or Maximum
	Points []pointJSON `json:"points"`
}

type metricsJSON struct {
	Now         time.Time       `json:"now"`
	Start       time.Time       `json:"start"`
	StepSeconds int             `json:"stepSeconds"`
	Incomplete  *incompleteJSON `json:"incomplete,omitempty"`
	Series      []seriesJSON    `json:"series"`
}

type objectJSON struct {
	Time    time.Time `json:"time"`
	Bucket  string    `json:"bucket"`
	Key     string    `json:"key"`
	Bytes   int64     `json:"bytes"`
	Records int64     `json:"records"`
}

type objectsJSON struct {
	Now     time.Time    `json:"now"`
	Objects []objectJSON `json:"objects"`
}

type failureJSON struct {
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`
	Code    string    `json:"code"`
	Message string    `json:"message"`
}

type failuresJSON struct {
	Now      time.Time     `json:"now"`
	Failures []failureJSON `json:"failures"`
}

type errorJSON struct {
	Error string `json:"error"`
}

// charted lists the metrics charted for a stream whose destination is of kind dest, in the
// order the API returns them, each with its role: the stable name the page places it by,
// whichever metric the destination records.
func charted(dest string) []struct{ role, metric string } {
	d := DeliveryMetricsOf(dest)
	return []struct{ role, metric string }{
		{"incomingBytes", IncomingBytes},
		{"incomingRecords", IncomingRecords},
		{"deliveredBytes", d.Bytes},
		{"deliveredRecords", d.Records},
		{"freshness", d.Freshness},
	}
}

func (h *Handler) streams(w http.ResponseWriter, r *http.Request) {
	now := h.now()
	list := slices.Clone(h.src.Streams())
	slices.SortFunc(list, func(a, b StreamSummary) int { return cmp.Compare(a.Name, b.Name) })
	cl, owners := h.cluster()
	out := listJSON{Now: now, Journal: journalJSON(h.src.Journal()), Memory: memoryJSON(h.src.Memory()), Cluster: cl, Streams: make([]rowJSON, len(list))}
	trendStart := minute(now).Add(-(trendMinutes - 1) * time.Minute)
	rd := &reads{src: h.src, ctx: r.Context()}
	// In a cluster every read asks the other nodes: the rows are read a few at a time.
	var wg sync.WaitGroup
	sem := make(chan struct{}, listReaders)
	for i, s := range list {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			row := rowJSON{streamJSON: summary(rd, s, now, owners)}
			for _, v := range dense(rd.series(s.Name, IncomingBytes, trendStart), "Sum", trendStart, now) {
				row.Trend = append(row.Trend, *v.Value)
			}
			out.Streams[i] = row
		})
	}
	wg.Wait()
	out.Incomplete = rd.incomplete()
	h.reply(w, out)
}

// cluster returns the cluster view for the API and which node delivers which stream; nil on a
// single node.
func (h *Handler) cluster() (*clusterJSON, map[string]string) {
	c, ok := h.src.Cluster()
	if !ok {
		return nil, nil
	}
	streams := map[string]int{}
	for _, node := range c.Owners {
		streams[node]++
	}
	out := &clusterJSON{Node: c.Node, Replicas: c.Replicas, Nodes: make([]nodeJSON, 0, len(c.Nodes))}
	seen := map[string]bool{}
	for _, n := range c.Nodes {
		j := nodeJSON{Name: n.Name, Addr: n.Addr, Live: n.Live, Self: n.Name == c.Node, Streams: streams[n.Name]}
		if !n.Started.IsZero() {
			j.Started = &n.Started
		}
		out.Nodes = append(out.Nodes, j)
		seen[n.Name] = true
	}
	// A lease may name a node whose heartbeat was never seen: it is shown, down.
	for node := range streams {
		if !seen[node] {
			out.Nodes = append(out.Nodes, nodeJSON{Name: node, Self: node == c.Node, Streams: streams[node]})
		}
	}
	slices.SortFunc(out.Nodes, func(a, b nodeJSON) int { return cmp.Compare(a.Name, b.Name) })
	return out, c.Owners
}

// reads makes the Series calls of one request and gathers their failures, so that the answer
// tells when its metrics are only this node's share. It is safe for concurrent use.
type reads struct {
	src Source
	ctx context.Context

	mu      sync.Mutex
	err     error           // the first failure
	missing map[string]bool // the nodes that did not answer
}

// series returns what Source.Series returns, this node's share when it fails.
func (r *reads) series(name, metric string, since time.Time) []Point {
	points, err := r.src.Series(r.ctx, name, metric, since)
	if err != nil {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.err == nil {
			r.err = err
		}
		var inc *IncompleteError
		if errors.As(err, &inc) {
			for _, n := range inc.Nodes {
				if r.missing == nil {
					r.missing = map[string]bool{}
				}
				r.missing[n] = true
			}
		}
	}
	return points
}

// incomplete describes the failed reads, or is nil when every read was whole.
func (r *reads) incomplete() *incompleteJSON {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		return nil
	}
	out := &incompleteJSON{Nodes: make([]string, 0, len(r.missing)), Error: r.err.Error()}
	for n := range r.missing {
		out.Nodes = append(out.Nodes, n)
	}
	slices.Sort(out.Nodes)
	return out
}

func (h *Handler) stream(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	desc, ok := h.src.Describe(name)
	if !ok {
		h.fail(w, http.StatusNotFound, "delivery stream "+strconv.Quote(name)+" not found")
		return
	}
	now := h.now()
	cl, owners := h.cluster()
	rd := &reads{src: h.src, ctx: r.Context()}
	out := detailJSON{Now: now, Stream: summary(rd, h.lookup(name), now, owners), Description: desc, Cluster: cl, Incomplete: rd.incomplete()}
	if st, ok := h.src.SourceStatus(name); ok {
		out.Source = sourceOf(st)
	}
	h.reply(w, out)
}

// sourceOf converts a reader's status for the API, its parts in the reader's order (by shard
// ID, or by partition number).
func sourceOf(st SourceStatus) *sourceJSON {
	out := &sourceJSON{
		Kind: st.Kind, Source: st.Source, State: st.State,
		LagMillis: st.LagMillis, LagRecords: st.LagRecords,
		Records: st.Records, Bytes: st.Bytes, Throttled: st.Throttled,
		LastError: st.LastError, Parts: make([]partJSON, 0, len(st.Parts)),
	}
	if !st.LastErrorAt.IsZero() {
		out.LastErrorAt = &st.LastErrorAt
	}
	for _, p := range st.Parts {
		out.Parts = append(out.Parts, partJSON(p))
	}
	return out
}

func (h *Handler) metrics(w http.ResponseWriter, r *http.Request) {
	name, ok := h.known(w, r)
	if !ok {
		return
	}
	minutes, ok := h.intParam(w, r, "minutes", defaultMinutes, maxMinutes)
	if !ok {
		return
	}
	now := h.now()
	start := minute(now).Add(-time.Duration(minutes) * time.Minute)
	out := metricsJSON{Now: now, Start: start, StepSeconds: 60}
	rd := &reads{src: h.src, ctx: r.Context()}
	for _, m := range charted(h.lookup(name).Destination) {
		stat := Stat(m.metric)
		out.Series = append(out.Series, seriesJSON{
			Metric: m.metric,
			Role:   m.role,
			Stat:   stat,
			Points: dense(rd.series(name, m.metric, start), stat, start, now),
		})
	}
	out.Incomplete = rd.incomplete()
	h.reply(w, out)
}

func (h *Handler) objects(w http.ResponseWriter, r *http.Request) {
	name, ok := h.known(w, r)
	if !ok {
		return
	}
	limit, ok := h.intParam(w, r, "limit", defaultLimit, maxLimit)
	if !ok {
		return
	}
	out := objectsJSON{Now: h.now(), Objects: []objectJSON{}}
	for _, o := range first(h.src.Objects(name, limit), limit) {
		out.Objects = append(out.Objects, objectJSON(o))
	}
	h.reply(w, out)
}

func (h *Handler) failures(w http.ResponseWriter, r *http.Request) {
	name, ok := h.known(w, r)
	if !ok {
		return
	}
	limit, ok := h.intParam(w, r, "limit", defaultLimit, maxLimit)
	if !ok {
		return
	}
	out := failuresJSON{Now: h.now(), Failures: []failureJSON{}}
	for _, f := range first(h.src.Failures(name, limit), limit) {
		out.Failures = append(out.Failures, failureJSON(f))
	}
	h.reply(w, out)
}

// summary adds the current rates, read through rd, and its delivering node (from owners) to a
// stream's summary. The rates cover the last complete minute and the elapsed part of the
// current one, so they move every poll and never read zero just because a minute has begun.
func summary(rd *reads, s StreamSummary, now time.Time, owners map[string]string) streamJSON {
	out := streamJSON{
		Name: s.Name, Status: s.Status, Type: s.Type,
		Destination: s.Destination, Bucket: s.Bucket, Created: s.Created,
		DeliveredBy: owners[s.Name],
	}
	start := minute(now).Add(-time.Minute)
	secs := now.Sub(start).Seconds()
	var latest time.Time
	for _, p := range rd.series(s.Name, IncomingRecords, start) {
		if !p.Time.Before(start) {
			out.IncomingRecordsPerSecond += p.Value / secs
		}
	}
	for _, p := range rd.series(s.Name, IncomingBytes, start) {
		if !p.Time.Before(start) {
			out.IncomingBytesPerSecond += p.Value / secs
		}
	}
	for _, p := range rd.series(s.Name, DeliveryMetricsOf(s.Destination).Freshness, start) {
		if !p.Time.Before(start) && !p.Time.Before(latest) {
			latest, out.FreshnessSeconds = p.Time, &p.Value
		}
	}
	return out
}

// dense returns one point per minute from start through the minute of now. Several points in
// one minute combine by stat; a minute without a point is 0 for a Sum and null for a Maximum.
func dense(points []Point, stat string, start, now time.Time) []pointJSON {
	n := int(minute(now).Sub(start)/time.Minute) + 1
	if n < 1 {
		return []pointJSON{}
	}
	out := make([]pointJSON, n)
	for i := range out {
		out[i].Time = start.Add(time.Duration(i) * time.Minute)
	}
	for _, p := range points {
		i := int(minute(p.Time).Sub(start) / time.Minute)
		if p.Time.Before(start) || i >= n {
			continue
		}
		switch v := p.Value; {
		case out[i].Value == nil:
			out[i].Value = &v
		case stat == "Maximum":
			*out[i].Value = max(*out[i].Value, v)
		default:
			*out[i].Value += v
		}
	}
	if stat == "Sum" {
		for i := range out {
			if out[i].Value == nil {
				out[i].Value = new(float64)
			}
		}
	}
	return out
}

// minute returns the start of the minute of t.
func minute(t time.Time) time.Time { return t.Truncate(time.Minute) }

// first returns at most n elements of s, in case a Source returns more than asked for.
func first[T any](s []T, n int) []T { return s[:min(len(s), n)] }

// lookup returns the summary of the stream named name; only its name when the list lacks it
// (a stream deleted since it was described).
func (h *Handler) lookup(name string) StreamSummary {
	for _, s := range h.src.Streams() {
		if s.Name == name {
			return s
		}
	}
	return StreamSummary{Name: name}
}

// known returns the stream named in the path, or answers 404.
func (h *Handler) known(w http.ResponseWriter, r *http.Request) (string, bool) {
	name := r.PathValue("name")
	if _, ok := h.src.Describe(name); !ok {
		h.fail(w, http.StatusNotFound, "delivery stream "+strconv.Quote(name)+" not found")
		return "", false
	}
	return name, true
}

// intParam reads an optional query parameter in [1, hi], or answers 400.
func (h *Handler) intParam(w http.ResponseWriter, r *http.Request, key string, def, hi int) (int, bool) {
	s := r.URL.Query().Get(key)
	if s == "" {
		return def, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > hi {
		h.fail(w, http.StatusBadRequest, key+" must be an integer from 1 to "+strconv.Itoa(hi))
		return 0, false
	}
	return n, true
}

func (h *Handler) reply(w http.ResponseWriter, v any) {
	h.write(w, http.StatusOK, v)
}

func (h *Handler) fail(w http.ResponseWriter, status int, msg string) {
	h.write(w, status, errorJSON{Error: msg})
}

func (h *Handler) write(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		h.log.Error("console: encode response", "err", err)
		status, b = http.StatusInternalServerError, []byte(`{"error":"cannot encode the response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if _, err := w.Write(append(b, '\n')); err != nil {
		h.log.Debug("console: write response", "err", err)
	}
}
