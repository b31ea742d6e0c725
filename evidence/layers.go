package evidence

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha1" //nolint:gosec // SPDX 2.3 requires a SHA1 checksum of every file
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"path"
	"sort"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/polyarch/polyarch/internal/layerstream"
)

// LayerCache keeps what SBOM found in each layer, by the layer's digest,
// so that a layer several images share (a base image under every version
// of a builder image, or under every image of a release) is read and
// hashed once. It holds each layer's file list and its package databases,
// not its content. The zero value is ready; it is safe for concurrent use,
// and two SBOMs that need the same layer at once wait for one read.
type LayerCache struct {
	mu     sync.Mutex
	layers map[v1.Hash]*cachedLayer
}

type cachedLayer struct {
	done chan struct{}
	scan *layerScan
	err  error
}

// layerScan is what one layer's tar holds, before layers are stacked.
type layerScan struct {
	// entries in tar order: a regular file (file set), or another kind of
	// entry (file nil), which replaces what a lower layer had at its path.
	entries []layerEntry
	// whiteouts are paths the layer deletes from the layers below it;
	// opaque are directories whose lower content it hides.
	whiteouts, opaque []string
}

type layerEntry struct {
	path string
	dir  bool
	file *file
	// data is the content of a package database or os-release.
	data []byte
}

