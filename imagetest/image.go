package imagetest

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/polyarch/polyarch/build/buildkit"
	"github.com/polyarch/polyarch/index"
	"github.com/polyarch/polyarch/platform"
)

// Target is one per-architecture image, addressed by digest.
type Target struct {
	// Ref is repository@digest.
	Ref      string
	Digest   string
	Platform v1.Platform
	Image    v1.Image
	Config   *v1.ConfigFile
}

// ResolveImage finds the image ref gives a host of platform p (following
// containerd's matching when ref is an index) and pins it by digest.
func ResolveImage(ctx context.Context, ref name.Reference, p v1.Platform, opts ...remote.Option) (*Target, error) {
	opts = append(opts[:len(opts):len(opts)], remote.WithContext(ctx))
	r, err := index.NewResolver(ctx, ref, opts...)
	if err != nil {
		return nil, err
	}
	res := r.Resolve(p)
	if !res.Found {
		return nil, fmt.Errorf("%s: a %s host gets nothing: %s", ref, platform.Format(p), res.Why)
	}
	return TargetByDigest(ctx, ref.Context().Digest(res.Digest), opts...)
}

// TargetByDigest loads one image manifest (not an index) by digest.
func TargetByDigest(ctx context.Context, ref name.Digest, opts ...remote.Option) (*Target, error) {
	img, err := remote.Image(ref, append(opts[:len(opts):len(opts)], remote.WithContext(ctx))...)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", ref, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the config of %s: %w", ref, err)
	}
	p := platform.Normalize(v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant})
	return &Target{Ref: ref.String(), Digest: ref.DigestStr(), Platform: p, Image: img, Config: cf}, nil
}

// Process is the process `docker run IMAGE ARGS...` would start: the image's
// entrypoint with args (or its cmd when there are none), its environment
// plus env, its workdir and user unless overridden.
func (t *Target) Process(args, env []string, workdir, user string) buildkit.Process {
	c := t.Config.Config
	argv := append([]string{}, c.Entrypoint...)
	if len(args) > 0 {
		argv = append(argv, args...)
	} else {
		argv = append(argv, c.Cmd...)
	}
	p := buildkit.Process{Args: argv, Env: mergeEnv(c.Env, env), Cwd: c.WorkingDir, User: c.User}
	if workdir != "" {
		p.Cwd = workdir
	}
	if user != "" {
		p.User = user
	}
	return p
}

// mergeEnv overrides base KEY=VALUE entries with extra ones, keeping order,
// and supplies a PATH when the image has none.
func mergeEnv(base, extra []string) []string {
	out := []string{}
	idx := map[string]int{}
	for _, kv := range append(append([]string{}, base...), extra...) {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[k]; ok {
			out[i] = kv
			continue
		}
		idx[k] = len(out)
		out = append(out, kv)
	}
	if _, ok := idx["PATH"]; !ok {
		out = append(out, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	return out
}

func envMap(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k + "=" + m[k]
	}
	return out
}
