package index

import (
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// readIndex reads the index desc describes, and its manifest.
func readIndex(ref name.Reference, desc *remote.Descriptor) (v1.ImageIndex, *v1.IndexManifest, error) {
	ii, err := desc.ImageIndex()
	if err != nil {
		return nil, nil, fmt.Errorf("reading index %s: %w", ref, err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		return nil, nil, fmt.Errorf("reading index %s: %w", ref, err)
	}
	return ii, im, nil
}
