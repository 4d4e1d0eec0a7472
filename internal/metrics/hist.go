package metrics

import (
	"math"
	"slices"
	"strconv"
)

// subBucketBits is the number of mantissa bits kept in a bucket index: 2^7 = 128 buckets per
// power of two, so a bucket spans at most 2^-7 of its lower bound and its midpoint is within
// 2^-8 (0.39 %) of every value in it.
const subBucketBits = 7

// bucketShift drops the mantissa bits below the kept ones.
const bucketShift = 52 - subBucketBits

// MaxRelativeError bounds |reported − exact| / |exact| for a percentile (see docs/design/metrics.md).
const MaxRelativeError = 1.0 / (1 << (subBucketBits + 1))

// bucket is one non-empty histogram bucket.
type bucket struct {
	key   int32 // 0 for zero, i+1 for positive values in bucket i, -(i+1) for negative ones
	count uint64
}

// bucketKey returns the histogram key of a finite v; key order is value order.
func bucketKey(v float64) int32 {
	switch {
	case v > 0:
		return int32(math.Float64bits(v)>>bucketShift) + 1
	case v < 0:
		return -(int32(math.Float64bits(-v)>>bucketShift) + 1)
	}
	return 0
}

// bucketValue returns the midpoint of the bucket of key.
func bucketValue(key int32) float64 {
	switch {
	case key > 0:
		i := uint64(key - 1)
		lo := math.Float64frombits(i << bucketShift)
		hi := math.Float64frombits((i + 1) << bucketShift)
		return lo + (hi-lo)/2
	case key < 0:
		return -bucketValue(-key)
	}
	return 0
}

// sortBuckets sorts h by key.
func sortBuckets(h []bucket) {
	slices.SortFunc(h, func(a, b bucket) int {
		switch {
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		}
		return 0
	})
}

// mergeBuckets returns the sum of the sorted histograms a and b. It may reuse a.
func mergeBuckets(a, b []bucket) []bucket {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return slices.Clone(b)
	}
	out := make([]bucket, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i].key < b[j].key:
			out = append(out, a[i])
			i++
		case a[i].key > b[j].key:
			out = append(out, b[j])
			j++
		default:
			out = append(out, bucket{a[i].key, a[i].count + b[j].count})
			i++
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// percentile returns the nearest-rank p-th percentile (p in [0, 100]) of the histogram h of n
// samples with extrema lo and hi.
func percentile(h []bucket, n uint64, lo, hi, p float64) float64 {
	rank := uint64(math.Ceil(p / 100 * float64(n)))
	switch {
	case rank <= 1:
		return lo
	case rank >= n:
		return hi
	}
	var seen uint64
	for _, b := range h {
		seen += b.count
		if seen >= rank {
			return min(max(bucketValue(b.key), lo), hi)
		}
	}
	return hi
}

// parsePercentile returns X of a percentile name "pX", X a decimal number in [0, 100].
func parsePercentile(name string) (float64, bool) {
	if len(name) < 2 || len(name) > 16 || name[0] != 'p' {
		return 0, false
	}
	dots := 0
	for i := 1; i < len(name); i++ {
		switch c := name[i]; {
		case c == '.':
			dots++
		case c < '0' || c > '9':
			return 0, false
		}
	}
	if dots > 1 || name[1] == '.' || name[len(name)-1] == '.' {
		return 0, false
	}
	x, err := strconv.ParseFloat(name[1:], 64)
	if err != nil || x < 0 || x > 100 {
		return 0, false
	}
	return x, true
}
