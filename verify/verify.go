// Package verify answers "is every label true?" for a multi-architecture
// image: does each index entry's platform match its image config, and are
// the binaries inside each image for the CPU its platform names?
//
// Verify fetches an index (or a single image) and, for each child:
//
//   - compares the index descriptor's platform with the image config's
//     os/architecture/variant after containerd's normalisation: a config
//     saying aarch64 under an arm64 descriptor is a spelling finding, one
//     saying amd64 a mismatch;
//   - lints the index: arm without a variant, duplicate platforms, spellings
//     containerd has to normalise, children missing from the repository;
//   - scans every layer as a stream (gzip, zstd or plain tar; nothing on
//     disk, files never buffered) and checks the ELF header of every regular
//     file against the platform: an amd64 binary in the arm64 image is a
//     finding naming the platform, manifest, layer and path;
//   - checks what binaries record about the CPU revision they need against
//     the platform's variant: an ARMv7 binary (.ARM.attributes) in the
//     arm/v6 image, an x86-64-v3 one (.note.gnu.property) in the amd64 image.
//
// Attestation manifests (unknown/unknown) are skipped. Layers are scanned
// concurrently, each downloaded once even when children share it.
//
//	rep, err := verify.Verify(ctx, ref, verify.WithRemote(client.Options{}.Remote(ctx)...))
//	if err != nil {
//		return err // the registry could not be read
//	}
//	rep.WriteText(os.Stdout)
//	return rep.Err() // wraps verify.ErrFindings when a label is not true
//
// ScanLayer checks a single layer from any io.Reader.
package verify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/polyarch/polyarch/index"
	"github.com/polyarch/polyarch/platform"
)

// Verify checks the index or image ref names and returns what it found.
// Findings are the report's business: err is non-nil only when ref could
// not be verified (unreachable registry, denied, a missing reference or
// blob, a corrupt layer), and names ref. Report.Err turns findings into an
// error.
func Verify(ctx context.Context, ref name.Reference, opts ...Option) (*Report, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	// The first failure cancels the downloads still running.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	v := &verifier{
		ctx:    ctx,
		cancel: cancel,
		opts:   o,
		remote: append(slices.Clone(o.remote), remote.WithContext(ctx)),
		repo:   ref.Context(),
	}
	rep, err := v.verify(ref)
	if err != nil {
		return nil, fmt.Errorf("verifying %s: %w", ref, err)
	}
	return rep, nil
}

type verifier struct {
	ctx    context.Context
	cancel context.CancelFunc
	opts   *options
	remote []remote.Option
	repo   name.Repository
}

// child is a Child being verified: its report entry and, unless the manifest
// is missing, the image to scan and the platform its binaries must be for.
type child struct {
	Child
	img    v1.Image
	expect v1.Platform
}

func (v *verifier) verify(ref name.Reference) (*Report, error) {
	desc, err := remote.Get(ref, v.remote...)
	if err != nil {
		return nil, err
	}
	rep := &Report{Reference: ref.String(), Digest: desc.Digest, MediaType: desc.MediaType}

	var children []*child
	switch {
	case desc.MediaType.IsIndex():
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, err
		}
		children, rep.Attestations, err = v.index(idx)
		if err != nil {
			return nil, err
		}
	case desc.MediaType.IsImage():
		img, err := desc.Image()
		if err != nil {
			return nil, err
		}
		c, err := v.image(img, desc.Digest, desc.MediaType)
		if err != nil {
			return nil, err
		}
		children = []*child{c}
	default:
		return nil, fmt.Errorf("%s is a %s, not an image index or image", desc.Digest, desc.MediaType)
	}

	if err := v.scanLayers(children); err != nil {
		return nil, err
	}
	for _, c := range children {
		if c.Findings == nil {
			c.Findings = []Finding{} // [] rather than null in JSON
		}
		rep.Children = append(rep.Children, c.Child)
	}
	rep.summarize()
	return rep, nil
}

