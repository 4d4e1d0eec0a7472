package metrics

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/metrics.golden")

// t0 is a minute boundary that is also a 5-minute and an hour boundary.
var t0 = time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// newStore opens a store in dir ("" for memory only) with the clock at t0.
func newStore(tb testing.TB, dir string) (*Store, *clock) {
	tb.Helper()
	c := &clock{t: t0}
	s, err := Open(Config{Dir: dir}, slog.New(slog.DiscardHandler), c.now)
	if err != nil {
		tb.Fatal(err)
	}
	return s, c
}

// at is t0 plus d.
func at(d time.Duration) time.Time { return t0.Add(d) }

// streamQuery returns a query of metric of stream "s1".
func streamQuery(metric string, start, end time.Time, period time.Duration, ps ...string) Query {
	return Query{
		Namespace: Namespace, MetricName: metric,
		Dimensions: map[string]string{DimensionStream: "s1"},
		Start:      start, End: end, Period: period, Percentiles: ps,
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // substring of the error; "" for valid
	}{
		{"defaults", Config{}, ""},
		{"dir", Config{Dir: "x", Retention: 15 * 24 * time.Hour, FlushInterval: time.Second}, ""},
		{"short retention", Config{Retention: time.Minute}, "retention must be between 1h0m0s and 360h0m0s"},
		{"long retention", Config{Retention: 16 * 24 * time.Hour}, "retention must be between"},
		{"negative retention", Config{Retention: -time.Hour}, "retention must be between"},
		{"fast flush", Config{FlushInterval: time.Millisecond}, "flushInterval must be between 1s and 10m0s"},
		{"slow flush", Config{FlushInterval: time.Hour}, "flushInterval must be between"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate = %v, want error containing %q", err, tt.want)
			}
		})
	}
	if _, err := Open(Config{Retention: time.Second}, nil, nil); err == nil {
		t.Error("Open with an invalid config succeeded")
	}
}

// sample is one Record at t0 + at.
type sample struct {
	at     time.Duration
	stream string
	name   string
	v      float64
}

