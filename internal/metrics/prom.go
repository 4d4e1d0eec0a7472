package metrics

import (
	"bufio"
	"bytes"
	"cmp"
	"io"
	"math"
	"net/http"
	"os"
	rtmetrics "runtime/metrics"
	"slices"
	"strconv"
	"strings"
)

// ContentType is the media type of the Prometheus text exposition format 0.0.4.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Sample is one labelled value of a caller gauge.
type Sample struct {
	// Labels are the label names and values of the sample.
	Labels map[string]string
	// Value is the sample value.
	Value float64
}

// gauge is a registered caller gauge.
type gauge struct {
	help string
	fn   func() []Sample
}

// Gauge registers a gauge named name, whose samples fn returns on every scrape. fn runs outside
// the store's locks. Invalid characters in name become "_"; registering a name again replaces the
// earlier gauge.
func (s *Store) Gauge(name, help string, fn func() []Sample) {
	s.gaugesMu.Lock()
	defer s.gaugesMu.Unlock()
	s.gauges[sanitizeName(name)] = gauge{help: help, fn: fn}
}

// ServeHTTP answers GET and HEAD with the Prometheus text exposition of every metric.
func (s *Store) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var buf bytes.Buffer
	s.writeExposition(&buf, true)
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(buf.Bytes())
}

// family is one metric family of the exposition.
type family struct {
	name, help, kind string
	samples          []promSample
}

// promSample is one sample line: rendered labels and value.
type promSample struct {
	labels string // "{a=\"b\"}" or ""
	value  float64
}

// statistic says how a series is exposed.
type statistic int

const (
	statTotal statistic = iota // counter of the Sum
	statMax                    // gauge of the last minute's Maximum
	statAvg                    // gauge of the last minute's Average
)

// exposeAs returns how the series name of unit is exposed (docs/design/metrics.md).
func exposeAs(name string, unit Unit) statistic {
	switch {
	case strings.HasSuffix(name, ".DataFreshness"), strings.HasSuffix(name, "Limit"),
		name == "PartitionCount", name == "PartitionCountExceeded", name == "KinesisMillisBehindLatest",
		name == "KafkaOffsetLag":
		return statMax
	case strings.HasSuffix(name, ".Success"):
		return statAvg
	case unit == UnitBytes || unit == UnitCount:
		return statTotal
	}
	return statAvg
}

// unitSuffix is appended to a family name unless the name already holds it as a word.
var unitSuffix = map[Unit]string{
	UnitBytes:          "_bytes",
	UnitSeconds:        "_seconds",
	UnitMilliseconds:   "_milliseconds",
	UnitPercent:        "_percent",
	UnitBytesPerSecond: "_bytes_per_second",
}

// familyName returns the Prometheus name of a series and its kind.
func familyName(name string, unit Unit, stat statistic) string {
	n := "hydrant_firehose_" + snakeCase(name)
	if suf := unitSuffix[unit]; suf != "" && !strings.Contains(n+"_", suf+"_") {
		n += suf
	}
	if stat == statTotal {
		n += "_total"
	}
	return n
}

// snakeCase turns a CloudWatch metric name into a Prometheus name part:
// "DeliveryToS3.DataFreshness" → "delivery_to_s3_data_freshness", "JQProcessing" → "jq_processing".
func snakeCase(s string) string {
	var b strings.Builder
	isUpper := func(c byte) bool { return 'A' <= c && c <= 'Z' }
	isLower := func(c byte) bool { return 'a' <= c && c <= 'z' }
	isDigit := func(c byte) bool { return '0' <= c && c <= '9' }
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isUpper(c):
			if i > 0 && (isLower(s[i-1]) || isDigit(s[i-1]) ||
				isUpper(s[i-1]) && i+1 < len(s) && isLower(s[i+1])) {
				b.WriteByte('_')
			}
			b.WriteByte(c + 'a' - 'A')
		case isLower(c), isDigit(c):
			b.WriteByte(c)
		default:
			b.WriteByte('_')
		}
	}
	out := strings.ReplaceAll(b.String(), "__", "_")
	return strings.Trim(out, "_")
}

// sanitizeName replaces the characters a Prometheus metric or label name cannot hold with "_".
func sanitizeName(s string) string {
	if s == "" {
		return "_"
	}
	b := []byte(s)
	for i, c := range b {
		ok := c == '_' || c == ':' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9'
		if !ok {
			b[i] = '_'
		}
	}
	return string(b)
}

// labels renders a label set, sorted by name.
func labels(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strings.ReplaceAll(sanitizeName(k), ":", "_"))
		b.WriteString(`="`)
		b.WriteString(labelEscaper.Replace(m[k]))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

