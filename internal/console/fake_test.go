package console

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"sync"
	"time"
)

// fakeSource is a Source held in memory; tests change it while a page polls it.
type fakeSource struct {
	mu       sync.Mutex
	streams  []StreamSummary
	desc     map[string]json.RawMessage
	series   map[string]map[string][]Point // stream → metric → points, oldest first
	objects  map[string][]Object           // latest first
	failures map[string][]Failure          // latest first
	journal  JournalSpace
	memory   MemoryBudget
	sources  map[string]SourceStatus
	cluster  *Cluster // nil on a single node
	// seriesErr, when set, is returned by Series with the points (this node's share).
	seriesErr error
}

var _ Source = (*fakeSource)(nil)

func newFakeSource() *fakeSource {
	return &fakeSource{
		desc:     map[string]json.RawMessage{},
		series:   map[string]map[string][]Point{},
		objects:  map[string][]Object{},
		failures: map[string][]Failure{},
		sources:  map[string]SourceStatus{},
	}
}

func (f *fakeSource) Streams() []StreamSummary {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.streams)
}

func (f *fakeSource) Describe(name string) (json.RawMessage, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.desc[name]
	return d, ok
}

func (f *fakeSource) Series(_ context.Context, name, metric string, since time.Time) ([]Point, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Point
	for _, p := range f.series[name][metric] {
		if !p.Time.Before(since) {
			out = append(out, p)
		}
	}
	return out, f.seriesErr
}

func (f *fakeSource) Cluster() (Cluster, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cluster == nil {
		return Cluster{}, false
	}
	c := *f.cluster
	c.Nodes = slices.Clone(c.Nodes)
	c.Owners = maps.Clone(c.Owners)
	return c, true
}

// clustered makes the source a node of a cluster.
func (f *fakeSource) clustered(c Cluster) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cluster = &c
}

// failReads makes Series fail with err (nil: succeed again).
func (f *fakeSource) failReads(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seriesErr = err
}

func (f *fakeSource) Objects(name string, limit int) []Object {
	f.mu.Lock()
	defer f.mu.Unlock()
	o := f.objects[name]
	return slices.Clone(o[:min(limit, len(o))])
}

func (f *fakeSource) Failures(name string, limit int) []Failure {
	f.mu.Lock()
	defer f.mu.Unlock()
	o := f.failures[name]
	return slices.Clone(o[:min(limit, len(o))])
}

func (f *fakeSource) Journal() JournalSpace {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.journal
}

func (f *fakeSource) Memory() MemoryBudget {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.memory
}

func (f *fakeSource) SourceStatus(name string) (SourceStatus, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.sources[name]
	st.Parts = slices.Clone(st.Parts)
	return st, ok
}

// reading sets the status of a stream's source reader.
func (f *fakeSource) reading(name string, st SourceStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sources[name] = st
}

// add registers a stream with its description.
func (f *fakeSource) add(s StreamSummary, desc string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.streams = append(f.streams, s)
	f.desc[s.Name] = json.RawMessage(desc)
	f.series[s.Name] = map[string][]Point{}
}

// point appends a value of a metric.
func (f *fakeSource) point(name, metric string, t time.Time, v float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.series[name][metric] = append(f.series[name][metric], Point{Time: t, Value: v})
}

// delivered records a new delivered object, latest first.
func (f *fakeSource) delivered(name string, o Object) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.objects[name] = append([]Object{o}, f.objects[name]...)
}

// failed records a new failure, latest first.
func (f *fakeSource) failed(name string, x Failure) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures[name] = append([]Failure{x}, f.failures[name]...)
}