func TestStatistics(t *testing.T) {
	// IncomingRecords of s1: minute 0: 1, 2, 3; minute 1: 10; minute 4: 5; minute 5: 7; minute 61: 100.
	samples := []sample{
		{0, "s1", "IncomingRecords", 1},
		{30 * time.Second, "s1", "IncomingRecords", 2},
		{59*time.Second + 999*time.Millisecond, "s1", "IncomingRecords", 3},
		{60 * time.Second, "s1", "IncomingRecords", 10},
		{4*time.Minute + 59*time.Second, "s1", "IncomingRecords", 5},
		{5 * time.Minute, "s1", "IncomingRecords", 7},
		{61 * time.Minute, "s1", "IncomingRecords", 100},
		{0, "s2", "IncomingRecords", 1000},
		{0, "s1", "IncomingBytes", 1000},
	}
	s, c := newStore(t, "")
	for _, smp := range samples {
		c.set(at(smp.at))
		unit := UnitCount
		if smp.name == "IncomingBytes" {
			unit = UnitBytes
		}
		s.Record(smp.stream, smp.name, unit, smp.v)
	}
	c.set(at(2 * time.Hour))

	dp := func(ts time.Duration, n, sum, lo, hi float64) Datapoint {
		return Datapoint{Timestamp: at(ts), SampleCount: n, Sum: sum, Minimum: lo, Maximum: hi, Unit: UnitCount}
	}
	tests := []struct {
		name string
		q    Query
		want []Datapoint
	}{
		{"per minute", streamQuery("IncomingRecords", t0, at(time.Hour), time.Minute), []Datapoint{
			dp(0, 3, 6, 1, 3), dp(time.Minute, 1, 10, 10, 10), dp(4*time.Minute, 1, 5, 5, 5), dp(5*time.Minute, 1, 7, 7, 7),
		}},
		{"5 minute periods", streamQuery("IncomingRecords", t0, at(2*time.Hour), 5*time.Minute), []Datapoint{
			dp(0, 5, 21, 1, 10), dp(5*time.Minute, 1, 7, 7, 7), dp(time.Hour, 1, 100, 100, 100),
		}},
		{"periods aligned to the start", streamQuery("IncomingRecords", at(time.Minute), at(2*time.Hour), 5*time.Minute), []Datapoint{
			dp(time.Minute, 3, 22, 5, 10), dp(61*time.Minute, 1, 100, 100, 100),
		}},
		{"periods aligned to the start rounded down", streamQuery("IncomingRecords", at(4*time.Minute+30*time.Second), at(2*time.Hour), 2*time.Minute), []Datapoint{
			dp(4*time.Minute, 2, 12, 5, 7), dp(60*time.Minute, 1, 100, 100, 100),
		}},
		{"start rounded down to the minute", streamQuery("IncomingRecords", at(30*time.Second), at(time.Minute), time.Minute), []Datapoint{
			dp(0, 3, 6, 1, 3),
		}},
		{"end exclusive", streamQuery("IncomingRecords", t0, at(5*time.Minute), time.Hour), []Datapoint{
			dp(0, 5, 21, 1, 10),
		}},
		{"end inside a minute includes it", streamQuery("IncomingRecords", at(5*time.Minute), at(5*time.Minute+time.Second), time.Minute), []Datapoint{
			dp(5*time.Minute, 1, 7, 7, 7),
		}},
		{"hour period", streamQuery("IncomingRecords", t0, at(3*time.Hour), time.Hour), []Datapoint{
			dp(0, 6, 28, 1, 10), dp(time.Hour, 1, 100, 100, 100),
		}},
		{"other unit", streamQuery("IncomingBytes", t0, at(time.Hour), time.Hour), []Datapoint{
			{Timestamp: t0, SampleCount: 1, Sum: 1000, Minimum: 1000, Maximum: 1000, Unit: UnitBytes},
		}},
		{"percentiles", streamQuery("IncomingRecords", t0, at(time.Minute), time.Minute, "p0", "p50", "p100"), []Datapoint{
			{Timestamp: t0, SampleCount: 3, Sum: 6, Minimum: 1, Maximum: 3, Unit: UnitCount,
				Percentiles: map[string]float64{"p0": 1, "p50": bucketValue(bucketKey(2)), "p100": 3}},
		}},
		{"empty range", streamQuery("IncomingRecords", at(10*time.Minute), at(20*time.Minute), time.Minute), nil},
		{"other namespace", Query{Namespace: "AWS/Kinesis", MetricName: "IncomingRecords", Dimensions: map[string]string{DimensionStream: "s1"}, Start: t0, End: at(time.Hour), Period: time.Minute}, nil},
		{"no dimensions", Query{Namespace: Namespace, MetricName: "IncomingRecords", Start: t0, End: at(time.Hour), Period: time.Minute}, nil},
		{"extra dimension", Query{Namespace: Namespace, MetricName: "IncomingRecords", Dimensions: map[string]string{DimensionStream: "s1", "X": "y"}, Start: t0, End: at(time.Hour), Period: time.Minute}, nil},
		{"other dimension", Query{Namespace: Namespace, MetricName: "IncomingRecords", Dimensions: map[string]string{"StreamName": "s1"}, Start: t0, End: at(time.Hour), Period: time.Minute}, nil},
		{"unknown stream", Query{Namespace: Namespace, MetricName: "IncomingRecords", Dimensions: map[string]string{DimensionStream: "nope"}, Start: t0, End: at(time.Hour), Period: time.Minute}, nil},
		{"unknown metric", streamQuery("Nope", t0, at(time.Hour), time.Minute), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Statistics(tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Statistics (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStatisticsErrors(t *testing.T) {
	s, _ := newStore(t, "")
	s.Record("s1", "IncomingRecords", UnitCount, 1)
	tests := []struct {
		name string
		q    Query
		want error
	}{
		{"zero period", streamQuery("IncomingRecords", t0, at(time.Hour), 0), ErrInvalidPeriod},
		{"negative period", streamQuery("IncomingRecords", t0, at(time.Hour), -time.Minute), ErrInvalidPeriod},
		{"90 s period", streamQuery("IncomingRecords", t0, at(time.Hour), 90*time.Second), ErrInvalidPeriod},
		{"no p", streamQuery("IncomingRecords", t0, at(time.Hour), time.Minute, "99"), ErrInvalidPercentile},
		{"above 100", streamQuery("IncomingRecords", t0, at(time.Hour), time.Minute, "p100.1"), ErrInvalidPercentile},
		{"exponent", streamQuery("IncomingRecords", t0, at(time.Hour), time.Minute, "p1e1"), ErrInvalidPercentile},
		{"trimmed mean", streamQuery("IncomingRecords", t0, at(time.Hour), time.Minute, "tm99"), ErrInvalidPercentile},
		{"dot", streamQuery("IncomingRecords", t0, at(time.Hour), time.Minute, "p."), ErrInvalidPercentile},
		{"error even for another namespace", Query{Namespace: "X", Period: time.Second}, ErrInvalidPeriod},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Statistics(tt.q)
			if !errors.Is(err, tt.want) || got != nil {
				t.Errorf("Statistics = %v, %v; want nil, %v", got, err, tt.want)
			}
		})
	}
	for _, p := range []string{"p0", "p50", "p99.9", "p99.99", "p100", "p100.0", "p0.1"} {
		if _, ok := parsePercentile(p); !ok {
			t.Errorf("parsePercentile(%q) refused", p)
		}
	}
}

func TestListAndSeries(t *testing.T) {
	s, c := newStore(t, "")
	s.Record("s2", "IncomingRecords", UnitCount, 1)
	s.Record("s1", "IncomingRecords", UnitCount, 2)
	s.Record("s1", "DeliveryToS3.DataFreshness", UnitSeconds, 3)
	c.set(at(2 * time.Minute))
	s.Record("s1", "IncomingRecords", UnitCount, 4)
	s.Record("s1", "IncomingRecords", UnitCount, 6)

	id := func(name, stream string) MetricID {
		return MetricID{Namespace: Namespace, MetricName: name, Dimensions: []Dimension{{DimensionStream, stream}}}
	}
	tests := []struct {
		name      string
		namespace string
		metric    string
		dims      []Dimension
		want      []MetricID
	}{
		{"all", "", "", nil, []MetricID{id("DeliveryToS3.DataFreshness", "s1"), id("IncomingRecords", "s1"), id("IncomingRecords", "s2")}},
		{"namespace", Namespace, "", nil, []MetricID{id("DeliveryToS3.DataFreshness", "s1"), id("IncomingRecords", "s1"), id("IncomingRecords", "s2")}},
		{"other namespace", "AWS/S3", "", nil, nil},
		{"metric", "", "IncomingRecords", nil, []MetricID{id("IncomingRecords", "s1"), id("IncomingRecords", "s2")}},
		{"stream", "", "", []Dimension{{DimensionStream, "s2"}}, []MetricID{id("IncomingRecords", "s2")}},
		{"any stream", "", "DeliveryToS3.DataFreshness", []Dimension{{DimensionStream, ""}}, []MetricID{id("DeliveryToS3.DataFreshness", "s1")}},
		{"other dimension", "", "", []Dimension{{"StreamName", ""}}, nil},
		{"no such metric", "", "Nope", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, s.List(tt.namespace, tt.metric, tt.dims)); diff != "" {
				t.Errorf("List (-want +got):\n%s", diff)
			}
		})
	}

	want := []Datapoint{
		{Timestamp: t0, SampleCount: 1, Sum: 2, Minimum: 2, Maximum: 2, Unit: UnitCount},
		{Timestamp: at(2 * time.Minute), SampleCount: 2, Sum: 10, Minimum: 4, Maximum: 6, Unit: UnitCount},
	}
	if diff := cmp.Diff(want, s.Series("s1", "IncomingRecords", time.Time{})); diff != "" {
		t.Errorf("Series (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want[1:], s.Series("s1", "IncomingRecords", at(time.Minute+59*time.Second))); diff != "" {
		t.Errorf("Series since 1m59s (-want +got):\n%s", diff)
	}
	if got := s.Series("s1", "Nope", time.Time{}); got != nil {
		t.Errorf("Series of an unknown metric = %v", got)
	}
}

func TestRecordDropsNonFinite(t *testing.T) {
	s, _ := newStore(t, "")
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		s.Record("s1", "IncomingRecords", UnitCount, v)
	}
	if got := s.List("", "", nil); got != nil {
		t.Errorf("List after non-finite records = %v", got)
	}
}

func TestRetention(t *testing.T) {
	dir := t.TempDir()
	s, c := newStore(t, dir)
	s.Record("old", "IncomingRecords", UnitCount, 1)
	s.Record("both", "IncomingRecords", UnitCount, 1)
	c.set(at(23 * time.Hour))
	s.Record("both", "IncomingRecords", UnitCount, 2)
	if err := s.persist(); err != nil {
		t.Fatal(err)
	}

	// 24h after t0 the minute t0 (which ends at t0+1m) is still inside; 24h+1m after it is not.
	c.set(at(24 * time.Hour))
	if got := len(s.List("", "", nil)); got != 2 {
		t.Errorf("at 24h: %d metrics, want 2", got)
	}
	c.set(at(24*time.Hour + time.Minute))
	wantList := []MetricID{{Namespace: Namespace, MetricName: "IncomingRecords", Dimensions: []Dimension{{DimensionStream, "both"}}}}
	if diff := cmp.Diff(wantList, s.List("", "", nil)); diff != "" {
		t.Errorf("List before prune (-want +got):\n%s", diff)
	}
	q := Query{Namespace: Namespace, MetricName: "IncomingRecords", Dimensions: map[string]string{DimensionStream: "both"}, Start: t0, End: at(48 * time.Hour), Period: time.Hour}
	wantStats := []Datapoint{{Timestamp: at(23 * time.Hour), SampleCount: 1, Sum: 2, Minimum: 2, Maximum: 2, Unit: UnitCount}}
	got, err := s.Statistics(q)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantStats, got); diff != "" {
		t.Errorf("Statistics (-want +got):\n%s", diff)
	}

	s.prune()
	if s.get("old", "IncomingRecords") != nil {
		t.Error("series without minutes in the window was not removed")
	}
	s.Record("old", "IncomingRecords", UnitCount, 5) // a removed series comes back fresh
	if got := s.Series("old", "IncomingRecords", time.Time{}); len(got) != 1 || got[0].Sum != 5 {
		t.Errorf("Series of a recreated series = %v", got)
	}

	// The snapshot written at 23h still holds the old minute; loading it at 24h1m drops it.
	s2, err := Open(Config{Dir: dir}, nil, c.now)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantList, s2.List("", "", nil)); diff != "" {
		t.Errorf("List after load (-want +got):\n%s", diff)
	}
}

func TestPersistRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s, c := newStore(t, dir)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		c.set(at(time.Duration(i) * 3 * time.Second))
		s.Record("s1", "PutRecordBatch.Latency", UnitMilliseconds, rng.ExpFloat64()*20)
		s.Record("s1", "DeliveryToS3.Success", UnitCount, float64(i%2))
		s.Record("s-2.x", "IncomingBytes", UnitBytes, float64(rng.IntN(1<<20)))
		s.Record("s1", "Weird", UnitNone, -rng.Float64())
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Run(ctx); err != nil { // persists on exit
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, FileName+".tmp")); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind: %v", err)
	}
	s2, err := Open(Config{Dir: dir}, nil, c.now)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range s.List("", "", nil) {
		q := Query{Namespace: Namespace, MetricName: id.MetricName, Dimensions: map[string]string{DimensionStream: id.Dimensions[0].Value},
			Start: t0, End: at(3 * time.Hour), Period: 5 * time.Minute, Percentiles: []string{"p10", "p50", "p99"}}
		want, _ := s.Statistics(q)
		got, _ := s2.Statistics(q)
		if len(want) == 0 {
			t.Errorf("%s: no datapoints", id.MetricName)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s after reload (-want +got):\n%s", id.MetricName, diff)
		}
	}
	if diff := cmp.Diff(s.List("", "", nil), s2.List("", "", nil)); diff != "" {
		t.Errorf("List after reload (-want +got):\n%s", diff)
	}
	var a, b bytes.Buffer
	s.writeExposition(&a, false)
	s2.writeExposition(&b, false)
	if diff := cmp.Diff(a.String(), b.String()); diff != "" {
		t.Errorf("exposition after reload (-want +got):\n%s", diff)
	}
	// Encoding is deterministic up to series order: re-encoding the loaded store decodes equal.
	if _, err := decode(s2.encode()); err != nil {
		t.Errorf("decode(encode(loaded)) = %v", err)
	}
}

