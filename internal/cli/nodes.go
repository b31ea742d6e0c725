package cli

import (
	"context"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/polyarch/polyarch/build/buildkit"
	"github.com/polyarch/polyarch/build/localnode"
	"github.com/polyarch/polyarch/config"
	"github.com/polyarch/polyarch/pipeline"
)

// nodeFlags pick the builder node of a platform for commands that run
// images: the builders of polyarch.yaml when there is one, else the local node.
type nodeFlags struct {
	file       string
	builderDir string
}

func (f *nodeFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.file, "file", "f", "", "polyarch.yaml whose builders: serve each platform (default ./polyarch.yaml if present, else the local node only)")
	cmd.Flags().StringVar(&f.builderDir, "builder-dir", "", "state directory of the local builder node (default "+localnode.DefaultDir()+")")
}

func (f *nodeFlags) nodes() (*pipeline.Builders, error) {
	cfg, err := loadOptionalConfig(f.file)
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		cfg = &config.Config{}
	}
	return pipeline.NodesFor(cfg, localOptionsFor(cfg, f.builderDir)), nil
}

func (f *nodeFlags) nodeFor(ctx context.Context, p v1.Platform) (*buildkit.Node, error) {
	n, err := f.nodes()
	if err != nil {
		return nil, err
	}
	return n.ForPlatform(ctx, p)
}

// discardUnlessDebug is where BuildKit's own progress goes for commands
// whose output is the user's: nowhere, or stderr with --debug.
func discardUnlessDebug(g *globals) io.Writer {
	if g.debug {
		return g.stderr
	}
	return io.Discard
}
