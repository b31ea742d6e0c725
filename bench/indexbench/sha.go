package main

import (
	"crypto/sha256"
	"math/rand/v2"
	"time"

	"github.com/polyarch/polyarch/bench/internal/harness"
)

// sha256Limit measures what one core hashes with Go's crypto/sha256 (the
// implementation the registry, polyarch and crane use; SHA-NI where the
// CPU has it): the median of 5 passes over a 64 MiB buffer, in MB/s. A
// copy between registries hashes every byte at least once (the destination
// verifies each blob's digest), so this is the ceiling of a copy bound by
// hashing on one core.
func sha256Limit() float64 {
	buf := make([]byte, 64<<20)
	r := rand.NewChaCha8([32]byte{1})
	r.Read(buf)
	sha256.Sum256(buf) // page the buffer in, warm the clocks
	var rates []float64
	for range 5 {
		start := time.Now()
		sha256.Sum256(buf)
		rates = append(rates, harness.MB(int64(len(buf)))/time.Since(start).Seconds())
	}
	return harness.Median(rates)
}
