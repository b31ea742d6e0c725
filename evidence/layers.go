package evidence

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha1" //nolint:gosec // SPDX 2.3 requires a SHA1 checksum of every file
	"crypto/sha256"
	"fmt"
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

// layer returns l's scan, reading l unless the cache has it.
func (c *LayerCache) layer(ctx context.Context, l v1.Layer) (*layerScan, error) {
	d, err := l.Digest()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.layers == nil {
		c.layers = map[v1.Hash]*cachedLayer{}
	}
	e, ok := c.layers[d]
	if !ok {
		e = &cachedLayer{done: make(chan struct{})}
		c.layers[d] = e
	}
	c.mu.Unlock()
	if ok {
		select {
		case <-e.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if e.err != nil {
			return nil, e.err
		}
		return e.scan, nil
	}
	e.scan, e.err = scanLayer(ctx, l)
	if e.err != nil {
		e.err = fmt.Errorf("layer %s: %w", d, e.err)
		c.mu.Lock()
		delete(c.layers, d) // a later SBOM reads it again
		c.mu.Unlock()
	}
	close(e.done)
	return e.scan, e.err
}

// scanLayer reads one layer's blob to its end, hashing every regular file.
func scanLayer(ctx context.Context, l v1.Layer) (*layerScan, error) {
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	stream, done, err := layerstream.Open(rc)
	if err != nil {
		return nil, err
	}
	defer done()
	tr := tar.NewReader(stream)
	s := &layerScan{}
	buf := make([]byte, 64<<10) // one copy buffer for every file, not one each
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		h, err := tr.Next()
		if err == io.EOF {
			return s, nil
		}
		if err != nil {
			return nil, err
		}
		p := cleanPath(h.Name)
		dir, base := path.Split(p)
		dir = strings.TrimSuffix(dir, "/")
		switch {
		case base == whiteoutOpaque:
			s.opaque = append(s.opaque, dir)
			continue
		case strings.HasPrefix(base, whiteoutPrefix):
			s.whiteouts = append(s.whiteouts, path.Join(dir, strings.TrimPrefix(base, whiteoutPrefix)))
			continue
		}
		if h.Typeflag != tar.TypeReg {
			s.entries = append(s.entries, layerEntry{path: p, dir: h.Typeflag == tar.TypeDir})
			continue
		}
		s1, s256 := sha1.New(), sha256.New() //nolint:gosec
		var keep *bytes.Buffer
		w := io.MultiWriter(s1, s256)
		if isDatabase(p) && h.Size <= maxDatabase {
			keep = &bytes.Buffer{}
			w = io.MultiWriter(s1, s256, keep)
		}
		if _, err := io.CopyBuffer(w, tr, buf); err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		e := layerEntry{path: p, file: &file{path: p, sha1: hexOf(s1), sha256: hexOf(s256)}}
		if keep != nil {
			e.data = keep.Bytes()
		}
		s.entries = append(s.entries, e)
	}
}

// cleanPath is a tar entry's name relative to the root, "" for the root.
func cleanPath(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
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
	if cache == nil {
		cache = &LayerCache{}
	}
	top := map[string]*layerEntry{} // regular files of the flattened filesystem
	var dirs map[string]bool        // directories holding some file of top (or once did)
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
	dirs = map[string]bool{}
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
