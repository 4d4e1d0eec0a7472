package delivery

import (
	"sync"
	"time"
)

// Status is what a worker reports of its delivery, read by the API and metrics while the worker
// runs.
type Status struct {
	mu       sync.Mutex
	legs     map[string]*legStatus
	objects  ring[ObjectRecord]
	failures ring[FailureRecord]
}

// keep is how many recent objects and failures a Status remembers.
const keep = 50

// ObjectRecord is one delivered object.
type ObjectRecord struct {
	Time    time.Time `json:"time"`
	Leg     string    `json:"leg"`
	Bucket  string    `json:"bucket"`
	Key     string    `json:"key"`
	Bytes   int64     `json:"bytes"`
	Records int64     `json:"records"`
}

// FailureRecord is one delivery failure or one record sent to the error output.
type FailureRecord struct {
	Time    time.Time `json:"time"`
	Leg     string    `json:"leg"`
	Kind    string    `json:"kind"` // delivery, processing, partitioning, dropped, expired or corrupt
	Code    string    `json:"code"`
	Message string    `json:"message"`
}

// ring keeps the last keep values.
type ring[T any] struct {
	vals []T
	next int
}

func (r *ring[T]) add(v T) {
	if len(r.vals) < keep {
		r.vals = append(r.vals, v)
		return
	}
	r.vals[r.next] = v
	r.next = (r.next + 1) % keep
}

// latest returns up to n values, newest first.
func (r *ring[T]) latest(n int) []T {
	out := make([]T, 0, min(n, len(r.vals)))
	for i := 0; i < len(r.vals) && len(out) < n; i++ {
		j := (r.next - 1 - i + 2*len(r.vals)) % len(r.vals)
		if len(r.vals) < keep {
			j = len(r.vals) - 1 - i
		}
		out = append(out, r.vals[j])
	}
	return out
}

// Objects returns up to n recently delivered objects, newest first.
func (s *Status) Objects(n int) []ObjectRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.objects.latest(n)
}

// Failures returns up to n recent failures, newest first.
func (s *Status) Failures(n int) []FailureRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failures.latest(n)
}

// recordFailure remembers a failure that is not a write's: a record sent to the error output
// (kind processing, partitioning, delivery), records dropped, journal messages expired or
// corrupt (leg "journal"), an actor restarted (leg "engine").
func (s *Status) recordFailure(leg, kind, code, message string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures.add(FailureRecord{Time: at, Leg: leg, Kind: kind, Code: code, Message: message})
}

type legStatus struct {
	bucket          string
	metric          string // the prefix of the leg's metrics (DeliveryToS3, …)
	bufferedBytes   int
	bufferedRecords int
	oldest          time.Time
	objects         int64
	bytes           int64
	records         int64
	lastDelivered   time.Time
	lastError       *DeliveryError
	partitions      int
	// partitionLimitHits counts records refused by the active-partition limit.
	partitionLimitHits int64
	failedRecords      int64
}

// DeliveryError is the last failure of a leg.
type DeliveryError struct {
	Time    time.Time `json:"time"`
	Code    string    `json:"code"`
	Message string    `json:"message"`
}

// LegStatus is a snapshot of one leg.
type LegStatus struct {
	Leg    string `json:"leg"`
	Bucket string `json:"bucket"`
	// DataFreshness is the age of the oldest record not yet in an object of this leg.
	DataFreshness   time.Duration  `json:"dataFreshness"`
	BufferedBytes   int            `json:"bufferedBytes"`
	BufferedRecords int            `json:"bufferedRecords"`
	Objects         int64          `json:"objects"`
	Bytes           int64          `json:"bytes"`
	Records         int64          `json:"records"`
	LastDelivered   time.Time      `json:"lastDelivered,omitzero"`
	LastError       *DeliveryError `json:"lastError,omitempty"`
	// Partitions is the number of open partition buffers (PartitionCount).
	Partitions int `json:"partitions"`
	// PartitionLimitHits counts records refused by the active-partition limit.
	PartitionLimitHits int64 `json:"partitionLimitHits"`
	// FailedRecords counts records written to the error output.
	FailedRecords int64 `json:"failedRecords"`
	// Metric is the prefix of the leg's metrics: DeliveryToS3, DeliveryToHttpEndpoint or
	// BackupToS3.
	Metric string `json:"metric,omitempty"`
}

func newStatus() *Status { return &Status{legs: map[string]*legStatus{}} }

// setLegs makes the status show the legs of a spec.
func (s *Status) setLegs(legs []LegSpec) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range legs {
		ls, ok := s.legs[l.Name]
		if !ok {
			ls = &legStatus{}
			s.legs[l.Name] = ls
		}
		ls.bucket = l.Bucket
		ls.metric = l.metricPrefix()
	}
}

// leg returns the status of a leg, creating it.
func (s *Status) leg(name string) *legStatus {
	ls, ok := s.legs[name]
	if !ok {
		ls = &legStatus{}
		s.legs[name] = ls
	}
	return ls
}

// buffered records what a leg holds and has not written yet.
func (s *Status) buffered(leg string, bytes, records int, oldest time.Time, partitions int, limitHits int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ls := s.leg(leg)
	ls.bufferedBytes, ls.bufferedRecords, ls.oldest, ls.partitions = bytes, records, oldest, partitions
	ls.partitionLimitHits = limitHits
}

// delivered records a written object.
func (s *Status) delivered(leg, bucket string, errorOut bool, key string, bytes, records, stored int, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ls := s.leg(leg)
	s.objects.add(ObjectRecord{Time: now, Leg: leg, Bucket: bucket, Key: key, Bytes: int64(stored), Records: int64(records)})
	if errorOut {
		ls.failedRecords += int64(records)
	} else {
		ls.objects++
		ls.bytes += int64(bytes)
		ls.records += int64(records)
		ls.lastDelivered = now
	}
}

// failed records a failed write of a leg.
func (s *Status) failed(leg, code string, err error, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.leg(leg).lastError = &DeliveryError{Time: now, Code: code, Message: err.Error()}
	s.failures.add(FailureRecord{Time: now, Leg: leg, Kind: "delivery", Code: code, Message: err.Error()})
}

// Snapshot returns every leg's status as of now, sorted by leg name.
func (s *Status) Snapshot(now time.Time) []LegStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]LegStatus, 0, len(s.legs))
	for _, name := range []string{LegDestination, LegBackup} {
		ls, ok := s.legs[name]
		if !ok {
			continue
		}
		st := LegStatus{
			Leg: name, Bucket: ls.bucket, BufferedBytes: ls.bufferedBytes, BufferedRecords: ls.bufferedRecords,
			Objects: ls.objects, Bytes: ls.bytes, Records: ls.records, LastDelivered: ls.lastDelivered, LastError: ls.lastError,
			Partitions: ls.partitions, PartitionLimitHits: ls.partitionLimitHits, FailedRecords: ls.failedRecords,
			Metric: ls.metric,
		}
		if !ls.oldest.IsZero() {
			st.DataFreshness = max(now.Sub(ls.oldest), 0)
		}
		out = append(out, st)
	}
	return out
}
