// Package importer makes an image from a root filesystem, like `docker
// import`: a directory or a tarball becomes a one-layer image of a stated
// platform. Base images cannot always be pulled (an air-gapped CI, a
// machine without Docker Hub); a rootfs from distribution packages (Debian's
// busybox-static for each architecture) is then a real base image in seconds.
package importer

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/polyarch/polyarch/platform"
)

// Options shape the imported image's config.
type Options struct {
	Cmd        []string
	Entrypoint []string
	Env        []string
	// Created is the image's creation time; zero means the Unix epoch, so the
	// same rootfs always gives the same digest.
	Created time.Time
}

// Image builds an OCI image of platform p from src, a directory or a tar
// (optionally gzip-compressed) file. Files in a directory are stored in
// lexical order, owned by root, with their modes and a fixed time, so the
// layer is reproducible.
func Image(src string, p v1.Platform, o Options) (v1.Image, error) {
	if err := platform.Check(platform.Normalize(p)); err != nil {
		return nil, fmt.Errorf("platform %s: %w", platform.Format(p), err)
	}
	st, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("rootfs: %w", err)
	}
	var layer v1.Layer
	if st.IsDir() {
		layer, err = tarball.LayerFromOpener(func() (io.ReadCloser, error) { return tarDir(src) }, tarball.WithMediaType(types.OCILayer))
	} else {
		layer, err = tarball.LayerFromFile(src, tarball.WithMediaType(types.OCILayer))
	}
	if err != nil {
		return nil, fmt.Errorf("rootfs %s: %w", src, err)
	}
	img, err := mutate.AppendLayers(mutate.MediaType(mutate.ConfigMediaType(empty.Image, types.OCIConfigJSON), types.OCIManifestSchema1), layer)
	if err != nil {
		return nil, fmt.Errorf("rootfs %s: %w", src, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	n := platform.Normalize(p)
	cf.OS, cf.Architecture, cf.Variant, cf.OSVersion = n.OS, n.Architecture, n.Variant, n.OSVersion
	cf.Config.Cmd, cf.Config.Entrypoint, cf.Config.Env = o.Cmd, o.Entrypoint, o.Env
	created := o.Created
	if created.IsZero() {
		created = time.Unix(0, 0)
	}
	cf.Created = v1.Time{Time: created.UTC()}
	return mutate.ConfigFile(img, cf)
}

// Import builds the image and pushes it to ref; it returns the digest.
func Import(ctx context.Context, src string, p v1.Platform, ref name.Reference, o Options, opts ...remote.Option) (v1.Hash, error) {
	img, err := Image(src, p, o)
	if err != nil {
		return v1.Hash{}, err
	}
	if err := remote.Write(ref, img, append(opts[:len(opts):len(opts)], remote.WithContext(ctx))...); err != nil {
		return v1.Hash{}, fmt.Errorf("pushing %s: %w", ref, err)
	}
	return img.Digest()
}

// tarDir streams a directory as a reproducible tar.
func tarDir(dir string) (io.ReadCloser, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := func() error {
			for _, p := range paths {
				if err := addFile(tw, dir, p); err != nil {
					return err
				}
			}
			return tw.Close()
		}()
		pw.CloseWithError(err)
	}()
	return pr, nil
}

func addFile(tw *tar.Writer, root, p string) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	link := ""
	if fi.Mode()&fs.ModeSymlink != 0 {
		if link, err = os.Readlink(p); err != nil {
			return err
		}
	}
	h, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	rel, _ := filepath.Rel(root, p)
	h.Name = filepath.ToSlash(rel)
	if fi.IsDir() {
		h.Name += "/"
	}
	h.Uid, h.Gid, h.Uname, h.Gname = 0, 0, "root", "root"
	h.ModTime, h.AccessTime, h.ChangeTime = time.Unix(0, 0), time.Time{}, time.Time{}
	h.Format = tar.FormatPAX
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(tw, f)
	return err
}
