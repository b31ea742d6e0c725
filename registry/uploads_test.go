package registry_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/polyarch/polyarch/registry"
)

// uploadDir is where distribution keeps the unfinished upload at loc.
func uploadDir(t *testing.T, root, repo, loc string) string {
	t.Helper()
	i := strings.Index(loc, "/blobs/uploads/")
	if i < 0 {
		t.Fatalf("upload location %q", loc)
	}
	id, _, _ := strings.Cut(loc[i+len("/blobs/uploads/"):], "?")
	dir := filepath.Join(root, "docker/registry/v2/repositories", repo, "_uploads", id)
	if _, err := os.Stat(filepath.Join(dir, "startedat")); err != nil {
		t.Fatalf("upload %s is not on disk: %v", id, err)
	}
	return dir
}

// patchUpload sends part of a blob into the upload at loc and returns where
// the upload continues.
func patchUpload(t *testing.T, loc string, data []byte) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPatch, loc, bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("PATCH upload: %d", resp.StatusCode)
	}
	next := resp.Header.Get("Location")
	if !strings.HasPrefix(next, "http") {
		next = loc[:strings.Index(loc, "/v2/")] + next
	}
	return next
}

// backdate makes an upload look started age ago, in the startedat file
// distribution reads to judge it.
func backdate(t *testing.T, dir string, age time.Duration) {
	t.Helper()
	stamp := time.Now().Add(-age).UTC().Format(time.RFC3339)
	if err := os.WriteFile(filepath.Join(dir, "startedat"), []byte(stamp), 0o644); err != nil {
		t.Fatal(err)
	}
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func TestGarbageCollectPurgesStaleUploads(t *testing.T) {
	root := t.TempDir()
	// gc runs beside the server here (nothing is tagged, so the sweep has
	// nothing to take) to show that the fresh upload can still be finished.
	base, _ := serve(t, registry.WithRoot(root))
	staleLoc := startUpload(t, base, "org/app")
	patchUpload(t, staleLoc, bytes.Repeat([]byte("s"), 4096))
	freshLoc := startUpload(t, base, "org/app")
	fresh := bytes.Repeat([]byte("f"), 4096)
	freshNext := patchUpload(t, freshLoc, fresh[:2048])
	stale, freshDir := uploadDir(t, root, "org/app", staleLoc), uploadDir(t, root, "org/app", freshLoc)
	backdate(t, stale, 25*time.Hour)

	res, err := registry.GarbageCollect(context.Background(), registry.GCOptions{Quiet: true, DryRun: true, UploadsOlderThan: registry.DefaultUploadAge}, registry.WithRoot(root))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.PurgedUploads) != 1 || !exists(stale) {
		t.Fatalf("dry run: purged %v, stale upload on disk %v; want it listed and kept", res.PurgedUploads, exists(stale))
	}

	res, err = registry.GarbageCollect(context.Background(), registry.GCOptions{Quiet: true, UploadsOlderThan: registry.DefaultUploadAge}, registry.WithRoot(root))
	if err != nil {
		t.Fatal(err)
	}
	if exists(stale) {
		t.Errorf("upload started 25h ago survived gc with --uploads-older-than %s", registry.DefaultUploadAge)
	}
	if !exists(freshDir) {
		t.Fatalf("gc deleted an upload started moments ago")
	}
	if len(res.PurgedUploads) != 1 {
		t.Errorf("PurgedUploads = %v, want the stale one", res.PurgedUploads)
	}

	// The fresh upload still completes into a blob.
	last := patchUpload(t, freshNext, fresh[2048:])
	req, _ := http.NewRequest(http.MethodPut, withDigest(last, sha(fresh)), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("finishing the kept upload: %d", resp.StatusCode)
	}
	if code := headBlob(t, base, "org/app", sha(fresh)); code != http.StatusOK {
		t.Errorf("HEAD of the blob from the kept upload: %d", code)
	}
}

func TestGarbageCollectKeepsUploadsByDefault(t *testing.T) {
	root := t.TempDir()
	base, stop := serve(t, registry.WithRoot(root))
	loc := startUpload(t, base, "org/app")
	dir := uploadDir(t, root, "org/app", loc)
	backdate(t, dir, 1000*time.Hour)
	stop()
	res, err := registry.GarbageCollect(context.Background(), registry.GCOptions{Quiet: true}, registry.WithRoot(root))
	if err != nil {
		t.Fatal(err)
	}
	if !exists(dir) || len(res.PurgedUploads) != 0 {
		t.Errorf("GCOptions without UploadsOlderThan purged %v", res.PurgedUploads)
	}
}

// A registry that never stored a blob (every push failed) has nothing for
// mark-and-sweep, and gc still runs.
func TestGarbageCollectEmptyRegistry(t *testing.T) {
	if _, err := registry.GarbageCollect(context.Background(), registry.GCOptions{Quiet: true}, registry.WithRoot(t.TempDir())); err != nil {
		t.Fatalf("gc of an empty registry: %v", err)
	}
}
