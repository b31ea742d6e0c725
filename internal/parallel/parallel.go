// Package parallel runs a loop's iterations concurrently, a bounded number
// at a time.
package parallel

import "sync"

// ForEach calls fn(0) ... fn(n-1), at most limit at once, and returns when
// all have returned. fn must only write to state of its own index.
func ForEach(n, limit int, fn func(i int)) {
	if limit < 1 {
		limit = 1
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, limit)
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fn(i)
		}()
	}
	wg.Wait()
}
