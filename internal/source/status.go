package source

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Status is what a reader shows of itself in the console and in `hydrant streams describe`.
type Status struct {
	Kind   string `json:"kind"`   // "Kinesis" or "MSK"
	Source string `json:"source"` // the Kinesis stream ARN, or the cluster ARN and topic
	// State is "starting", "reading", "retrying" (after an error) or "stopped".
	State string `json:"state"`
	// LagMillis is how far behind the newest record the reader is, at most over shards
	// (Kinesis's MillisBehindLatest); LagRecords the records not read yet (Kafka).
	LagMillis  int64 `json:"lagMillis"`
	LagRecords int64 `json:"lagRecords"`
	// Records and Bytes were read and stored since the server started.
	Records int64 `json:"records"`
	Bytes   int64 `json:"bytes"`
	// Throttled counts the source's throttling answers since the server started.
	Throttled int64 `json:"throttled"`
	// LastError is the last error, when State is "retrying".
	LastError   string    `json:"lastError,omitempty"`
	LastErrorAt time.Time `json:"lastErrorAt,omitzero"`
	// Parts are the shards or partitions, by ID.
	Parts []Part `json:"parts,omitempty"`
}

// Part is one shard or partition of a source.
type Part struct {
	ID         string `json:"id"`
	Position   string `json:"position"` // the last sequence number read, or the next offset
	Done       bool   `json:"done,omitempty"`
	LagMillis  int64  `json:"lagMillis,omitempty"`
	LagRecords int64  `json:"lagRecords,omitempty"`
}

// Tracker holds a reader's Status, updated by the reader and read by anyone.
type Tracker struct {
	mu sync.Mutex
	s  Status
}

// NewTracker returns a Tracker of a reader of kind reading source.
func NewTracker(kind, source string) *Tracker {
	return &Tracker{s: Status{Kind: kind, Source: source, State: "starting"}}
}

// Snapshot returns a copy of the status.
func (t *Tracker) Snapshot() Status {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.s
	s.Parts = slices.Clone(t.s.Parts)
	return s
}

// Update changes the status under the tracker's lock; fn must not block.
func (t *Tracker) Update(fn func(*Status)) {
	t.mu.Lock()
	fn(&t.s)
	t.mu.Unlock()
}

// Failed records err as the last error and sets State to "retrying".
func (t *Tracker) Failed(err error, at time.Time) {
	t.Update(func(s *Status) {
		s.State, s.LastError, s.LastErrorAt = "retrying", err.Error(), at
	})
}

// Sleep waits d or until ctx ends (then it returns ctx.Err()): the readers' real clock.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
