package verify

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// scanLayers scans every layer of every child, each distinct layer once and
// up to the concurrency limit at a time, then judges each child's layers
// against the child's platform.
func (v *verifier) scanLayers(children []*child) error {
	type job struct {
		layer v1.Layer
		owner string // a platform using the layer, for errors
		scan  layerScan
	}
	var (
		jobs   []*job
		byHash = map[v1.Hash]*job{}
		uses   = make([][]*job, len(children)) // per child, its scanned layers in order
	)
	for i, c := range children {
		if c.img == nil {
			continue
		}
		layers, err := c.img.Layers()
		if err != nil {
			return fmt.Errorf("layers of %s (%s): %w", c.Digest, c.label(), err)
		}
		for _, l := range layers {
			mt, err := l.MediaType()
			if err != nil {
				return err
			}
			if !mt.IsLayer() || !mt.IsDistributable() {
				c.LayersSkipped++
				continue
			}
			h, err := l.Digest()
			if err != nil {
				return err
			}
			j := byHash[h]
			if j == nil {
				j = &job{layer: l, owner: c.label()}
				byHash[h] = j
				jobs = append(jobs, j)
			}
			uses[i] = append(uses[i], j)
		}
	}

	err := v.forEach(len(jobs), func(i int) error {
		j := jobs[i]
		h, _ := j.layer.Digest()
		rc, err := j.layer.Compressed()
		if err != nil {
			return fmt.Errorf("layer %s (%s): %w", h, j.owner, err)
		}
		defer rc.Close()
		rec := v.opts.sbomLayers.Record(h) // nil without WithSBOMLayers, or when it has the layer
		j.scan, err = scan(rc, v.opts.ignore, rec)
		rec.Done(err)
		if err != nil {
			return fmt.Errorf("layer %s (%s): %w", h, j.owner, err)
		}
		return nil
	})
	if err != nil {
		return err
	}

	for i, c := range children {
		for _, j := range uses[i] {
			h, _ := j.layer.Digest()
			c.Layers++
			c.Files += j.scan.stats.Files
			c.ELFFiles += j.scan.stats.ELFFiles
			c.Ignored += j.scan.stats.Ignored
			for _, f := range j.scan.check(c.expect, c.Platform) {
				f.Manifest, f.Layer = c.Digest, h
				c.Findings = append(c.Findings, f)
			}
		}
	}
	return nil
}