// formatValue renders a sample value as the text format spells it.
func formatValue(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// writeExposition writes every family, sorted by name; process metrics only when withProcess.
func (s *Store) writeExposition(w io.Writer, withProcess bool) {
	fams := map[string]*family{}
	add := func(name, help, kind, lbls string, v float64) {
		f := fams[name]
		if f == nil {
			f = &family{name: name, help: help, kind: kind}
			fams[name] = f
		}
		f.samples = append(f.samples, promSample{lbls, v})
	}

	cur := unixMinute(s.now())
	all := s.all()
	for _, ser := range all {
		ser.drain()
		ser.mu.Lock()
		total, last := ser.totalSum, minute{}
		if k := len(ser.minutes); k > 0 {
			last = ser.minutes[k-1]
		}
		ser.mu.Unlock()
		stat := exposeAs(ser.key.name, ser.unit)
		name := familyName(ser.key.name, ser.unit, stat)
		lbls := labels(map[string]string{"stream": ser.key.stream})
		switch stat {
		case statTotal:
			add(name, "Sum of "+ser.key.name+" ("+string(ser.unit)+") since the series was created.", "counter", lbls, total)
		case statMax, statAvg:
			if last.n == 0 || last.t < cur-1 {
				continue // stale
			}
			v, what := last.max, "Maximum"
			if stat == statAvg {
				v, what = last.sum/float64(last.n), "Average"
			}
			add(name, what+" of "+ser.key.name+" ("+string(ser.unit)+") over the last minute.", "gauge", lbls, v)
		}
	}
	add("hydrant_metrics_series", "Number of metric series in the minute store.", "gauge", "", float64(len(all)))

	s.gaugesMu.Lock()
	gauges := make(map[string]gauge, len(s.gauges))
	for k, g := range s.gauges {
		gauges[k] = g
	}
	s.gaugesMu.Unlock()
	for name, g := range gauges {
		if fams[name] != nil {
			continue // a store family wins over a caller gauge of the same name
		}
		fams[name] = &family{name: name, help: g.help, kind: "gauge"}
		for _, smp := range g.fn() {
			fams[name].samples = append(fams[name].samples, promSample{labels(smp.Labels), smp.Value})
		}
	}

	if withProcess {
		processFamilies(add)
	}

	names := make([]string, 0, len(fams))
	for n := range fams {
		names = append(names, n)
	}
	slices.Sort(names)
	bw := bufio.NewWriter(w)
	for _, n := range names {
		f := fams[n]
		slices.SortFunc(f.samples, func(a, b promSample) int { return cmp.Compare(a.labels, b.labels) })
		bw.WriteString("# HELP " + f.name + " " + helpEscaper.Replace(f.help) + "\n")
		bw.WriteString("# TYPE " + f.name + " " + f.kind + "\n")
		for _, smp := range f.samples {
			bw.WriteString(f.name + smp.labels + " " + formatValue(smp.value) + "\n")
		}
	}
	bw.Flush()
}

// processFamilies adds the Go runtime and process metrics.
func processFamilies(add func(name, help, kind, lbls string, v float64)) {
	rs := []rtmetrics.Sample{
		{Name: "/sched/goroutines:goroutines"},
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/gc/cycles/total:gc-cycles"},
	}
	rtmetrics.Read(rs)
	value := func(s rtmetrics.Sample) (float64, bool) {
		switch s.Value.Kind() {
		case rtmetrics.KindUint64:
			return float64(s.Value.Uint64()), true
		case rtmetrics.KindFloat64:
			return s.Value.Float64(), true
		}
		return 0, false
	}
	if v, ok := value(rs[0]); ok {
		add("go_goroutines", "Number of goroutines that currently exist.", "gauge", "", v)
	}
	if v, ok := value(rs[1]); ok {
		add("go_memstats_heap_alloc_bytes", "Number of heap bytes allocated and still in use.", "gauge", "", v)
	}
	if v, ok := value(rs[2]); ok {
		add("go_gc_cycles_total", "Number of completed GC cycles.", "counter", "", v)
	}
	if cpu, rss, ok := procStat(); ok {
		add("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", "counter", "", cpu)
		add("process_resident_memory_bytes", "Resident memory size in bytes.", "gauge", "", rss)
	}
}

// procStat reads the CPU seconds and resident bytes of this process from /proc/self/stat.
func procStat() (cpu, rss float64, ok bool) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, 0, false
	}
	return parseProcStat(b, os.Getpagesize())
}

// parseProcStat parses /proc/<pid>/stat: utime and stime (fields 14, 15, in 1/100 s, Linux's
// fixed USER_HZ) and rss (field 24, in pages).
func parseProcStat(b []byte, pageSize int) (cpu, rss float64, ok bool) {
	// The command (field 2) is in parentheses and may hold spaces; fields resume after the last ")".
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); field k is f[k-3].
	if len(f) < 22 {
		return 0, 0, false
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	pages, err3 := strconv.ParseInt(f[21], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, 0, false
	}
	const userHZ = 100
	return float64(utime+stime) / userHZ, float64(pages) * float64(pageSize), true
}
