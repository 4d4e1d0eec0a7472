package metrics

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"
)

// Partial is one store's share of a Statistics query: the query's periods, each the merge of the
// store's minutes in it. Partials of several stores (the nodes of a cluster) merge exactly into
// the answer one store holding every sample would give (docs/design/metrics.md, "Several
// nodes").
type Partial struct {
	// Unit is the unit the metric was recorded with; empty when the store has no sample.
	Unit Unit `json:"unit,omitempty"`
	// Periods are the periods with samples, ascending by Start.
	Periods []Aggregate `json:"periods,omitempty"`
}

// Aggregate is the merge of the samples of one period.
type Aggregate struct {
	// Start is the period's start, Unix seconds.
	Start int64 `json:"t"`
	// N is the number of samples, at least 1.
	N uint64 `json:"n"`
	// Sum, Min and Max summarise the samples.
	Sum float64 `json:"sum"`
	Min float64 `json:"min"`
	Max float64 `json:"max"`
	// Hist is the histogram as (key, count) pairs, ascending keys, counts summing to N; empty
	// when the query asked for no percentile.
	Hist []int64 `json:"h,omitempty"`
}

// ErrInvalidPartial reports a Partial that breaks its invariants (Check).
var ErrInvalidPartial = errors.New("invalid metrics partial")

// Partial returns the store's share of q: its periods with samples, with histograms when q asks
// for percentiles. Its errors are those of Statistics.
func (s *Store) Partial(q Query) (Partial, error) {
	if _, err := percentiles(q); err != nil {
		return Partial{}, err
	}
	if q.Namespace != Namespace || len(q.Dimensions) != 1 {
		return Partial{}, nil
	}
	stream, ok := q.Dimensions[DimensionStream]
	if !ok {
		return Partial{}, nil
	}
	ser := s.get(stream, q.MetricName)
	if ser == nil {
		return Partial{}, nil
	}
	ser.drain()
	origin := unixMinute(q.Start) * 60 // periods are aligned to Start rounded down to the minute
	from := max(unixMinute(q.Start), s.oldestKept())
	to := unixMinute(q.End) // exclusive
	if time.Unix(to*60, 0).Before(q.End) {
		to++
	}
	period := int64(q.Period / time.Second)
	withHist := len(q.Percentiles) > 0

	out := Partial{Unit: ser.unit}
	var acc minute
	flush := func() {
		if acc.n > 0 {
			out.Periods = append(out.Periods, aggregateOf(&acc))
			acc = minute{}
		}
	}
	ser.mu.Lock()
	defer ser.mu.Unlock()
	i := sort.Search(len(ser.minutes), func(i int) bool { return ser.minutes[i].t >= from })
	for ; i < len(ser.minutes) && ser.minutes[i].t < to; i++ {
		m := &ser.minutes[i]
		start := origin + floorDiv(m.t*60-origin, period)*period
		if acc.n > 0 && acc.t != start {
			flush()
		}
		o := minute{n: m.n, sum: m.sum, min: m.min, max: m.max}
		if withHist {
			o.hist = m.hist
		}
		acc.merge(&o)
		acc.t = start
	}
	flush()
	return out, nil
}

// aggregateOf converts a merged period (its t the period start) to its exported form.
func aggregateOf(m *minute) Aggregate {
	a := Aggregate{Start: m.t, N: m.n, Sum: m.sum, Min: m.min, Max: m.max}
	if len(m.hist) > 0 {
		a.Hist = make([]int64, 0, 2*len(m.hist))
		for _, b := range m.hist {
			a.Hist = append(a.Hist, int64(b.key), int64(b.count))
		}
	}
	return a
}

