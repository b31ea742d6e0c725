package pipeline

import (
	"github.com/polyarch/polyarch/config"
	"github.com/polyarch/polyarch/imagetest"
)

// TestSpec decodes an image's test spec from polyarch.yaml (an empty spec,
// which still runs the automatic architecture test, when it has none).
func TestSpec(cfg *config.Config, img *config.Image) (*imagetest.Spec, error) {
	if img.Test == nil {
		return &imagetest.Spec{}, nil
	}
	return imagetest.DecodeSpec(cfg.File, &img.Test.Node)
}
