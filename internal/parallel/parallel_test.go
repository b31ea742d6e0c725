package parallel_test

import (
	"sync/atomic"
	"testing"

	"github.com/polyarch/polyarch/internal/parallel"
)

func TestForEachRunsEveryIndexWithinTheLimit(t *testing.T) {
	const n, limit = 50, 3
	var running, most atomic.Int32
	seen := make([]int, n)
	gate := make(chan struct{})
	go func() {
		// Let the first limit iterations pile up before any returns.
		for running.Load() < limit {
		}
		close(gate)
	}()
	parallel.ForEach(n, limit, func(i int) {
		now := running.Add(1)
		for {
			m := most.Load()
			if now <= m || most.CompareAndSwap(m, now) {
				break
			}
		}
		<-gate
		seen[i]++
		running.Add(-1)
	})
	for i, c := range seen {
		if c != 1 {
			t.Fatalf("index %d ran %d times", i, c)
		}
	}
	if most.Load() != limit {
		t.Errorf("at most %d ran at once, want the limit %d", most.Load(), limit)
	}
}
