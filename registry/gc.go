package registry

import (
	"context"
	"fmt"

	"github.com/distribution/distribution/v3/registry/storage"
	"github.com/distribution/distribution/v3/registry/storage/driver/factory"
)

// GCOptions tunes GarbageCollect.
type GCOptions struct {
	// DryRun reports what would be deleted and deletes nothing.
	DryRun bool
	// RemoveUntagged also deletes manifests no tag points to. Referrers
	// (signatures, SBOMs) are usually untagged: this removes them too.
	RemoveUntagged bool
	// Quiet suppresses distribution's per-blob "marking" lines.
	Quiet bool
}

// GarbageCollect runs distribution's mark-and-sweep over the registry's
// storage: blobs no manifest references are deleted. Run it while nothing
// pushes to the storage (stop the server, or serve it --read-only): a blob
// uploaded during the mark phase would be swept.
//
// distribution prints what it marks and sweeps on standard output.
func GarbageCollect(ctx context.Context, gc GCOptions, opts ...Option) error {
	o := options{}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return err
		}
	}
	cfg, err := o.configuration()
	if err != nil {
		return err
	}
	driver, err := factory.Create(ctx, cfg.Storage.Type(), cfg.Storage.Parameters())
	if err != nil {
		return fmt.Errorf("opening %s storage: %w", cfg.Storage.Type(), err)
	}
	ns, err := storage.NewRegistry(ctx, driver, storage.EnableDelete)
	if err != nil {
		return fmt.Errorf("opening registry storage: %w", err)
	}
	if err := storage.MarkAndSweep(ctx, driver, ns, storage.GCOpts{DryRun: gc.DryRun, RemoveUntagged: gc.RemoveUntagged, Quiet: gc.Quiet}); err != nil {
		return fmt.Errorf("garbage collection: %w", err)
	}
	if gc.DryRun {
		return nil
	}
	store := &referrerStore{driver: driver, ns: ns}
	if _, err := store.prune(ctx); err != nil {
		return fmt.Errorf("garbage collection of referrer entries: %w", err)
	}
	return nil
}
