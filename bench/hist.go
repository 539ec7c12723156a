package bench

import (
	"math"
	"math/bits"
	"time"
)

// Histogram records durations in nanoseconds with a relative error below
// 1/128 (0.8%), in fixed memory, without allocating per value: values below
// 256 ns are exact, larger ones fall into 128 buckets per power of two (the
// log-linear layout of HdrHistogram with two significant digits). The zero
// value is ready to use. A Histogram belongs to one goroutine at a time;
// Merge combines those of several.
type Histogram struct {
	counts [histBuckets]uint64
	n      uint64
	min    int64
	max    int64
	sum    float64
}

const (
	histSubBits = 7                      // 128 sub-buckets per power of two
	histSub     = 1 << histSubBits       // 128
	histExact   = 2 * histSub            // values below 256 are exact
	histBuckets = histExact + 56*histSub // up to 2^63
)

// histIndex returns the bucket of v >= 0.
func histIndex(v int64) int {
	if v < histExact {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - (histSubBits + 1) // >= 1
	return histExact + (shift-1)*histSub + int(uint64(v)>>shift) - histSub
}

// histLow returns the smallest value of bucket i and the bucket's width.
func histLow(i int) (low, width int64) {
	if i < histExact {
		return int64(i), 1
	}
	shift := (i-histExact)/histSub + 1
	sub := int64((i-histExact)%histSub + histSub)
	return sub << shift, 1 << shift
}

// Record adds one value in nanoseconds; negative values count as 0.
func (h *Histogram) Record(ns int64) {
	if ns < 0 {
		ns = 0
	}
	if h.n == 0 || ns < h.min {
		h.min = ns
	}
	if ns > h.max {
		h.max = ns
	}
	h.n++
	h.sum += float64(ns)
	h.counts[histIndex(ns)]++
}

// Merge adds the values recorded in o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.n += o.n
	h.sum += o.sum
	for i, c := range o.counts {
		h.counts[i] += c
	}
}

// Count returns the number of values recorded.
func (h *Histogram) Count() uint64 { return h.n }

// Max returns the largest value recorded, exactly; 0 when empty.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Mean returns the mean of the values recorded; 0 when empty.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}

// Quantile returns the value at quantile q (0 < q <= 1) by the nearest-rank
// method: the smallest recorded value v such that at least q of all values
// are <= v, within the histogram's 0.8% relative error (the middle of v's
// bucket, clamped to the exact minimum and maximum). It returns 0 when empty.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	if rank >= h.n {
		return time.Duration(h.max)
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			low, width := histLow(i)
			v := low + (width-1)/2
			v = min(max(v, h.min), h.max)
			return time.Duration(v)
		}
	}
	return time.Duration(h.max)
}

// nearestRank returns the value at quantile q of sorted values by the
// nearest-rank method, the exact answer Histogram.Quantile approximates.
func nearestRank(sorted []int64, q float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(q * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}
