package registry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/distribution/distribution/v3/registry/storage"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/factory"
)

// blobsRoot is where distribution keeps blobs, relative to the driver's root
// (registry/storage/paths.go).
const blobsRoot = "/docker/registry/v2/blobs"

// GCOptions tunes GarbageCollect.
type GCOptions struct {
	// DryRun reports what would be deleted and deletes nothing.
	DryRun bool
	// RemoveUntagged also deletes manifests no tag points to. Referrers
	// (signatures, SBOMs) are usually untagged: this removes them too.
	RemoveUntagged bool
	// Quiet suppresses distribution's per-blob "marking" lines.
	Quiet bool
	// UploadsOlderThan deletes unfinished uploads (the data of pushes that
	// failed or were abandoned) started longer ago than this; zero keeps
	// every upload. `polyarch registry gc` passes DefaultUploadAge.
	UploadsOlderThan time.Duration
}

// GCResult says what GarbageCollect removed, or with DryRun would remove,
// beyond what distribution prints.
type GCResult struct {
	// PurgedUploads are the storage paths of the unfinished uploads deleted.
	PurgedUploads []string
}

// GarbageCollect runs distribution's mark-and-sweep over the registry's
// storage: blobs no manifest references are deleted. Then, with
// UploadsOlderThan, distribution's upload purge (storage.PurgeUploads). Run it
// while nothing pushes to the storage (stop the server, or serve it
// --read-only): a blob uploaded during the mark phase would be swept.
//
// distribution prints what it marks and sweeps on standard output.
func GarbageCollect(ctx context.Context, gc GCOptions, opts ...Option) (GCResult, error) {
	var res GCResult
	if gc.UploadsOlderThan < 0 {
		return res, fmt.Errorf("uploads older than %s: the age must not be negative", gc.UploadsOlderThan)
	}
	o := options{}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return res, err
		}
	}
	cfg, err := o.configuration()
	if err != nil {
		return res, err
	}
	driver, err := factory.Create(ctx, cfg.Storage.Type(), cfg.Storage.Parameters())
	if err != nil {
		return res, fmt.Errorf("opening %s storage: %w", cfg.Storage.Type(), err)
	}
	ns, err := storage.NewRegistry(ctx, driver, storage.EnableDelete)
	if err != nil {
		return res, fmt.Errorf("opening registry storage: %w", err)
	}
	// MarkAndSweep fails on storage that never held a blob (its blob
	// directory does not exist yet); such storage has nothing to sweep.
	_, err = driver.Stat(ctx, blobsRoot)
	var notFound storagedriver.PathNotFoundError
	if err != nil && !errors.As(err, &notFound) {
		return res, fmt.Errorf("garbage collection: %w", err)
	}
	hasBlobs := err == nil
	if hasBlobs {
		if err := storage.MarkAndSweep(ctx, driver, ns, storage.GCOpts{DryRun: gc.DryRun, RemoveUntagged: gc.RemoveUntagged, Quiet: gc.Quiet}); err != nil {
			return res, fmt.Errorf("garbage collection: %w", err)
		}
	}
	if hasBlobs && !gc.DryRun {
		store := &referrerStore{driver: driver, ns: ns}
		if _, err := store.prune(ctx); err != nil {
			return res, fmt.Errorf("garbage collection of referrer entries: %w", err)
		}
	}
	if gc.UploadsOlderThan > 0 {
		purged, errs := storage.PurgeUploads(ctx, driver, time.Now().Add(-gc.UploadsOlderThan), !gc.DryRun)
		res.PurgedUploads = purged
		if len(errs) > 0 {
			return res, fmt.Errorf("purging uploads older than %s: %w", gc.UploadsOlderThan, errors.Join(errs...))
		}
	}
	return res, nil
}
