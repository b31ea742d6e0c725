package drift

import (
	"context"
	"fmt"
	"os"
	"sort"

	"github.com/polyarch/polyarch/config"
)

// Report compares one version of an image with its upstream.
type Report struct {
	Image   string `json:"image"`
	Version string `json:"version,omitempty"`
	// Dockerfile is ours.
	Dockerfile string `json:"dockerfile"`
	// Upstream names the upstream files compared with it.
	Upstream []string `json:"upstream"`
	Rows     []Row    `json:"tools"`
	// Cached names the upstream files read from the cache, and why.
	Cached []Cached `json:"cached,omitempty"`
	// Drift is whether some row is drift (Status.Drift).
	Drift bool `json:"drift"`
}

// Name is IMAGE@VERSION, or IMAGE for an image without versions.
func (r *Report) Name() string {
	if r.Version == "" {
		return r.Image
	}
	return r.Image + "@" + r.Version
}

// Count is how many rows have status s.
func (r *Report) Count(s Status) int {
	n := 0
	for _, row := range r.Rows {
		if row.Status == s {
			n++
		}
	}
	return n
}

// Check compares the tools of one version of img (u, from img.Units) with
// those of its upstream, read by f.
func Check(ctx context.Context, cfg *config.Config, img *config.Image, u config.Unit, f *Fetcher) (*Report, error) {
	up := UpstreamOf(img, u)
	name := img.Name
	if u.Index >= 0 {
		name += "@" + u.Version
	}
	if up == nil {
		return nil, fmt.Errorf("%s names no upstream: give versions[].upstream in %s", name, cfg.File)
	}
	ours, err := Ours(cfg, img, u)
	if err != nil {
		return nil, err
	}
	theirs, files, err := f.Tools(ctx, up)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	r := &Report{Image: img.Name, Dockerfile: cfg.Dockerfile(*img, u)}
	if u.Index >= 0 {
		r.Version = u.Version
	}
	for _, file := range files {
		r.Upstream = append(r.Upstream, file.Name)
		if file.Cached != nil {
			r.Cached = append(r.Cached, *file.Cached)
		}
	}
	r.Rows = Compare(ours, theirs, NewAliases(cfg.Drift.Aliases))
	for _, row := range r.Rows {
		r.Drift = r.Drift || row.Status.Drift()
	}
	return r, nil
}

// UpstreamOf is the upstream of one version of img, nil if it names none.
func UpstreamOf(img *config.Image, u config.Unit) *config.Upstream {
	if u.Index < 0 || u.Index >= len(img.Versions) {
		return nil
	}
	return img.Versions[u.Index].Upstream
}

// Ours reads the tool versions one version of img builds with: its
// Dockerfile's, where polyarch.yaml's build args (the image's, then the
// version's) take the place of the ARG defaults they override.
func Ours(cfg *config.Config, img *config.Image, u config.Unit) ([]Tool, error) {
	df := cfg.Dockerfile(*img, u)
	src, err := os.ReadFile(df)
	if err != nil {
		return nil, fmt.Errorf("reading our Dockerfile: %w", err)
	}
	tools, err := Dockerfile(df, src)
	if err != nil {
		return nil, err
	}
	return WithBuildArgs(tools, BuildArgs(cfg, img, u)), nil
}

// BuildArgs are the tool versions polyarch.yaml passes one version of img
// as build args: the image's args, then the version's over them.
func BuildArgs(cfg *config.Config, img *config.Image, u config.Unit) []Tool {
	at := map[string]Tool{}
	idx := imageIndex(cfg, img)
	read := func(field string, args map[string]string) {
		for k, v := range args {
			name := ArgTool(k)
			if name == "" || !versionish.MatchString(v) {
				continue
			}
			f := fmt.Sprintf("%s.args.%s", field, k)
			at[k] = Tool{Name: name, Key: k, Version: v, Kind: KindBuildArg, File: cfg.File, Line: cfg.Line(f), Field: f}
		}
	}
	read(fmt.Sprintf("images[%d]", idx), img.Args)
	if u.Index >= 0 && u.Index < len(img.Versions) {
		read(fmt.Sprintf("images[%d].versions[%d]", idx, u.Index), img.Versions[u.Index].Args)
	}
	out := make([]Tool, 0, len(at))
	for _, t := range at {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out
}

// WithBuildArgs puts build args in the place of the ARG defaults of the
// same name they override (ENV values stay: a build arg does not set them).
func WithBuildArgs(tools, args []Tool) []Tool {
	set := map[string]bool{}
	for _, a := range args {
		set[a.Key] = true
	}
	var out []Tool
	for _, t := range tools {
		if !(t.Kind == KindArg && set[t.Key]) {
			out = append(out, t)
		}
	}
	return append(out, args...)
}

func imageIndex(cfg *config.Config, img *config.Image) int {
	for i := range cfg.Images {
		if &cfg.Images[i] == img || cfg.Images[i].Name == img.Name {
			return i
		}
	}
	return -1
}

// Tools reads the tool versions of an upstream: its Dockerfile's and its
// version files', and the files read.
func (f *Fetcher) Tools(ctx context.Context, up *config.Upstream) ([]Tool, []*File, error) {
	var tools []Tool
	var files []*File
	if up.Dockerfile != nil {
		file, err := f.Read(ctx, *up.Dockerfile)
		if err != nil {
			return nil, nil, err
		}
		ts, err := Dockerfile(file.Name, file.Data)
		if err != nil {
			return nil, nil, fmt.Errorf("upstream %w", err)
		}
		tools, files = append(tools, ts...), append(files, file)
	}
	for _, vf := range up.Files {
		file, err := f.Read(ctx, vf.Source)
		if err != nil {
			return nil, nil, err
		}
		t, err := VersionFile(file.Name, vf.Path+vf.URL, vf.Tool, file.Data)
		if err != nil {
			return nil, nil, err
		}
		tools, files = append(tools, t), append(files, file)
	}
	return tools, files, nil
}
