package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hydrant-dev/hydrant/internal/processor"
)

// sender is an in-memory endpoint: it keeps every attempt; fail decides each attempt's
// failure, and hang makes an attempt wait until its context ends after it was received (an
// answer lost, as a process killed while the endpoint handled the request).
type sender struct {
	mu       sync.Mutex
	attempts []sent
	fail     func(n int, id string) error
	hang     func(n int, id string) bool
}

type sent struct {
	id      string
	records []string
	ok      bool
}

func (s *sender) Send(ctx context.Context, id string, records [][]byte) error {
	recs := make([]string, len(records))
	for i, r := range records {
		recs[i] = string(r)
	}
	s.mu.Lock()
	n := len(s.attempts) + 1
	s.attempts = append(s.attempts, sent{id: id, records: recs})
	fail, hang := s.fail, s.hang
	s.mu.Unlock()
	if hang != nil && hang(n, id) {
		<-ctx.Done()
		return ctx.Err()
	}
	var err error
	if fail != nil {
		err = fail(n, id)
	}
	if err == nil {
		s.mu.Lock()
		s.attempts[n-1].ok = true
		s.mu.Unlock()
	}
	return err
}

func (s *sender) all() []sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.attempts)
}

// delivered counts each record in successful attempts.
func (s *sender) delivered() map[string]int {
	out := map[string]int{}
	for _, a := range s.all() {
		if a.ok {
			for _, r := range a.records {
				out[r]++
			}
		}
	}
	return out
}

// endpointErr is a failure as the httpendpoint package reports it.
type endpointErr struct {
	code      string
	permanent bool
}

func (e endpointErr) Error() string        { return "http endpoint request: " + e.code }
func (e endpointErr) ErrorCode() string    { return e.code }
func (e endpointErr) Permanent() bool      { return e.permanent }
func (e endpointErr) ErrorMessage() string { return "The endpoint answered badly" }

func endpointSpec(t testing.TB, s *sender, retry time.Duration) Spec {
	spec := testSpec(t)
	spec.Legs[0].Endpoint, spec.Legs[0].RetryFor = s, retry
	return spec
}

func TestEndpointDeliversBatchesWithinTheRecordBound(t *testing.T) {
	j := openJournal(t)
	out, snd, rec := newStore(), &sender{}, newRecorder()
	spec := endpointSpec(t, snd, time.Minute)
	spec.Legs[0].MaxRecords = 3
	r := run(t, Deps{Log: j, State: j, Objects: out, Metrics: rec}, spec)
	var want []string
	for i := range 7 {
		want = append(want, fmt.Sprintf("r%d", i))
	}
	appendAll(t, j, want...)
	r.flush(t, "s")
	var got []string
	ids := map[string]bool{}
	for _, a := range snd.all() {
		if len(a.records) > 3 {
			t.Errorf("batch %s holds %d records, over the bound of 3", a.id, len(a.records))
		}
		if ids[a.id] {
			t.Errorf("request id %s used twice", a.id)
		}
		ids[a.id] = true
		got = append(got, a.records...)
	}
	slices.Sort(got)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("records sent (-want +got):\n%s", d)
	}
	if len(out.snapshot()) != 0 {
		t.Errorf("objects written for an endpoint leg: %v", keys(out.snapshot()))
	}
	metrics := map[string]float64{}
	for _, n := range []string{"DeliveryToHttpEndpoint.Records", "DeliveryToHttpEndpoint.Bytes", "DeliveryToS3.Records"} {
		metrics[n] = rec.sum(n)
	}
	if d := cmp.Diff(map[string]float64{"DeliveryToHttpEndpoint.Records": 7, "DeliveryToHttpEndpoint.Bytes": 14, "DeliveryToS3.Records": 0}, metrics); d != "" {
		t.Errorf("metrics (-want +got):\n%s", d)
	}
}

// advanceUntil advances the fake clock a step at a time until cond holds.
func advanceUntil(t testing.TB, c *fakeClock, step time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		c.Advance(step)
		time.Sleep(2 * time.Millisecond)
	}
}

