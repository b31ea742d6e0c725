package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/polyarch/polyarch/client"
	"github.com/polyarch/polyarch/config"
	"github.com/polyarch/polyarch/imagetest"
	"github.com/polyarch/polyarch/platform"
)

// Errors of TestJobs that are the command line's fault, for a caller that
// tells them from failures.
var (
	// ErrTestArgs: the arguments name nothing TestJobs can test.
	ErrTestArgs = errors.New("nothing to test")
	// ErrSpecForConfig: a spec was given for images of polyarch.yaml,
	// which have their own (images[].test).
	ErrSpecForConfig = errors.New("a test spec is for an image reference")
)

// TestOptions shape TestJobs.
type TestOptions struct {
	// Platforms, when set, keeps only these platforms.
	Platforms []v1.Platform
	// Spec tests an image reference; nil is no tests but the automatic
	// architecture test. Images of polyarch.yaml have their own.
	Spec *imagetest.Spec
	// Client parses the reference and reaches the registries.
	Client client.Options
}

// TestJobs pins by digest every image a `polyarch test` command line names,
// each with its spec. args are either selectors of cfg, as build and
// release take them ("agent", "builder@2.4"; none is every image), whose
// per-arch images are tested as their last build pushed them; or one image
// reference, an index or an image, that is not a selector of cfg (cfg may
// be nil), every platform of which is tested with o.Spec.
func TestJobs(ctx context.Context, cfg *config.Config, args []string, o TestOptions) ([]imagetest.Job, error) {
	if len(args) == 1 && (cfg == nil || !Selects(cfg, args[0])) {
		return refJobs(ctx, cfg, args[0], o)
	}
	if cfg == nil {
		if len(args) == 0 {
			return nil, fmt.Errorf("%w: no polyarch.yaml here: give an image reference, or the polyarch.yaml whose images to test", ErrTestArgs)
		}
		return nil, fmt.Errorf("%w: %s: without a polyarch.yaml, give one image reference", ErrTestArgs, strings.Join(args, " "))
	}
	for _, a := range args {
		if !Selects(cfg, a) {
			_, err := ParseSelector(a).Lookup(cfg)
			return nil, fmt.Errorf("%w: %v; test takes images of polyarch.yaml or one image reference", ErrTestArgs, err)
		}
	}
	if o.Spec != nil {
		return nil, fmt.Errorf("%w: %s select images of %s, which are tested with their own test: spec", ErrSpecForConfig, selected(args), cfg.File)
	}
	return configJobs(ctx, cfg, args, o)
}

func selected(args []string) string {
	if len(args) == 0 {
		return "all the images"
	}
	return strings.Join(args, " ")
}

// refJobs tests every platform of one image reference.
func refJobs(ctx context.Context, cfg *config.Config, arg string, o TestOptions) ([]imagetest.Job, error) {
	ref, err := o.Client.Parse(arg)
	if err != nil {
		if cfg != nil {
			return nil, fmt.Errorf("%w: %s is neither an image of %s (it has %s) nor an image reference: %v", ErrTestArgs, arg, cfg.File, strings.Join(imageNames(cfg), ", "), err)
		}
		return nil, fmt.Errorf("%w: %v", ErrTestArgs, err)
	}
	targets, err := imagetest.Targets(ctx, ref, o.Platforms, o.Client.Remote(ctx)...)
	if err != nil {
		if cfg != nil {
			return nil, fmt.Errorf("%s is not an image of %s (it has %s), and as an image reference: %w", arg, cfg.File, strings.Join(imageNames(cfg), ", "), err)
		}
		return nil, err
	}
	spec := o.Spec
	if spec == nil {
		spec = &imagetest.Spec{}
	}
	jobs := make([]imagetest.Job, len(targets))
	for i, t := range targets {
		jobs[i] = imagetest.Job{Target: t, Spec: spec}
	}
	return jobs, nil
}

// configJobs pins the per-arch images of the selected images of cfg, as
// their archRefs name them now, and names at once every one missing.
func configJobs(ctx context.Context, cfg *config.Config, args []string, o TestOptions) ([]imagetest.Job, error) {
	plan, err := NewPlan(cfg, args, Options{Platforms: o.Platforms})
	if err != nil {
		return nil, err
	}
	opts := o.Client.Remote(ctx)
	var jobs []imagetest.Job
	var missing []error
	for _, u := range plan.Units {
		spec, err := TestSpec(cfg, u.Image)
		if err != nil {
			return nil, err
		}
		for _, t := range u.Targets {
			ref, err := o.Client.Parse(t.Job.Ref)
			if err != nil {
				return nil, err
			}
			desc, err := remote.Head(ref, opts...)
			if err != nil {
				var te *transport.Error
				if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
					missing = append(missing, fmt.Errorf("%s %s: %s is not in the registry (build it first: polyarch build %s)", u.Name(), platform.Format(t.Platform), ref, u.Name()))
					continue
				}
				return nil, fmt.Errorf("%s %s: looking up %s: %w", u.Name(), platform.Format(t.Platform), ref, err)
			}
			target, err := imagetest.TargetByDigest(ctx, ref.Context().Digest(desc.Digest.String()), opts...)
			if err != nil {
				return nil, err
			}
			jobs = append(jobs, imagetest.Job{Target: target, Spec: spec})
		}
	}
	if len(missing) > 0 {
		return nil, errors.Join(missing...)
	}
	return jobs, nil
}
