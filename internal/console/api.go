package console

import (
	"cmp"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
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
	// FreshnessSeconds is the latest DataFreshness of the same window; null without one.
	FreshnessSeconds *float64 `json:"freshnessSeconds"`
}

type listJSON struct {
	Now     time.Time   `json:"now"`
	Journal journalJSON `json:"journal"`
	Memory  memoryJSON  `json:"memory"`
	Streams []rowJSON   `json:"streams"`
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
	Metric string      `json:"metric"`
	Stat   string      `json:"stat"` // Sum or Maximum
	Points []pointJSON `json:"points"`
}

type metricsJSON struct {
	Now         time.Time    `json:"now"`
	Start       time.Time    `json:"start"`
	StepSeconds int          `json:"stepSeconds"`
	Series      []seriesJSON `json:"series"`
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

// metricStats lists the charted metrics in the order the API returns them.
var metricStats = []struct{ metric, stat string }{
	{IncomingBytes, "Sum"},
	{IncomingRecords, "Sum"},
	{DeliveredBytes, "Sum"},
	{DeliveredRecords, "Sum"},
	{DataFreshnessSeconds, "Maximum"},
}

func (h *Handler) streams(w http.ResponseWriter, r *http.Request) {
	now := h.now()
	list := slices.Clone(h.src.Streams())
	slices.SortFunc(list, func(a, b StreamSummary) int { return cmp.Compare(a.Name, b.Name) })
	out := listJSON{Now: now, Journal: journalJSON(h.src.Journal()), Memory: memoryJSON(h.src.Memory()), Streams: make([]rowJSON, 0, len(list))}
	trendStart := minute(now).Add(-(trendMinutes - 1) * time.Minute)
	for _, s := range list {
		row := rowJSON{streamJSON: h.summary(s, now)}
		for _, v := range dense(h.src.Series(s.Name, IncomingBytes, trendStart), "Sum", trendStart, now) {
			row.Trend = append(row.Trend, *v.Value)
		}
		out.Streams = append(out.Streams, row)
	}
	h.reply(w, out)
}

func (h *Handler) stream(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	desc, ok := h.src.Describe(name)
	if !ok {
		h.fail(w, http.StatusNotFound, "delivery stream "+strconv.Quote(name)+" not found")
		return
	}
	now := h.now()
	s := StreamSummary{Name: name}
	for _, c := range h.src.Streams() {
		if c.Name == name {
			s = c
			break
		}
	}
	out := detailJSON{Now: now, Stream: h.summary(s, now), Description: desc}
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
	for _, m := range metricStats {
		out.Series = append(out.Series, seriesJSON{
			Metric: m.metric,
			Stat:   m.stat,
			Points: dense(h.src.Series(name, m.metric, start), m.stat, start, now),
		})
	}
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

// summary adds the current rates to a stream's summary. The rates cover the last complete
// minute and the elapsed part of the current one, so they move every poll and never read zero
// just because a minute has begun.
func (h *Handler) summary(s StreamSummary, now time.Time) streamJSON {
	out := streamJSON{
		Name: s.Name, Status: s.Status, Type: s.Type,
		Destination: s.Destination, Bucket: s.Bucket, Created: s.Created,
	}
	start := minute(now).Add(-time.Minute)
	secs := now.Sub(start).Seconds()
	var latest time.Time
	for _, p := range h.src.Series(s.Name, IncomingRecords, start) {
		if !p.Time.Before(start) {
			out.IncomingRecordsPerSecond += p.Value / secs
		}
	}
	for _, p := range h.src.Series(s.Name, IncomingBytes, start) {
		if !p.Time.Before(start) {
			out.IncomingBytesPerSecond += p.Value / secs
		}
	}
	for _, p := range h.src.Series(s.Name, DataFreshnessSeconds, start) {
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