func TestEndpointRetriesUnderTheSameRequestID(t *testing.T) {
	j := openJournal(t)
	clock := newFakeClock()
	snd := &sender{fail: func(n int, _ string) error {
		if n <= 3 {
			return endpointErr{code: "HttpEndpoint.DestinationException"}
		}
		return nil
	}}
	r := run(t, Deps{Log: j, State: j, Objects: newStore(), Clock: clock}, endpointSpec(t, snd, time.Hour))
	appendAll(t, j, "a", "b")
	done := make(chan struct{})
	go func() { r.flush(t, "s"); close(done) }()
	advanceUntil(t, clock, time.Second, "the fourth attempt", func() bool { return len(snd.all()) >= 4 })
	<-done
	all := snd.all()
	for _, a := range all {
		if a.id != all[0].id || !slices.Equal(a.records, []string{"a", "b"}) {
			t.Errorf("attempt %+v: want request id %s with records a, b", a, all[0].id)
		}
	}
	if len(all) != 4 || !all[3].ok {
		t.Errorf("attempts %+v: want 3 failures then a success", all)
	}
	_, failures := r.Recent("s", 10)
	if len(failures) == 0 || failures[0].Code != "HttpEndpoint.DestinationException" {
		t.Errorf("recent failures %+v: want the endpoint's failure", failures)
	}
}

func TestEndpointFailedBatchGoesToTheErrorOutput(t *testing.T) {
	for _, tc := range []struct {
		name     string
		retry    time.Duration
		err      endpointErr
		attempts int
	}{
		// Waits 1, 2 and 4 s (±15 %), then what remains of the 10 s: the bound is hit.
		{"retries exhausted", 10 * time.Second, endpointErr{code: "HttpEndpoint.DestinationException"}, 5},
		{"no retries", 0, endpointErr{code: "HttpEndpoint.RequestTimeout"}, 1},
		{"permanent (413)", time.Hour, endpointErr{code: "HttpEndpoint.DestinationException", permanent: true}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := openJournal(t)
			clock := newFakeClock()
			out := newStore()
			snd := &sender{fail: func(int, string) error { return tc.err }}
			r := run(t, Deps{Log: j, State: j, Objects: out, Clock: clock}, endpointSpec(t, snd, tc.retry))
			appendAll(t, j, "x1", "x2")
			done := make(chan struct{})
			go func() { r.flush(t, "s"); close(done) }()
			advanceUntil(t, clock, 500*time.Millisecond, "the error output", func() bool { return len(out.under("b/e/http-endpoint-failed/")) > 0 })
			<-done
			if n := len(snd.all()); n != tc.attempts {
				t.Errorf("attempts = %d, want %d", n, tc.attempts)
			}
			type doc struct {
				AttemptsMade      int    `json:"attemptsMade"`
				ErrorCode         string `json:"errorCode"`
				ErrorMessage      string `json:"errorMessage"`
				RawData           []byte `json:"rawData"`
				SubsequenceNumber int    `json:"subsequenceNumber"`
				DataID            string `json:"dataId"`
				ArrivalTimestamp  int64  `json:"arrivalTimestamp"`
				AttemptEnding     int64  `json:"attemptEndingTimestamp"`
			}
			var docs []doc
			for _, v := range out.under("b/e/http-endpoint-failed/") {
				for _, line := range strings.Split(strings.TrimSpace(v), "\n") {
					var d doc
					if err := json.Unmarshal([]byte(line), &d); err != nil {
						t.Fatalf("error document %q: %v", line, err)
					}
					if d.DataID == "" || d.ArrivalTimestamp == 0 || d.AttemptEnding == 0 {
						t.Errorf("error document %q lacks dataId or timestamps", line)
					}
					d.DataID, d.ArrivalTimestamp, d.AttemptEnding = "", 0, 0
					docs = append(docs, d)
				}
			}
			want := []doc{
				{AttemptsMade: tc.attempts, ErrorCode: tc.err.code, ErrorMessage: "The endpoint answered badly", RawData: []byte("x1")},
				{AttemptsMade: tc.attempts, ErrorCode: tc.err.code, ErrorMessage: "The endpoint answered badly", RawData: []byte("x2")},
			}
			if d := cmp.Diff(want, docs); d != "" {
				t.Errorf("error documents (-want +got):\n%s", d)
			}
			// The stream goes on.
			snd.mu.Lock()
			snd.fail = nil
			snd.mu.Unlock()
			appendAll(t, j, "y")
			r.flush(t, "s")
			if got := snd.delivered()["y"]; got != 1 {
				t.Errorf("y delivered %d times after the failure, want 1", got)
			}
		})
	}
}

