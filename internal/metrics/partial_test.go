package metrics

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestPartialsOfSeveralStoresMergeExactly spreads samples over three stores, as puts and
// deliveries spread over a cluster's nodes, and checks that merging the stores' partials answers
// every query exactly as one store holding every sample does. Values are integers so that sums do
// not depend on the order of addition.
func TestPartialsOfSeveralStoresMergeExactly(t *testing.T) {
	all, c := newStore(t, "")
	var nodes [3]*Store
	for i := range nodes {
		nodes[i], _ = newStore(t, "")
		nodes[i].now = c.now
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 6000 {
		c.set(at(time.Duration(i) * 60 * time.Millisecond)) // 6 minutes
		v := float64(rng.IntN(1 << 20))
		if i%7 == 0 {
			v = 0
		}
		all.Record("s1", "M", UnitBytes, v)
		nodes[rng.IntN(len(nodes))].Record("s1", "M", UnitBytes, v)
	}
	c.set(at(time.Hour))
	queries := []Query{
		streamQuery("M", t0, at(time.Hour), time.Minute),
		streamQuery("M", t0, at(time.Hour), time.Hour, "p0", "p50", "p99", "p99.9", "p100"),
		streamQuery("M", at(90*time.Second), at(5*time.Minute), 2*time.Minute, "p10"),
		streamQuery("Nope", t0, at(time.Hour), time.Minute),
		SeriesQuery("s1", "M", at(2*time.Minute)),
	}
	for _, q := range queries {
		want, err := all.Statistics(q)
		if err != nil {
			t.Fatal(err)
		}
		var parts []Partial
		for _, n := range nodes {
			p, err := n.Partial(q)
			if err != nil {
				t.Fatal(err)
			}
			// Partials cross the network as JSON.
			b, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			var back Partial
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if err := back.Check(); err != nil {
				t.Fatalf("Check of a store's partial: %v", err)
			}
			parts = append(parts, back)
		}
		got, err := Merge(q, parts...)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s period %s: merged partials differ from one store (-want +got):\n%s", q.MetricName, q.Period, diff)
		}
	}
}

func TestMergeErrorsAndLists(t *testing.T) {
	if _, err := Merge(streamQuery("M", t0, at(time.Hour), 30*time.Second)); !errors.Is(err, ErrInvalidPeriod) {
		t.Errorf("Merge with a 30 s period = %v, want ErrInvalidPeriod", err)
	}
	if _, err := Merge(streamQuery("M", t0, at(time.Hour), time.Minute, "q5")); !errors.Is(err, ErrInvalidPercentile) {
		t.Errorf("Merge with percentile q5 = %v, want ErrInvalidPercentile", err)
	}
	id := func(name, stream string) MetricID {
		return MetricID{Namespace: Namespace, MetricName: name, Dimensions: []Dimension{{DimensionStream, stream}}}
	}
	got := MergeLists(
		[]MetricID{id("A", "s2"), id("B", "s1")},
		nil,
		[]MetricID{id("A", "s1"), id("B", "s1"), id("A", "s2")},
	)
	want := []MetricID{id("A", "s1"), id("A", "s2"), id("B", "s1")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("MergeLists (-want +got):\n%s", diff)
	}
}

func TestPartialCheck(t *testing.T) {
	ok := Aggregate{Start: 60, N: 3, Sum: 6, Min: 1, Max: 3, Hist: []int64{int64(bucketKey(1)), 1, int64(bucketKey(2)), 2}}
	with := func(f func(*Aggregate)) Partial {
		a := ok
		a.Hist = append([]int64(nil), ok.Hist...)
		f(&a)
		return Partial{Unit: UnitCount, Periods: []Aggregate{a}}
	}
	tests := []struct {
		name  string
		p     Partial
		valid bool
	}{
		{"empty", Partial{}, true},
		{"valid", with(func(*Aggregate) {}), true},
		{"no histogram", with(func(a *Aggregate) { a.Hist = nil }), true},
		{"no samples", with(func(a *Aggregate) { a.N = 0 }), false},
		{"NaN sum", with(func(a *Aggregate) { a.Sum = math.NaN() }), false},
		{"infinite max", with(func(a *Aggregate) { a.Max = math.Inf(1) }), false},
		{"min above max", with(func(a *Aggregate) { a.Min = 4 }), false},
		{"odd histogram", with(func(a *Aggregate) { a.Hist = a.Hist[:3] }), false},
		{"keys out of order", with(func(a *Aggregate) { a.Hist[0], a.Hist[2] = a.Hist[2], a.Hist[0] }), false},
		{"zero count", with(func(a *Aggregate) { a.Hist[1], a.Hist[3] = 0, 3 }), false},
		{"key out of range", with(func(a *Aggregate) { a.Hist[2] = 1 << 40 }), false},
		{"counts not N", with(func(a *Aggregate) { a.N = 4 }), false},
		{"periods out of order", Partial{Periods: []Aggregate{{Start: 120, N: 1}, {Start: 60, N: 1}}}, false},
		{"repeated period", Partial{Periods: []Aggregate{{Start: 60, N: 1}, {Start: 60, N: 1}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Check()
			if tt.valid != (err == nil) {
				t.Fatalf("Check = %v, want valid %v", err, tt.valid)
			}
			if err != nil && !errors.Is(err, ErrInvalidPartial) {
				t.Errorf("Check = %v, want ErrInvalidPartial", err)
			}
		})
	}
}

// FuzzPartial decodes a partial as another node would send it: whatever passes Check merges
// without a panic into datapoints that count every sample once.
func FuzzPartial(f *testing.F) {
	f.Add([]byte(`{"unit":"Count","periods":[{"t":60,"n":2,"sum":3,"min":1,"max":2,"h":[1,1,2,1]}]}`))
	f.Add([]byte(`{"periods":[{"t":0,"n":1,"sum":0,"min":0,"max":0,"h":[0,1]},{"t":120,"n":1,"sum":-1,"min":-1,"max":-1}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Partial
		if json.Unmarshal(b, &p) != nil || p.Check() != nil {
			return
		}
		q := streamQuery("M", t0, at(time.Hour), time.Minute, "p50", "p99")
		dps, err := Merge(q, p, p)
		if err != nil {
			t.Fatal(err)
		}
		var want, got float64
		for _, a := range p.Periods {
			want += 2 * float64(a.N)
		}
		for _, d := range dps {
			got += d.SampleCount
		}
		if got != want {
			t.Fatalf("merged SampleCount %v, want %v", got, want)
		}
	})
}
