package parallel_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

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
	err := parallel.ForEach(context.Background(), n, limit, func(ctx context.Context, i int) error {
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
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range seen {
		if c != 1 {
			t.Fatalf("index %d ran %d times", i, c)
		}
	}
	if most.Load() != limit {
		t.Errorf("at most %d ran at once, want the limit %d", most.Load(), limit)
	}
}

// The first error is returned, cancels the context the others were given,
// and no iteration starts after it.
func TestForEachStopsAtTheFirstError(t *testing.T) {
	boom := errors.New("boom")
	var started atomic.Int32
	err := parallel.ForEach(context.Background(), 100, 2, func(ctx context.Context, i int) error {
		started.Add(1)
		if i == 3 {
			return boom
		}
		if i > 3 {
			// Running alongside the failure: ended by its cancellation.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(5 * time.Second):
				t.Errorf("iteration %d was not cancelled after the error", i)
			}
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("ForEach returned %v, want the iteration's error", err)
	}
	if n := started.Load(); n > 6 {
		t.Errorf("%d iterations started; the loop went on after the error", n)
	}
}

// A cancelled context stops the loop before it starts more work, and the
// context's error is returned.
func TestForEachHonoursTheCallersContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var started atomic.Int32
	done := make(chan error, 1)
	go func() {
		done <- parallel.ForEach(ctx, 1000, 4, func(ctx context.Context, i int) error {
			started.Add(1)
			<-ctx.Done()
			return nil
		})
	}()
	for started.Load() < 4 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("ForEach after cancel returned %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ForEach did not return after its context was cancelled")
	}
	if n := started.Load(); n > 8 {
		t.Errorf("%d iterations started after the cancel", n)
	}
}

func TestForEachTreatsALimitBelowOneAsOne(t *testing.T) {
	var running, most atomic.Int32
	err := parallel.ForEach(context.Background(), 10, 0, func(ctx context.Context, i int) error {
		now := running.Add(1)
		if now > most.Load() {
			most.Store(now)
		}
		time.Sleep(time.Millisecond)
		running.Add(-1)
		return nil
	})
	if err != nil || most.Load() != 1 {
		t.Errorf("limit 0: err %v, %d at once, want one at a time", err, most.Load())
	}
}
