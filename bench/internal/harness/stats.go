package harness

import "slices"

// Median is the median of xs, 0 if there are none. xs is not changed.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// MB converts bytes to decimal megabytes (10^6 bytes), the unit of every
// MB and MB/s the benchmarks print.
func MB(bytes int64) float64 { return float64(bytes) / 1e6 }
