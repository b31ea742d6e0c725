// Package parallel runs a loop's iterations concurrently, a bounded number
// at a time, under the caller's context: the first error or the caller's
// cancellation stops the loop.
//
//	err := parallel.ForEach(ctx, len(refs), jobs, func(ctx context.Context, i int) error {
//		out[i], err = fetch(ctx, refs[i])
//		return err
//	})
package parallel

import (
	"context"

	"golang.org/x/sync/errgroup"
)

// ForEach calls fn(ctx, 0) ... fn(ctx, n-1), at most limit at once (a limit
// below 1 is 1), and returns when all that started have returned. The first
// error cancels the ctx the others were given, no iteration starts after it
// or after the caller's ctx is done, and ForEach returns that error (or the
// caller's ctx.Err()). fn must only write to state of its own index. The
// ctx fn is given ends when ForEach returns: what outlives the loop (an
// image that reads lazily) must hold the caller's.
func ForEach(ctx context.Context, n, limit int, fn func(ctx context.Context, i int) error) error {
	if limit < 1 {
		limit = 1
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for i := 0; i < n; i++ {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			return fn(gctx, i)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}
