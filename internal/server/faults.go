package server

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
)

// Faults are the failures injected into a stream's puts, beyond AWS, so that producers can
// test their retry code. They are set in the config file or with PUT /_hydrant/streams/NAME/faults.
type Faults struct {
	// FailFraction of the records of each PutRecordBatch fail with ServiceUnavailableException
	// "Slow down." (chosen at random, per record).
	FailFraction float64 `json:"failFraction,omitempty"`
	// SucceedPerCall, when positive, lets only the first N records of each PutRecordBatch
	// succeed; the others fail as above.
	SucceedPerCall int `json:"succeedPerCall,omitempty"`
	// ThrottleCalls is how many of the next PutRecord and PutRecordBatch calls are refused
	// whole with HTTP 503 ServiceUnavailableException; it counts down.
	ThrottleCalls int `json:"throttleCalls,omitempty"`
}

// Validate checks the bounds of each field.
func (f Faults) Validate() error {
	switch {
	case f.FailFraction < 0 || f.FailFraction > 1:
		return fmt.Errorf("failFraction %v: must be between 0 and 1", f.FailFraction)
	case f.SucceedPerCall < 0:
		return fmt.Errorf("succeedPerCall %d: must not be negative", f.SucceedPerCall)
	case f.ThrottleCalls < 0:
		return fmt.Errorf("throttleCalls %d: must not be negative", f.ThrottleCalls)
	}
	return nil
}

// faultTable holds the faults of every stream.
type faultTable struct {
	mu  sync.Mutex
	m   map[string]Faults
	rnd *rand.Rand
}

func newFaultTable(initial map[string]Faults) *faultTable {
	t := &faultTable{m: map[string]Faults{}, rnd: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
	for k, v := range initial {
		t.m[k] = v
	}
	return t
}

// throttle reports whether this call is refused whole, counting the throttled calls down.
func (t *faultTable) throttle(stream string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.m[stream]
	if !ok || f.ThrottleCalls == 0 {
		return false
	}
	f.ThrottleCalls--
	t.m[stream] = f
	return true
}

// failing returns which of n records of a PutRecordBatch fail, or nil when none do.
func (t *faultTable) failing(stream string, n int) []bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.m[stream]
	if !ok || (f.FailFraction == 0 && f.SucceedPerCall == 0) {
		return nil
	}
	fail := make([]bool, n)
	for i := range fail {
		fail[i] = (f.SucceedPerCall > 0 && i >= f.SucceedPerCall) || (f.FailFraction > 0 && t.rnd.Float64() < f.FailFraction)
	}
	return fail
}

// ServeHTTP serves GET, PUT and DELETE of /_hydrant/streams/{name}/faults.
func (t *faultTable) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	w.Header().Set("Content-Type", "application/json")
	switch r.Method {
	case http.MethodPut:
		var f Faults
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			http.Error(w, `{"error":"body must be a faults object"}`, http.StatusBadRequest)
			return
		}
		if err := f.Validate(); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		t.mu.Lock()
		t.m[name] = f
		t.mu.Unlock()
	case http.MethodDelete:
		t.mu.Lock()
		delete(t.m, name)
		t.mu.Unlock()
	}
	t.mu.Lock()
	f := t.m[name]
	t.mu.Unlock()
	_ = json.NewEncoder(w).Encode(f)
}
