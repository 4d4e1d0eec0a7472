package cloudwatch

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits from the CloudWatch model and documentation.
const (
	maxDatapoints        = 1440 // GetMetricStatistics datapoints per call
	maxDimensions        = 30   // dimensions of one metric
	maxDimensionFilters  = 10   // ListMetrics dimension filters
	maxMetricDataQueries = 500  // GetMetricData queries per call
	listMetricsPageSize  = 500  // ListMetrics results per page
	maxStatistics        = 5
	maxExtendedStats     = 10
)

// statistics are the Statistic enum values in the Datapoint's member order.
var statistics = []string{"SampleCount", "Average", "Sum", "Minimum", "Maximum"}

// standardUnits is the StandardUnit enum.
var standardUnits = []string{
	"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
	"Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
	"Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second",
	"Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second",
	"Count/Second", "None",
}

var (
	percentileRE = regexp.MustCompile(`^p(\d{1,3})(\.\d{1,10})?$`)
	metricIDRE   = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]*$`)
)

// isPercentile reports whether s is an extended statistic Hydrant serves: p0.0 to p100.
func isPercentile(s string) bool {
	if !percentileRE.MatchString(s) {
		return false
	}
	f, err := strconv.ParseFloat(s[1:], 64)
	return err == nil && f >= 0 && f <= 100
}

// checkLength validates the length in characters of a string member.
func checkLength(b *binder, s, param string, lo, hi int) {
	if n := utf8.RuneCountInString(s); n < lo || n > hi {
		b.fail(errorf(CodeInvalidParameterValue, "The parameter %s must be between %d and %d characters long.", param, lo, hi))
	}
}

func bindNamespace(b *binder, m map[string]any, param string, required bool) string {
	ns, ok := b.str(m, "Namespace", param)
	if !ok {
		if required {
			b.fail(missing(param))
		}
		return ""
	}
	checkLength(b, ns, param, 1, 255)
	if strings.HasPrefix(ns, ":") {
		b.fail(errorf(CodeInvalidParameterValue, "The parameter %s must not start with ':'.", param))
	}
	return ns
}

func bindMetricName(b *binder, m map[string]any, param string, required bool) string {
	name, ok := b.str(m, "MetricName", param)
	if !ok {
		if required {
			b.fail(missing(param))
		}
		return ""
	}
	checkLength(b, name, param, 1, 255)
	return name
}

// bindDimensions reads a Dimensions or DimensionFilters list; filters may omit Value.
func bindDimensions(b *binder, m map[string]any, param string, limit int, filter bool) []Dimension {
	l, ok := b.list(m, "Dimensions", param)
	if !ok {
		return nil
	}
	if len(l) > limit {
		b.fail(errorf(CodeInvalidParameterValue, "The collection %s must not have more than %d members.", param, limit))
		return nil
	}
	dims := make([]Dimension, 0, len(l))
	seen := map[string]bool{}
	for i, e := range l {
		p := fmt.Sprintf("%s.member.%d", param, i+1)
		dm, ok := b.asStructure(e, p)
		if !ok {
			return nil
		}
		name, ok := b.str(dm, "Name", p+".Name")
		if !ok {
			b.fail(missing(p + ".Name"))
			return nil
		}
		checkLength(b, name, p+".Name", 1, 255)
		value, ok := b.str(dm, "Value", p+".Value")
		switch {
		case ok:
			checkLength(b, value, p+".Value", 1, 1024)
		case !filter:
			b.fail(missing(p + ".Value"))
		}
		if !filter && seen[name] {
			b.fail(errorf(CodeInvalidParameterValue, "The dimension %s appears more than once in %s.", name, param))
		}
		seen[name] = true
		dims = append(dims, Dimension{Name: name, Value: value})
	}
	return dims
}

func bindUnit(b *binder, m map[string]any, param string) string {
	u, ok := b.str(m, "Unit", param)
	if ok && !slices.Contains(standardUnits, u) {
		b.fail(unsupported(u, param))
	}
	return u
}

// bindPeriod reads a required Period: at least 1 and a multiple of 60 (minute data only).
func bindPeriod(b *binder, m map[string]any, param string) time.Duration {
	p, ok := b.integer(m, "Period", param)
	switch {
	case b.err != nil:
	case !ok:
		b.fail(missing(param))
	case p < 1:
		b.fail(errorf(CodeInvalidParameterValue, "The parameter %s must be greater than 0.", param))
	case p%60 != 0:
		b.fail(errorf(CodeInvalidParameterValue, "The parameter %s must be a multiple of 60.", param))
	case p > math.MaxInt64/int64(time.Second):
		b.fail(errorf(CodeInvalidParameterValue, "The parameter %s is too large.", param))
	}
	return time.Duration(p) * time.Second
}

// bindTimeRange reads the required StartTime and EndTime, StartTime before EndTime.
func bindTimeRange(b *binder, m map[string]any) (start, end time.Time) {
	start, ok := b.timestamp(m, "StartTime", "StartTime")
	if !ok {
		b.fail(missing("StartTime"))
	}
	end, ok = b.timestamp(m, "EndTime", "EndTime")
	if !ok {
		b.fail(missing("EndTime"))
	}
	if b.err == nil && !start.Before(end) {
		b.fail(errorf(CodeInvalidParameterValue, "The parameter StartTime must be less than the parameter EndTime."))
	}
	return start, end
}

func dimensionMap(dims []Dimension) map[string]string {
	m := make(map[string]string, len(dims))
	for _, d := range dims {
		m[d.Name] = d.Value
	}
	return m
}

// periods is the number of Period buckets in [start, end), rounded up.
func periods(start, end time.Time, period time.Duration) int64 {
	d := end.Sub(start)
	return int64((d + period - 1) / period)
}

// getMetricStatistics implements GetMetricStatistics.
func (h *Handler) getMetricStatistics(ctx context.Context, b *binder, in map[string]any) (object, error) {
	ns := bindNamespace(b, in, "Namespace", true)
	name := bindMetricName(b, in, "MetricName", true)
	dims := bindDimensions(b, in, "Dimensions", maxDimensions, false)
	start, end := bindTimeRange(b, in)
	period := bindPeriod(b, in, "Period")
	stats, hasStats := b.strings(in, "Statistics", "Statistics")
	ext, hasExt := b.strings(in, "ExtendedStatistics", "ExtendedStatistics")
	unit := bindUnit(b, in, "Unit")
	if b.err != nil {
		return nil, b.err
	}
	hasStats, hasExt = hasStats && len(stats) > 0, hasExt && len(ext) > 0
	if hasStats == hasExt {
		return nil, errorf(CodeInvalidParameterCombination, "Must specify either Statistics or ExtendedStatistics, but not both.")
	}
	if len(stats) > maxStatistics {
		return nil, errorf(CodeInvalidParameterValue, "The collection Statistics must not have more than %d members.", maxStatistics)
	}
	for i, s := range stats {
		if !slices.Contains(statistics, s) {
			return nil, unsupported(s, fmt.Sprintf("Statistics.member.%d", i+1))
		}
	}
	if len(ext) > maxExtendedStats {
		return nil, errorf(CodeInvalidParameterValue, "The collection ExtendedStatistics must not have more than %d members.", maxExtendedStats)
	}
	for i, s := range ext {
		if !isPercentile(s) {
			return nil, unsupported(s, fmt.Sprintf("ExtendedStatistics.member.%d", i+1))
		}
	}
	if n := periods(start, end, period); n > maxDatapoints {
		return nil, errorf(CodeInvalidParameterCombination,
			"You have requested up to %d datapoints, which exceeds the limit of %d. You may reduce the datapoints requested by increasing Period, or decreasing the time range.",
			n, maxDatapoints)
	}

	dps, err := h.src.Statistics(ctx, Query{
		Namespace: ns, MetricName: name, Dimensions: dimensionMap(dims),
		Start: start, End: end, Period: period, Percentiles: ext,
	})
	if err != nil {
		return nil, fmt.Errorf("read statistics: %w", err)
	}
	dps = usable(dps, unit)
	slices.SortFunc(dps, func(a, b Datapoint) int { return a.Timestamp.Compare(b.Timestamp) })
	points := make([]any, 0, len(dps))
	for _, dp := range dps {
		o := object{{"Timestamp", dp.Timestamp.UTC()}}
		for _, s := range statistics {
			if slices.Contains(stats, s) {
				o = append(o, field{s, statValue(dp, s)})
			}
		}
		o = append(o, field{"Unit", unitOf(dp)})
		if len(ext) > 0 {
			var fm floatMap
			for _, p := range ext {
				if v, ok := dp.Percentiles[p]; ok && !slices.ContainsFunc(fm, func(e floatEntry) bool { return e.key == p }) {
					fm = append(fm, floatEntry{p, v})
				}
			}
			o = append(o, field{"ExtendedStatistics", fm})
		}
		points = append(points, o)
	}
	return object{{"Label", name}, {"Datapoints", points}}, nil
}

// usable drops empty buckets and, when unit is set, datapoints recorded with another unit.
func usable(dps []Datapoint, unit string) []Datapoint {
	out := make([]Datapoint, 0, len(dps))
	for _, dp := range dps {
		if dp.SampleCount <= 0 || (unit != "" && unitOf(dp) != unit) {
			continue
		}
		out = append(out, dp)
	}
	return out
}

func unitOf(dp Datapoint) string {
	if dp.Unit == "" {
		return "None"
	}
	return dp.Unit
}

// statValue returns a statistic or a percentile of dp.
func statValue(dp Datapoint, stat string) float64 {
	switch stat {
	case "SampleCount":
		return dp.SampleCount
	case "Average":
		return dp.Sum / dp.SampleCount
	case "Sum":
		return dp.Sum
	case "Minimum":
		return dp.Minimum
	case "Maximum":
		return dp.Maximum
	}
	return dp.Percentiles[stat]
}

// metricDataQuery is one bound MetricDataQueries member.
type metricDataQuery struct {
	id, label  string
	returnData bool
	metric     Metric
	period     time.Duration
	stat, unit string
}

// getMetricData implements GetMetricData.
func (h *Handler) getMetricData(ctx context.Context, b *binder, in map[string]any) (object, error) {
	l, ok := b.list(in, "MetricDataQueries", "MetricDataQueries")
	if !ok {
		b.fail(missing("MetricDataQueries"))
	}
	if b.err == nil && (len(l) == 0 || len(l) > maxMetricDataQueries) {
		b.fail(errorf(CodeInvalidParameterValue, "The collection MetricDataQueries must contain between 1 and %d members.", maxMetricDataQueries))
	}
	queries := make([]metricDataQuery, 0, len(l))
	ids := map[string]bool{}
	for i, e := range l {
		q := bindMetricDataQuery(b, e, fmt.Sprintf("MetricDataQueries.member.%d", i+1))
		if b.err != nil {
			return nil, b.err
		}
		if ids[q.id] {
			return nil, errorf(CodeInvalidParameterValue, "The value %s for parameter MetricDataQueries.member.%d.Id is not unique.", q.id, i+1)
		}
		ids[q.id] = true
		queries = append(queries, q)
	}
	start, end := bindTimeRange(b, in)
	if tok, ok := b.str(in, "NextToken", "NextToken"); ok && b.err == nil {
		return nil, errorf(CodeInvalidNextToken, "The NextToken %s is not valid.", tok)
	}
	scanBy, ok := b.str(in, "ScanBy", "ScanBy")
	if !ok {
		scanBy = "TimestampDescending"
	} else if scanBy != "TimestampDescending" && scanBy != "TimestampAscending" {
		b.fail(unsupported(scanBy, "ScanBy"))
	}
	b.integer(in, "MaxDatapoints", "MaxDatapoints")
	b.structure(in, "LabelOptions", "LabelOptions")
	if b.err != nil {
		return nil, b.err
	}

	results := make([]any, 0, len(queries))
	for _, q := range queries {
		if !q.returnData {
			continue
		}
		var pct []string
		if isPercentile(q.stat) {
			pct = []string{q.stat}
		}
		dps, err := h.src.Statistics(ctx, Query{
			Namespace: q.metric.Namespace, MetricName: q.metric.MetricName,
			Dimensions: dimensionMap(q.metric.Dimensions),
			Start:      start, End: end, Period: q.period, Percentiles: pct,
		})
		if err != nil {
			return nil, fmt.Errorf("read statistics for %s: %w", q.id, err)
		}
		dps = usable(dps, q.unit)
		slices.SortFunc(dps, func(a, b Datapoint) int {
			if scanBy == "TimestampAscending" {
				return a.Timestamp.Compare(b.Timestamp)
			}
			return b.Timestamp.Compare(a.Timestamp)
		})
		times, values := make([]any, 0, len(dps)), make([]any, 0, len(dps))
		for _, dp := range dps {
			if pct != nil {
				if _, ok := dp.Percentiles[q.stat]; !ok {
					continue
				}
			}
			times = append(times, dp.Timestamp.UTC())
			values = append(values, statValue(dp, q.stat))
		}
		label := q.label
		if label == "" {
			label = q.metric.MetricName
		}
		results = append(results, object{
			{"Id", q.id}, {"Label", label}, {"Timestamps", times}, {"Values", values}, {"StatusCode", "Complete"},
		})
	}
	return object{{"MetricDataResults", results}}, nil
}

func bindMetricDataQuery(b *binder, e any, p string) metricDataQuery {
	var q metricDataQuery
	m, ok := b.asStructure(e, p)
	if !ok {
		return q
	}
	if q.id, ok = b.str(m, "Id", p+".Id"); !ok {
		b.fail(missing(p + ".Id"))
	} else if len(q.id) > 255 || !metricIDRE.MatchString(q.id) {
		b.fail(errorf(CodeInvalidParameterValue, "The value %s for parameter %s.Id is not valid: it must start with a lowercase letter and contain only letters, numbers and underscores.", q.id, p))
	}
	q.label, _ = b.str(m, "Label", p+".Label")
	if q.returnData, ok = b.boolean(m, "ReturnData", p+".ReturnData"); !ok {
		q.returnData = true
	}
	b.integer(m, "Period", p+".Period")
	b.str(m, "AccountId", p+".AccountId")
	if _, ok := b.str(m, "Expression", p+".Expression"); ok {
		b.fail(errorf(CodeInvalidParameterValue, "Metric math expressions are not supported by Hydrant: %s.Expression.", p))
		return q
	}
	ms, ok := b.structure(m, "MetricStat", p+".MetricStat")
	if !ok {
		b.fail(missing(p + ".MetricStat"))
		return q
	}
	p += ".MetricStat"
	metric, ok := b.structure(ms, "Metric", p+".Metric")
	if !ok {
		b.fail(missing(p + ".Metric"))
		return q
	}
	q.metric = Metric{
		Namespace:  bindNamespace(b, metric, p+".Metric.Namespace", true),
		MetricName: bindMetricName(b, metric, p+".Metric.MetricName", true),
		Dimensions: bindDimensions(b, metric, p+".Metric.Dimensions", maxDimensions, false),
	}
	q.period = bindPeriod(b, ms, p+".Period")
	if q.stat, ok = b.str(ms, "Stat", p+".Stat"); !ok {
		b.fail(missing(p + ".Stat"))
	} else if !slices.Contains(statistics, q.stat) && !isPercentile(q.stat) {
		b.fail(unsupported(q.stat, p+".Stat"))
	}
	q.unit = bindUnit(b, ms, p+".Unit")
	return q
}

// listTokenPrefix marks ListMetrics tokens Hydrant issued.
const listTokenPrefix = "hydrant-list-metrics:"

// listMetrics implements ListMetrics.
func (h *Handler) listMetrics(ctx context.Context, b *binder, in map[string]any) (object, error) {
	ns := bindNamespace(b, in, "Namespace", false)
	name := bindMetricName(b, in, "MetricName", false)
	filters := bindDimensions(b, in, "Dimensions", maxDimensionFilters, true)
	offset := 0
	if tok, ok := b.str(in, "NextToken", "NextToken"); ok {
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		n, ok := strings.CutPrefix(string(raw), listTokenPrefix)
		off, aerr := strconv.Atoi(n)
		if err != nil || !ok || aerr != nil || off < 0 {
			b.fail(errorf(CodeInvalidParameterValue, "Request parameter NextToken is invalid"))
		}
		offset = off
	}
	if ra, ok := b.str(in, "RecentlyActive", "RecentlyActive"); ok && ra != "PT3H" {
		b.fail(unsupported(ra, "RecentlyActive"))
	}
	b.boolean(in, "IncludeLinkedAccounts", "IncludeLinkedAccounts")
	b.str(in, "OwningAccount", "OwningAccount")
	if b.err != nil {
		return nil, b.err
	}

	all, err := h.src.List(ctx, ns, name, filters)
	if err != nil {
		return nil, fmt.Errorf("list metrics: %w", err)
	}
	var ms []Metric
	for _, m := range all {
		if (ns == "" || m.Namespace == ns) && (name == "" || m.MetricName == name) && hasDimensions(m, filters) {
			ms = append(ms, m)
		}
	}
	slices.SortFunc(ms, compareMetrics)
	ms = ms[min(offset, len(ms)):]
	var next string
	if len(ms) > listMetricsPageSize {
		ms = ms[:listMetricsPageSize]
		next = base64.RawURLEncoding.EncodeToString([]byte(listTokenPrefix + strconv.Itoa(offset+listMetricsPageSize)))
	}
	out := make([]any, 0, len(ms))
	for _, m := range ms {
		dims := make([]any, 0, len(m.Dimensions))
		for _, d := range m.Dimensions {
			dims = append(dims, object{{"Name", d.Name}, {"Value", d.Value}})
		}
		out = append(out, object{{"Namespace", m.Namespace}, {"MetricName", m.MetricName}, {"Dimensions", dims}})
	}
	res := object{{"Metrics", out}}
	if next != "" {
		res = append(res, field{"NextToken", next})
	}
	return res, nil
}

// hasDimensions reports whether m has every filter; a filter without a value matches any value.
func hasDimensions(m Metric, filters []Dimension) bool {
	for _, f := range filters {
		if !slices.ContainsFunc(m.Dimensions, func(d Dimension) bool {
			return d.Name == f.Name && (f.Value == "" || d.Value == f.Value)
		}) {
			return false
		}
	}
	return true
}

func compareMetrics(a, b Metric) int {
	if c := cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.MetricName, b.MetricName)); c != 0 {
		return c
	}
	return slices.CompareFunc(a.Dimensions, b.Dimensions, func(x, y Dimension) int {
		return cmp.Or(strings.Compare(x.Name, y.Name), strings.Compare(x.Value, y.Value))
	})
}