// image checks a single image: its config's platform only.
func (v *verifier) image(img v1.Image, digest v1.Hash, mt types.MediaType) (*child, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("config of %s: %w", digest, err)
	}
	p := cfg.Platform()
	if p == nil {
		p = &v1.Platform{}
	}
	c := &child{Child: Child{Platform: platform.Format(*p), ConfigPlatform: platform.Format(*p), Digest: digest, MediaType: mt}, img: img, expect: *p}
	c.lintPlatform(*p, "config", true)
	return c, nil
}

// index checks each entry of idx, fetching the children concurrently.
func (v *verifier) index(idx v1.ImageIndex) ([]*child, int, error) {
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, 0, err
	}
	var (
		children     []*child
		attestations int
		seen         = map[string]string{} // normalised platform -> first digest
	)
	for _, d := range m.Manifests {
		if index.IsAttestation(d) {
			attestations++
			continue
		}
		c := &child{Child: Child{Digest: d.Digest, MediaType: d.MediaType}}
		if d.Platform == nil {
			c.add(Finding{Kind: KindUnknownPlatform, Message: "index entry has no platform"})
		} else {
			c.Platform = platform.Format(*d.Platform)
			c.expect = *d.Platform
			c.lintPlatform(*d.Platform, "descriptor", true)
			key := platform.Format(platform.Normalize(*d.Platform))
			if first, dup := seen[key]; dup {
				c.add(Finding{Kind: KindDuplicate, Message: fmt.Sprintf("%s is also the platform of %s, which hosts pull instead", key, first)})
			} else {
				seen[key] = d.Digest.String()
			}
		}
		children = append(children, c)
	}

	err = v.forEach(len(children), func(i int) error {
		return v.fetchChild(children[i])
	})
	return children, attestations, err
}

// fetchChild gets a child's manifest and config from the index's
// repository and compares the config's platform with the descriptor's.
func (v *verifier) fetchChild(c *child) error {
	desc, err := remote.Get(v.repo.Digest(c.Digest.String()), v.remote...)
	var terr *transport.Error
	if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
		c.add(Finding{Kind: KindMissingChild, Message: fmt.Sprintf("manifest %s is not in %s", c.Digest, v.repo)})
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s (%s): %w", c.Digest, c.label(), err)
	}
	if !desc.MediaType.IsImage() {
		// A nested index or an artifact: no config to compare, no layers to scan.
		return nil
	}
	img, err := desc.Image()
	if err != nil {
		return fmt.Errorf("%s (%s): %w", c.Digest, c.label(), err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("config of %s (%s): %w", c.Digest, c.label(), err)
	}
	c.img = img
	p := cfg.Platform()
	if p == nil {
		p = &v1.Platform{}
	}
	c.ConfigPlatform = platform.Format(*p)
	if c.expect.Architecture == "" {
		// No platform on the descriptor: judge the binaries by the config.
		c.expect = *p
	}
	c.lintConfig(*p)
	return nil
}

func (c *child) label() string {
	if c.Platform == "" {
		return "no platform"
	}
	return c.Platform
}

// add records a finding on the child, filling in its platform and manifest.
func (c *child) add(f Finding) {
	f.Platform = c.Platform
	f.Manifest = c.Digest
	c.Findings = append(c.Findings, f)
}

// forEach runs fn(0..n-1), at most the concurrency limit at once, and
// returns the first error. That error cancels v.ctx, so the calls still
// running stop at their next network read and the rest do not start.
func (v *verifier) forEach(n int, fn func(i int) error) error {
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
		sem      = make(chan struct{}, v.opts.concurrency)
	)
	for i := 0; i < n; i++ {
		select {
		case sem <- struct{}{}:
		case <-v.ctx.Done():
		}
		if v.ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := fn(i); err != nil {
				once.Do(func() { firstErr = err; v.cancel() })
			}
		}()
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = v.ctx.Err()
	}
	return firstErr
}