func TestEndpointDelayFollowsFirehosesSchedule(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for attempt, base := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second,
		32 * time.Second, 64 * time.Second, 2 * time.Minute, 2 * time.Minute} {
		for range 100 {
			d := endpointBackoff().Delay(attempt+1, rnd)
			if d < base*85/100 || d > base*115/100 {
				t.Fatalf("attempt %d: delay %s outside %s ±15%%", attempt+1, d, base)
			}
		}
	}
}

// appendNewline is a processor that appends a newline to each record.
type appendNewline struct{}

func (appendNewline) Process(_ context.Context, in []processor.Record) ([]processor.Record, []processor.Failure, error) {
	out := make([]processor.Record, len(in))
	for i, r := range in {
		out[i] = r
		out[i].Data = append(append([]byte(nil), r.Data...), '\n')
	}
	return out, nil, nil
}

// TestEndpointCrashResendsUnderTheSameRequestID kills the engine while batches are at the
// endpoint (received, no answer yet) and checks that the restarted engine sends those
// batches again under their request ids, with the same records, and everything else once.
func TestEndpointCrashResendsUnderTheSameRequestID(t *testing.T) {
	for _, tc := range []struct{ processed, reconfigured bool }{{false, false}, {true, false}, {false, true}} {
		processed := tc.processed
		t.Run(fmt.Sprintf("processed=%v/reconfigured=%v", tc.processed, tc.reconfigured), func(t *testing.T) {
			j := openJournal(t)
			snd := &sender{hang: func(n int, _ string) bool { return n%2 == 0 }}
			spec := endpointSpec(t, snd, time.Hour)
			spec.Legs[0].SizeBytes = 6 // two or three records a batch
			if processed {
				spec.Legs[0].Processor = appendNewline{}
			}
			r1 := run(t, Deps{Log: j, State: j, Objects: newStore()}, spec)
			var recs []string
			for i := range 20 {
				recs = append(recs, fmt.Sprintf("%03d", i))
			}
			appendAll(t, j, recs...)
			eventually(t, "batches in flight", func() bool { return len(snd.all()) >= 6 })
			time.Sleep(30 * time.Millisecond)
			r1.stop()
			before := snd.all()
			hung := map[string][]string{}
			for _, a := range before {
				if !a.ok {
					hung[a.id] = a.records
				}
			}
			if len(hung) == 0 {
				t.Fatal("no batch was in flight at the crash")
			}
			snd.mu.Lock()
			snd.hang = nil
			snd.mu.Unlock()
			r2 := run(t, Deps{Log: j, State: j, Objects: newStore()}, spec)
			if tc.reconfigured {
				// A configuration change while the pinned batches are read again: they keep
				// their request ids.
				next := spec
				next.Version++
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				if err := r2.Apply(ctx, next); err != nil {
					t.Fatal(err)
				}
				cancel()
			}
			r2.flush(t, "s")
			after := snd.all()[len(before):]
			resent := map[string][]string{}
			for _, a := range after {
				resent[a.id] = a.records
			}
			for id, want := range hung {
				if d := cmp.Diff(want, resent[id]); d != "" {
					t.Errorf("batch %s sent again (-before +after):\n%s", id, d)
				}
			}
			// Every record delivered at least once; a record delivered twice, both times under one id.
			ids := map[string][]string{}
			for _, a := range snd.all() {
				if !a.ok {
					continue
				}
				for _, rec := range a.records {
					rec = strings.TrimSuffix(rec, "\n")
					if !slices.Contains(ids[rec], a.id) {
						ids[rec] = append(ids[rec], a.id)
					}
				}
			}
			for _, rec := range recs {
				if len(ids[rec]) != 1 {
					t.Errorf("record %s delivered under request ids %v, want exactly one", rec, ids[rec])
				}
			}
		})
	}
}
