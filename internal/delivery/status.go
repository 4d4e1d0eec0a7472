package delivery

import (
	"sync"
	"time"
)

// Status is what a worker reports of its delivery, read by the API and metrics while the worker
// runs.
type Status struct {
	mu   sync.Mutex
	legs map[string]*legStatus
}

type legStatus struct {
	bucket          string
	bufferedBytes   int
	bufferedRecords int
	oldest          time.Time
	objects         int64
	bytes           int64
	records         int64
	lastDelivered   time.Time
	lastError       *DeliveryError
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
}

func newStatus() *Status { return &Status{legs: map[string]*legStatus{}} }

func (s *Status) setLegs(legs []*leg) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range legs {
		ls, ok := s.legs[l.Name]
		if !ok {
			ls = &legStatus{}
			s.legs[l.Name] = ls
		}
		ls.bucket = l.Bucket
		ls.bufferedBytes, ls.bufferedRecords, ls.oldest = 0, 0, time.Time{}
	}
}

func (s *Status) buffered(l *leg) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ls := s.legs[l.Name]
	ls.bufferedBytes, ls.bufferedRecords, ls.oldest = len(l.buf.data), l.buf.records, l.buf.oldest
}

func (s *Status) delivered(l *leg, bytes, records int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ls := s.legs[l.Name]
	ls.objects++
	ls.bytes += int64(bytes)
	ls.records += int64(records)
	ls.lastDelivered = time.Now()
	ls.bufferedBytes, ls.bufferedRecords, ls.oldest = 0, 0, time.Time{}
}

func (s *Status) failed(l *leg, code string, err error, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.legs[l.Name].lastError = &DeliveryError{Time: now, Code: code, Message: err.Error()}
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
		}
		if !ls.oldest.IsZero() {
			st.DataFreshness = max(now.Sub(ls.oldest), 0)
		}
		out = append(out, st)
	}
	return out
}
