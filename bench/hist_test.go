package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHistogramQuantileMatchesNearestRank(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name string
		gen  func() int64
	}{
		{"uniform below 256 ns is exact", func() int64 { return rng.Int64N(256) }},
		{"uniform to 1 ms", func() int64 { return rng.Int64N(1_000_000) }},
		{"log-normal around 50 µs", func() int64 { return int64(50_000 * math.Exp(rng.NormFloat64())) }},
		{"heavy tail to 1 s", func() int64 { return int64(1e3 / math.Pow(rng.Float64()+1e-6, 1.5)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h Histogram
			vs := make([]int64, 20_000)
			for i := range vs {
				vs[i] = tc.gen()
				h.Record(vs[i])
			}
			slices.Sort(vs)
			for _, q := range []float64{0.001, 0.5, 0.9, 0.99, 0.999, 1} {
				want := nearestRank(vs, q)
				got := int64(h.Quantile(q))
				if d := math.Abs(float64(got - want)); d > float64(want)/128+1 {
					t.Errorf("Quantile(%v) = %d, want %d within 1/128", q, got, want)
				}
			}
			if got := int64(h.Max()); got != vs[len(vs)-1] {
				t.Errorf("Max = %d, want %d", got, vs[len(vs)-1])
			}
			if h.Count() != uint64(len(vs)) {
				t.Errorf("Count = %d, want %d", h.Count(), len(vs))
			}
		})
	}
}

func TestHistogramEdges(t *testing.T) {
	var h Histogram
	if h.Quantile(0.5) != 0 || h.Max() != 0 || h.Mean() != 0 {
		t.Fatalf("empty histogram: got %v %v %v, want zeros", h.Quantile(0.5), h.Max(), h.Mean())
	}
	h.Record(-5) // a clock step: counts as 0
	h.Record(int64(3 * time.Second))
	if got := h.Quantile(0.5); got != 0 {
		t.Errorf("p50 of {0, 3s} = %v, want 0", got)
	}
	if got := h.Quantile(1); got != 3*time.Second {
		t.Errorf("p100 of {0, 3s} = %v, want 3s", got)
	}
	var one Histogram
	one.Record(123_456_789)
	for _, q := range []float64{0, 0.5, 0.999} {
		if got := one.Quantile(q); got != 123_456_789 {
			t.Errorf("single value: Quantile(%v) = %d, want it exactly (clamped to min and max)", q, got)
		}
	}
}

func TestHistogramBucketsRoundTrip(t *testing.T) {
	for _, v := range []int64{0, 1, 255, 256, 257, 511, 512, 1000, 1 << 20, 1<<40 + 12345, math.MaxInt64} {
		i := histIndex(v)
		low, width := histLow(i)
		if v < low || v-low >= width {
			t.Errorf("value %d: bucket %d is [%d, %d+%d), want it inside", v, i, low, low, width)
		}
		if i >= histBuckets {
			t.Errorf("value %d: bucket %d beyond %d", v, i, histBuckets)
		}
	}
}

func TestHistogramMerge(t *testing.T) {
	var a, b, all Histogram
	for i := range int64(1000) {
		v := i * 997
		all.Record(v)
		if i%2 == 0 {
			a.Record(v)
		} else {
			b.Record(v)
		}
	}
	a.Merge(&b)
	for _, q := range []float64{0.5, 0.99, 1} {
		if a.Quantile(q) != all.Quantile(q) {
			t.Errorf("merged Quantile(%v) = %v, want %v", q, a.Quantile(q), all.Quantile(q))
		}
	}
	if a.Count() != all.Count() || a.Mean() != all.Mean() {
		t.Errorf("merged count, mean = %d, %v; want %d, %v", a.Count(), a.Mean(), all.Count(), all.Mean())
	}
}

func TestStatMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want Stat
	}{
		{nil, Stat{}},
		{[]float64{3}, Stat{3, 3, 3, 1}},
		{[]float64{5, 1, 3}, Stat{3, 1, 5, 3}},
		{[]float64{4, 1, 3, 2}, Stat{2.5, 1, 4, 4}},
	} {
		if got := statOf(tc.in); got != tc.want {
			t.Errorf("statOf(%v) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}