// Check reports whether p keeps its invariants: periods ascending, each with samples, finite
// values with Min ≤ Max, and a histogram (when present) of valid keys in ascending order whose
// counts are positive and sum to N. A Partial that came from another process is checked before
// it is merged.
func (p Partial) Check() error {
	for i, a := range p.Periods {
		if i > 0 && p.Periods[i-1].Start >= a.Start {
			return fmt.Errorf("%w: periods out of order at %d", ErrInvalidPartial, i)
		}
		if a.N == 0 || !finite(a.Sum) || !finite(a.Min) || !finite(a.Max) || a.Min > a.Max {
			return fmt.Errorf("%w: period %d has no samples or bad values", ErrInvalidPartial, a.Start)
		}
		if len(a.Hist) == 0 {
			continue
		}
		if len(a.Hist)%2 != 0 {
			return fmt.Errorf("%w: period %d histogram has an odd length", ErrInvalidPartial, a.Start)
		}
		var total uint64
		for j := 0; j < len(a.Hist); j += 2 {
			k, c := a.Hist[j], a.Hist[j+1]
			if k < math.MinInt32 || k > math.MaxInt32 || j > 0 && a.Hist[j-2] >= k || c <= 0 {
				return fmt.Errorf("%w: period %d histogram entry %d", ErrInvalidPartial, a.Start, j/2)
			}
			total += uint64(c)
		}
		if total != a.N {
			return fmt.Errorf("%w: period %d histogram counts %d samples, not %d", ErrInvalidPartial, a.Start, total, a.N)
		}
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// Merge merges the partials of q from several stores (each checked, see Check) into q's
// datapoints, as Statistics returns them.
func Merge(q Query, parts ...Partial) ([]Datapoint, error) {
	ps, err := percentiles(q)
	if err != nil {
		return nil, err
	}
	var unit Unit
	byStart := map[int64]*minute{}
	for _, p := range parts {
		if unit == "" {
			unit = p.Unit
		}
		for _, a := range p.Periods {
			o := minute{t: a.Start, n: a.N, sum: a.Sum, min: a.Min, max: a.Max}
			for j := 0; j+1 < len(a.Hist); j += 2 {
				o.hist = append(o.hist, bucket{int32(a.Hist[j]), uint64(a.Hist[j+1])})
			}
			if acc, ok := byStart[a.Start]; ok {
				acc.merge(&o)
			} else {
				byStart[a.Start] = &o
			}
		}
	}
	if len(byStart) == 0 {
		return nil, nil
	}
	out := make([]Datapoint, 0, len(byStart))
	for _, m := range byStart {
		d := Datapoint{
			Timestamp:   time.Unix(m.t, 0).UTC(),
			SampleCount: float64(m.n),
			Sum:         m.sum,
			Minimum:     m.min,
			Maximum:     m.max,
			Unit:        unit,
		}
		if len(ps) > 0 && m.min >= 0 {
			d.Percentiles = make(map[string]float64, len(ps))
			for i, p := range ps {
				d.Percentiles[q.Percentiles[i]] = percentile(m.hist, m.n, m.min, m.max, p)
			}
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b Datapoint) int { return a.Timestamp.Compare(b.Timestamp) })
	return out, nil
}

// percentiles checks q's period and parses its percentile names.
func percentiles(q Query) ([]float64, error) {
	if q.Period <= 0 || q.Period%time.Minute != 0 {
		return nil, fmt.Errorf("%w, got %s", ErrInvalidPeriod, q.Period)
	}
	ps := make([]float64, len(q.Percentiles))
	for i, name := range q.Percentiles {
		p, ok := parsePercentile(name)
		if !ok {
			return nil, fmt.Errorf("%w: %q", ErrInvalidPercentile, name)
		}
		ps[i] = p
	}
	return ps, nil
}

// MergeLists merges the List answers of several stores into one, sorted and without repeats.
func MergeLists(lists ...[]MetricID) []MetricID {
	var out []MetricID
	for _, l := range lists {
		out = append(out, l...)
	}
	sortMetricIDs(out)
	return slices.CompactFunc(out, func(a, b MetricID) bool {
		return a.MetricName == b.MetricName && a.Dimensions[0].Value == b.Dimensions[0].Value
	})
}
