package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// image describes the OCI layout being pushed.
type image struct {
	Digest    string `json:"digest"`    // of the image index
	Bytes     int64  `json:"bytes"`     // every blob: layers, configs, manifests, the index
	Blobs     int    `json:"blobs"`     // how many blobs that is
	Platforms int    `json:"platforms"` // entries in the image index
}

// readImage reads a layout whose index.json holds one image index, as
// genimage writes it.
func readImage(dir string) (image, error) {
	var top v1.Index
	if err := readJSON(filepath.Join(dir, "index.json"), &top); err != nil {
		return image{}, err
	}
	if len(top.Manifests) != 1 || top.Manifests[0].MediaType != v1.MediaTypeImageIndex {
		return image{}, fmt.Errorf("%s: index.json should hold exactly one image index", dir)
	}
	img := image{Digest: top.Manifests[0].Digest.String()}
	var idx v1.Index
	if err := readJSON(filepath.Join(dir, "blobs", "sha256", top.Manifests[0].Digest.Encoded()), &idx); err != nil {
		return image{}, err
	}
	img.Platforms = len(idx.Manifests)
	var err error
	img.Bytes, img.Blobs, err = blobTotal(dir)
	return img, err
}

// blobTotal sums the sizes of a layout's blobs.
func blobTotal(dir string) (bytes int64, n int, err error) {
	err = filepath.WalkDir(filepath.Join(dir, "blobs"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		bytes += info.Size()
		n++
		return nil
	})
	return bytes, n, err
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