// validFile returns a snapshot of a small store.
func validFile(tb testing.TB) []byte {
	tb.Helper()
	s, c := newStore(tb, "")
	s.Record("s1", "IncomingRecords", UnitCount, 3)
	s.Record("s1", "IncomingRecords", UnitCount, 0)
	c.set(at(2 * time.Minute))
	s.Record("s1", "IncomingRecords", UnitCount, 500)
	s.Record("s2", "PutRecord.Latency", UnitMilliseconds, 12.5)
	return s.encode()
}

func TestCorruptFile(t *testing.T) {
	good := validFile(t)
	if _, err := decode(good); err != nil {
		t.Fatalf("decode(valid) = %v", err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x40
		return b
	}
	wrongVersion := bytes.Clone(good)
	wrongVersion[8] = 2
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"garbage", []byte("not a metrics file at all")},
		{"magic only", good[:8]},
		{"wrong version", wrongVersion},
		{"truncated in a frame", good[:len(good)-20]},
		{"truncated before the trailer", good[:len(good)-7]},
		{"bit flip in a payload", flip(20)},
		{"bit flip in a length", flip(13)},
		{"bit flip in the last checksum", flip(len(good) - 1)},
		{"trailing bytes", append(bytes.Clone(good), 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decode(tt.data); !errors.Is(err, ErrCorrupt) {
				t.Errorf("decode = %v, want ErrCorrupt", err)
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, FileName), tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			c := &clock{t: t0}
			s, err := Open(Config{Dir: dir}, slog.New(slog.NewTextHandler(&logs, nil)), c.now)
			if err != nil {
				t.Fatalf("Open = %v", err)
			}
			if got := s.List("", "", nil); got != nil {
				t.Errorf("List after a corrupt file = %v", got)
			}
			if !strings.Contains(logs.String(), "metrics file unreadable") {
				t.Errorf("no warning logged: %q", logs.String())
			}
			s.Record("s1", "IncomingRecords", UnitCount, 1) // and the store works
			if err := s.persist(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestConcurrentRecordIsExact(t *testing.T) {
	s, c := newStore(t, "")
	const goroutines, perG = 16, 5000
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var clockWG sync.WaitGroup
	clockWG.Go(func() { // move the clock across minutes while recording
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			c.set(at(time.Duration(i) * 7 * time.Second))
			time.Sleep(50 * time.Microsecond)
		}
	})
	readers := sync.WaitGroup{}
	readers.Go(func() { // and read concurrently, which drains the stripes
		for {
			select {
			case <-stop:
				return
			default:
			}
			s.List("", "", nil)
			s.Series("hot", "IncomingRecords", time.Time{})
		}
	})
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				s.Record("hot", "IncomingRecords", UnitCount, float64(i%10))
				s.Record("hot", "IncomingBytes", UnitBytes, 1)
				if i%100 == 0 {
					s.Record("s"+string(rune('a'+g)), "IncomingRecords", UnitCount, 1)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	clockWG.Wait()
	readers.Wait()

	const n = goroutines * perG
	sum := func(stream, name string) (count, total float64) {
		for _, d := range s.Series(stream, name, time.Time{}) {
			count += d.SampleCount
			total += d.Sum
		}
		return count, total
	}
	if count, total := sum("hot", "IncomingRecords"); count != n || total != goroutines*perG/10*45 {
		t.Errorf("IncomingRecords: count %v sum %v; want %v and %v", count, total, n, goroutines*perG/10*45)
	}
	if count, total := sum("hot", "IncomingBytes"); count != n || total != n {
		t.Errorf("IncomingBytes: count %v sum %v; want %v", count, total, n)
	}
	for g := range goroutines {
		if count, _ := sum("s"+string(rune('a'+g)), "IncomingRecords"); count != perG/100 {
			t.Errorf("stream %d: count %v, want %d", g, count, perG/100)
		}
	}
	// Histogram counts agree with sample counts in every minute.
	ser := s.get("hot", "IncomingRecords")
	ser.drain()
	for _, m := range ser.minutes {
		var hc uint64
		for _, b := range m.hist {
			hc += b.count
		}
		if hc != m.n {
			t.Errorf("minute %d: histogram %d samples, count %d", m.t, hc, m.n)
		}
	}
}

// exactPercentile returns the nearest-rank p-th percentile of sorted xs.
func exactPercentile(xs []float64, p float64) float64 {
	r := int(math.Ceil(p / 100 * float64(len(xs))))
	return xs[min(max(r, 1), len(xs))-1]
}

func TestPercentileAccuracy(t *testing.T) {
	gens := []struct {
		name string
		gen  func(*rand.Rand) float64
	}{
		{"uniform", func(r *rand.Rand) float64 { return r.Float64() * 1000 }},
		{"lognormal latency", func(r *rand.Rand) float64 { return math.Exp(r.NormFloat64()*2 + 3) }},
		{"with zeros", func(r *rand.Rand) float64 { return float64(r.IntN(3)) * r.Float64() }},
		{"ratios", func(r *rand.Rand) float64 { return float64(r.IntN(2)) }},
		{"bytes", func(r *rand.Rand) float64 { return float64(r.IntN(1 << 22)) }},
	}
	ps := []string{"p0", "p1", "p10", "p50", "p90", "p99", "p99.9", "p100"}
	for _, g := range gens {
		t.Run(g.name, func(t *testing.T) {
			s, c := newStore(t, "")
			rng := rand.New(rand.NewPCG(7, uint64(len(g.name))))
			var xs []float64
			for i := range 20000 {
				c.set(at(time.Duration(i) * 30 * time.Millisecond)) // 10 minutes
				v := g.gen(rng)
				xs = append(xs, v)
				s.Record("s1", "M", UnitNone, v)
			}
			slices.Sort(xs)
			got, err := s.Statistics(streamQuery("M", t0, at(time.Hour), time.Hour, ps...))
			if err != nil || len(got) != 1 {
				t.Fatalf("Statistics = %v, %v", got, err)
			}
			for _, p := range ps {
				x, _ := parsePercentile(p)
				want := exactPercentile(xs, x)
				if d := math.Abs(got[0].Percentiles[p] - want); d > math.Abs(want)*MaxRelativeError {
					t.Errorf("%s = %v, exact %v: relative error %.4g > %.4g", p, got[0].Percentiles[p], want, d/math.Abs(want), MaxRelativeError)
				}
			}
		})
	}
}

func TestPercentilesOmittedForNegativeSamples(t *testing.T) {
	s, c := newStore(t, "")
	s.Record("s1", "M", UnitNone, 5)
	c.set(at(time.Minute))
	s.Record("s1", "M", UnitNone, -1)
	got, err := s.Statistics(streamQuery("M", t0, at(time.Hour), time.Minute, "p50"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Datapoint{
		{Timestamp: t0, SampleCount: 1, Sum: 5, Minimum: 5, Maximum: 5, Unit: UnitNone, Percentiles: map[string]float64{"p50": 5}},
		{Timestamp: at(time.Minute), SampleCount: 1, Sum: -1, Minimum: -1, Maximum: -1, Unit: UnitNone},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Statistics (-want +got):\n%s", diff)
	}
	// The histogram itself handles negative values, in value order.
	h := []bucket{{bucketKey(-8), 1}, {bucketKey(-2), 1}, {bucketKey(3), 1}}
	if got := percentile(h, 3, -8, 3, 50); math.Abs(got+2) > 2*MaxRelativeError {
		t.Errorf("median of -8, -2, 3 = %v", got)
	}
}

func TestHistogramBuckets(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	prev := math.Inf(-1)
	var prevKey int32 = math.MinInt32
	for _, v := range []float64{-1e300, -5, -1, -1e-300, 0, 1e-300, 1e-9, 1, 1.0078125, 2, 1e12, math.MaxFloat64} {
		k := bucketKey(v)
		if v <= prev || k < prevKey {
			t.Errorf("bucketKey(%v) = %d not ascending", v, k)
		}
		prev, prevKey = v, k
	}
	for range 100000 {
		v := math.Exp(rng.NormFloat64() * 20)
		if d := math.Abs(bucketValue(bucketKey(v)) - v); d > v*MaxRelativeError {
			t.Fatalf("bucketValue(bucketKey(%v)) = %v", v, bucketValue(bucketKey(v)))
		}
	}
}

func TestPrometheusGolden(t *testing.T) {
	s, c := newStore(t, "")
	s.Record("s1", "IncomingRecords", UnitCount, 500)
	s.Record("s1", "IncomingBytes", UnitBytes, 512000)
	s.Record("s1", "PutRecordBatch.Latency", UnitMilliseconds, 40)
	s.Record("s1", "DeliveryToS3.DataFreshness", UnitSeconds, 90)
	s.Record("stale", "DeliveryToS3.DataFreshness", UnitSeconds, 1)
	c.set(at(3 * time.Minute))
	s.Record("s1", "IncomingRecords", UnitCount, 250)
	s.Record("s1", "IncomingBytes", UnitBytes, 256000)
	s.Record("s1", "PutRecordBatch.Latency", UnitMilliseconds, 20)
	s.Record("s1", "DeliveryToS3.DataFreshness", UnitSeconds, 12)
	s.Record("s1", "DeliveryToS3.DataFreshness", UnitSeconds, 30)
	s.Record("s1", "DeliveryToS3.Success", UnitCount, 1)
	s.Record("s1", "DeliveryToS3.Success", UnitCount, 0)
	s.Record("s1", "JQProcessing.Duration", UnitMilliseconds, 3)
	s.Record("s1", "BytesPerSecondLimit", UnitBytes, 5<<20)
	s.Record(`q"\x`, "IncomingRecords", UnitCount, 1)
	c.set(at(4*time.Minute + 10*time.Second))
	s.Gauge("hydrant_journal_bytes", "Bytes held in the journal per stream.", func() []Sample {
		return []Sample{
			{Labels: map[string]string{"stream": "s2"}, Value: 2048},
			{Labels: map[string]string{"stream": "s1"}, Value: 1024},
		}
	})
	s.Gauge("hydrant-bad name", "Sanitized.\nSecond line.", func() []Sample { return []Sample{{Value: 1}} })

	var buf bytes.Buffer
	s.writeExposition(&buf, false)
	golden := filepath.Join("testdata", "metrics.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/metrics -run TestPrometheusGolden -update)", err)
	}
	if diff := cmp.Diff(string(want), buf.String()); diff != "" {
		t.Errorf("exposition (-want +got), regenerate with -update:\n%s", diff)
	}
}

func TestServeHTTP(t *testing.T) {
	s, _ := newStore(t, "")
	s.Record("s1", "IncomingRecords", UnitCount, 2)
	srv := httptest.NewServer(s)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ContentType {
		t.Errorf("GET = %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		"\nhydrant_firehose_incoming_records_total{stream=\"s1\"} 2\n",
		"\n# TYPE go_goroutines gauge\n",
		"\ngo_memstats_heap_alloc_bytes ",
		"\ngo_gc_cycles_total ",
	} {
		if !strings.Contains(body.String(), want) {
			t.Errorf("body lacks %q", want)
		}
	}
	if _, err := os.Stat("/proc/self/stat"); err == nil && !strings.Contains(body.String(), "\nprocess_resident_memory_bytes ") {
		t.Error("body lacks process_resident_memory_bytes")
	}

	resp, err = http.Post(srv.URL+"/metrics", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST = %d, want 405", resp.StatusCode)
	}
}

func TestSnakeCase(t *testing.T) {
	tests := map[string]string{
		"IncomingBytes":                           "incoming_bytes",
		"DeliveryToS3.DataFreshness":              "delivery_to_s3_data_freshness",
		"JQProcessing.Duration":                   "jq_processing_duration",
		"KMSKeyAccessDenied":                      "kms_key_access_denied",
		"PutRecordBatch.Records":                  "put_record_batch_records",
		"DeliveryToAmazonOpenSearchService.Bytes": "delivery_to_amazon_open_search_service_bytes",
		"BackupToS3.Bytes":                        "backup_to_s3_bytes",
		"Odd__Name-x":                             "odd_name_x",
	}
	for in, want := range tests {
		if got := snakeCase(in); got != want {
			t.Errorf("snakeCase(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseProcStat(t *testing.T) {
	stat := "4242 (hy drant) (x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 12 0 100 900000000 2000 18446744073709551615"
	cpu, rss, ok := parseProcStat([]byte(stat), 4096)
	if !ok || cpu != 3 || rss != 2000*4096 {
		t.Errorf("parseProcStat = %v, %v, %v; want 3, %d, true", cpu, rss, ok, 2000*4096)
	}
	if _, _, ok := parseProcStat([]byte("1 (x) S 1"), 4096); ok {
		t.Error("parseProcStat accepted a short line")
	}
}

func FuzzDecode(f *testing.F) {
	good := validFile(f)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte(fileMagic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := decode(b)
		if err != nil {
			return
		}
		// A file that decodes loads and answers queries without panicking.
		for _, ser := range out {
			for _, m := range ser.minutes {
				percentile(m.hist, m.n, m.min, m.max, 99)
			}
		}
	})
}

// benchStore returns a memory-only store on the real clock.
func benchStore(b *testing.B) *Store {
	b.Helper()
	s, err := Open(Config{}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func BenchmarkRecord(b *testing.B) {
	s := benchStore(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.Record("s1", "IncomingRecords", UnitCount, float64(i&1023))
	}
}

// BenchmarkRecord2Goroutines splits b.N records of one hot metric between two goroutines.
func BenchmarkRecord2Goroutines(b *testing.B) {
	for _, tc := range []struct {
		name    string
		streams [2]string
	}{
		{"same-metric", [2]string{"s1", "s1"}},
		{"different-streams", [2]string{"s1", "s2"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s := benchStore(b)
			s.Record("s1", "IncomingRecords", UnitCount, 1)
			s.Record("s2", "IncomingRecords", UnitCount, 1)
			b.ReportAllocs()
			b.ResetTimer()
			var wg sync.WaitGroup
			for g := range 2 {
				wg.Go(func() {
					for i := g; i < b.N; i += 2 {
						s.Record(tc.streams[g], "IncomingRecords", UnitCount, float64(i&1023))
					}
				})
			}
			wg.Wait()
		})
	}
}

// BenchmarkRecordParallel records from GOMAXPROCS goroutines with the real clock.
func BenchmarkRecordParallel(b *testing.B) {
	s := benchStore(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			s.Record("s1", "IncomingRecords", UnitCount, float64(i&1023))
			i++
		}
	})
}

func BenchmarkPersist(b *testing.B) {
	s, c := newStore(b, b.TempDir())
	// 20 series × 24 h of minutes with ~10 buckets each.
	for m := range 24 * 60 {
		c.set(at(time.Duration(m) * time.Minute))
		for k := range 20 {
			for j := range 10 {
				s.Record("s1", "M"+string(rune('a'+k)), UnitMilliseconds, float64(j*10+1))
			}
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.persist(); err != nil {
			b.Fatal(err)
		}
	}
	st, _ := os.Stat(filepath.Join(s.cfg.Dir, FileName))
	b.ReportMetric(float64(st.Size()), "file-bytes")
}