// OCI whiteouts (image-spec layer.md).
const (
	whiteoutPrefix = ".wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// layer returns l's scan, reading l unless the cache has it (or another
// reader is making it: then it waits, and reads l itself if that failed).
func (c *LayerCache) layer(ctx context.Context, l v1.Layer) (*layerScan, error) {
	d, err := l.Digest()
	if err != nil {
		return nil, err
	}
	for {
		e, mine := c.claim(d)
		if mine {
			r := &LayerRecorder{c: c, digest: d, entry: e}
			r.Done(r.read(ctx, l))
			if e.err != nil {
				return nil, fmt.Errorf("layer %s: %w", d, e.err)
			}
			return e.scan, nil
		}
		select {
		case <-e.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if e.err == nil {
			return e.scan, nil
		}
		// Another reader's pass failed (verify's scan of a broken layer, a
		// cancelled test): read it here, and say what this read finds.
	}
}

// claim returns d's entry and whether the caller is to make it.
func (c *LayerCache) claim(d v1.Hash) (*cachedLayer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.layers == nil {
		c.layers = map[v1.Hash]*cachedLayer{}
	}
	if e, ok := c.layers[d]; ok {
		return e, false
	}
	e := &cachedLayer{done: make(chan struct{})}
	c.layers[d] = e
	return e, true
}

// Record returns a recorder that makes the scan of layer d from a pass
// over its tar stream that another reader makes anyway (verify's
// foreign-binary scan during a release's tests), so that an SBOM of an
// image with that layer reads it no more. Nil when c is nil, or d is cached
// or being read already. The reader calls Entry for every tar header,
// passes each regular file's whole content through the writer Entry
// returns, and calls Done once at the end of the stream (or with the error
// that ended it).
func (c *LayerCache) Record(d v1.Hash) *LayerRecorder {
	if c == nil {
		return nil
	}
	e, mine := c.claim(d)
	if !mine {
		return nil
	}
	return &LayerRecorder{c: c, digest: d, entry: e}
}

// LayerRecorder makes one layer's scan; see LayerCache.Record.
type LayerRecorder struct {
	c      *LayerCache
	digest v1.Hash
	entry  *cachedLayer
	scan   layerScan
	// cur is the regular file being written, if any.
	cur      *layerEntry
	s1, s256 hash.Hash
	keep     *bytes.Buffer
	done     bool
}

// Entry records one tar header. For a regular file it returns the writer
// its content must go through, whole; nil for any other entry.
func (r *LayerRecorder) Entry(h *tar.Header) io.Writer {
	r.flush()
	p := layerstream.Path(h.Name)
	dir, base := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	switch {
	case base == whiteoutOpaque:
		r.scan.opaque = append(r.scan.opaque, dir)
		return nil
	case strings.HasPrefix(base, whiteoutPrefix):
		r.scan.whiteouts = append(r.scan.whiteouts, path.Join(dir, strings.TrimPrefix(base, whiteoutPrefix)))
		return nil
	}
	if h.Typeflag != tar.TypeReg {
		r.scan.entries = append(r.scan.entries, layerEntry{path: p, dir: h.Typeflag == tar.TypeDir})
		return nil
	}
	r.cur = &layerEntry{path: p}
	r.s1, r.s256, r.keep = sha1.New(), sha256.New(), nil //nolint:gosec
	if isDatabase(p) && h.Size <= maxDatabase {
		r.keep = &bytes.Buffer{}
		return io.MultiWriter(r.s1, r.s256, r.keep)
	}
	return io.MultiWriter(r.s1, r.s256)
}

// flush ends the regular file being written.
func (r *LayerRecorder) flush() {
	if r.cur == nil {
		return
	}
	r.cur.file = &file{path: r.cur.path, sha1: hexOf(r.s1), sha256: hexOf(r.s256)}
	if r.keep != nil {
		r.cur.data = r.keep.Bytes()
	}
	r.scan.entries = append(r.scan.entries, *r.cur)
	r.cur = nil
}

// Done ends the pass: with a nil err the scan is kept for every SBOM of
// the cache; with an error nothing is, and an SBOM that needs the layer
// reads it itself. Only the first call counts; a nil recorder does nothing.
func (r *LayerRecorder) Done(err error) {
	if r == nil || r.done {
		return
	}
	r.done = true
	e := r.entry
	if err != nil {
		e.err = err
		r.c.mu.Lock()
		delete(r.c.layers, r.digest)
		r.c.mu.Unlock()
	} else {
		r.flush()
		s := r.scan
		e.scan = &s
	}
	close(e.done)
}

// read makes the scan by reading l's blob to its end.
func (r *LayerRecorder) read(ctx context.Context, l v1.Layer) error {
	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	stream, done, err := layerstream.Open(rc)
	if err != nil {
		return err
	}
	defer done()
	tr := tar.NewReader(stream)
	buf := make([]byte, 64<<10) // one copy buffer for every file, not one each
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if w := r.Entry(h); w != nil {
			if _, err := io.CopyBuffer(w, tr, buf); err != nil {
				return fmt.Errorf("reading %s: %w", layerstream.Path(h.Name), err)
			}
		}
	}
}

// scan stacks the image's layers, bottom first, as a container runtime
// does: a layer's whiteouts and opaque directories delete what the layers
// below have there, and an entry that is not a directory replaces whatever
// a lower layer had at its path, a whole directory included.
func scan(ctx context.Context, img v1.Image, cache *LayerCache) (*scanned, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	top := map[string]*layerEntry{} // regular files of the flattened filesystem
	dirs := map[string]bool{}       // directories holding some file of top (or once did)
	under := func(dir string) {
		if dir == "" {
			clear(top)
			return
		}
		if !dirs[dir] {
			return
		}
		for p := range top {
			if strings.HasPrefix(p, dir+"/") {
				delete(top, p)
			}
		}
	}
	for _, l := range layers {
		s, err := cache.layer(ctx, l)
		if err != nil {
			return nil, err
		}
		for _, d := range s.opaque {
			under(d)
		}
		for _, w := range s.whiteouts {
			delete(top, w)
			under(w)
		}
		for i := range s.entries {
			e := &s.entries[i]
			if e.dir {
				delete(top, e.path) // a directory where a lower layer had a file
				continue
			}
			under(e.path)
			if e.file == nil {
				delete(top, e.path)
				continue
			}
			top[e.path] = e
			for d := path.Dir(e.path); d != "." && !dirs[d]; d = path.Dir(d) {
				dirs[d] = true
			}
		}
	}
	out := &scanned{files: make([]file, 0, len(top))}
	dbs := map[string][]byte{}
	for p, e := range top {
		out.files = append(out.files, *e.file)
		if e.data != nil {
			dbs[p] = e.data
		}
	}
	sort.Slice(out.files, func(i, j int) bool { return out.files[i].path < out.files[j].path })
	out.osID, out.osVersion = osRelease(dbs)
	out.packages = append(out.packages, dpkgPackages(dbs)...)
	out.packages = append(out.packages, apkPackages(dbs["lib/apk/db/installed"])...)
	out.packages = append(out.packages, busyboxPackages(dbs)...)
	return out, nil
}
