// Package pipeline plans and runs polyarch's release: images x versions x
// platforms from polyarch.yaml, built on their nodes, pushed under their
// arch-named refs, tested per architecture, then published as one index per
// image version.
package pipeline

import (
	"fmt"
	"sort"
	"strings"
	"text/template"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/polyarch/polyarch/build"
	"github.com/polyarch/polyarch/config"
	"github.com/polyarch/polyarch/naming"
	"github.com/polyarch/polyarch/platform"
)

// Plan is every unit (image version) to build, and its targets.
type Plan struct {
	Config *config.Config
	Units  []*Unit
}

// Unit is one version of one image: its per-platform targets and the index
// they are published as.
type Unit struct {
	Image   *config.Image
	Version string
	// Repository is where the index and (by default) the children go.
	Repository string
	// Tags of the index; the first is the main one.
	Tags    []string
	Targets []*Target
	Git     GitInfo
}

// Name is "image" or "image@version" when the image has a versions matrix.
func (u *Unit) Name() string {
	if len(u.Image.Versions) > 0 {
		return u.Image.Name + "@" + u.Version
	}
	return u.Image.Name
}

// IndexRef is the index's main reference.
func (u *Unit) IndexRef() string { return u.Repository + ":" + u.Tags[0] }

// Target is one platform of a unit.
type Target struct {
	Platform v1.Platform
	Optional bool
	Job      build.Job
}

// Options shape a plan.
type Options struct {
	// Platforms, when set, keeps only these platforms of each image.
	Platforms []v1.Platform
	// NoArchTags pushes children by digest only, into the index's repository.
	NoArchTags bool
}

// NewPlan plans the selected units: "agent" is every version of agent,
// "builder@2.4" one version; no selector means every image.
func NewPlan(cfg *config.Config, selectors []string, o Options) (*Plan, error) {
	type sel struct {
		img     *config.Image
		version string
	}
	var sels []sel
	if len(selectors) == 0 {
		for i := range cfg.Images {
			sels = append(sels, sel{img: &cfg.Images[i]})
		}
	}
	for _, s := range selectors {
		sl := ParseSelector(s)
		img, err := sl.Lookup(cfg)
		if err != nil {
			return nil, err
		}
		sels = append(sels, sel{img: img, version: sl.Version})
	}

	plan := &Plan{Config: cfg}
	planned := map[string]bool{} // "builder builder@2.4" plans 2.4 once
	for _, s := range sels {
		for _, cu := range s.img.Units() {
			if s.version != "" && cu.Version != s.version {
				continue
			}
			key := s.img.Name + "@" + cu.Version
			if planned[key] {
				continue
			}
			planned[key] = true
			u, err := planUnit(cfg, s.img, cu, o)
			if err != nil {
				return nil, err
			}
			if len(u.Targets) > 0 {
				plan.Units = append(plan.Units, u)
			}
		}
	}
	if len(plan.Units) == 0 {
		return nil, fmt.Errorf("nothing to build: no image has any of the platforms %s", platform.FormatList(o.Platforms))
	}
	return plan, nil
}

func planUnit(cfg *config.Config, img *config.Image, cu config.Unit, o Options) (*Unit, error) {
	ctxDir := cfg.Path(img.Context)
	git := ReadGit(ctxDir)
	u := &Unit{Image: img, Version: cu.Version, Git: git}
	if u.Version == "" {
		u.Version = img.Version
	}
	if u.Version == "" {
		u.Version = git.Tag
	}
	if u.Version == "" {
		u.Version = "latest"
	}
	where := fmt.Sprintf("%s: image %s", cfg.File, u.Name())

	repo := img.Repository
	if repo == "" {
		repo = img.Name
	}
	var err error
	if u.Repository, err = withRegistry(cfg.Registry, repo); err != nil {
		return nil, fmt.Errorf("%s: repository: %w", where, err)
	}
	if _, err := name.NewRepository(u.Repository); err != nil {
		return nil, fmt.Errorf("%s: repository %q: %w", where, u.Repository, err)
	}

	data := naming.Data{Version: u.Version, Commit: git.Commit, GitTag: git.Tag}
	tags := img.Tags
	if cu.Index >= 0 && len(img.Versions[cu.Index].Tags) > 0 {
		tags = img.Versions[cu.Index].Tags
	}
	if len(tags) == 0 {
		tags = []string{"{{.Version}}"}
	}
	for _, t := range tags {
		s, err := expand(t, data)
		if err != nil {
			return nil, fmt.Errorf("%s: tag %q: %w", where, t, err)
		}
		if _, err := name.NewTag(u.Repository + ":" + s); err != nil {
			return nil, fmt.Errorf("%s: tag %q gives %q: %w", where, t, s, err)
		}
		u.Tags = append(u.Tags, s)
	}

	archRef := img.ArchRef
	if archRef == "" {
		archRef = repo + ":{{.Version}}-{{.ArchVariant}}"
	}
	tmpl, err := naming.Parse(archRef)
	if err != nil {
		return nil, fmt.Errorf("%s: archRef: %w", where, err)
	}

	var targets []config.TargetPlatform
	for _, tp := range img.TargetPlatforms() {
		if len(o.Platforms) == 0 || platform.Contains(o.Platforms, tp.Platform) {
			targets = append(targets, tp)
		}
	}
	ps := make([]v1.Platform, len(targets))
	for i, tp := range targets {
		ps[i] = tp.Platform
	}
	refs, err := tmpl.ForPlatforms(ps, func(d *naming.Data) { d.Version, d.Commit, d.GitTag = data.Version, data.Commit, data.GitTag })
	if err != nil {
		return nil, fmt.Errorf("%s: archRef: %w", where, err)
	}

	args := map[string]string{}
	for k, v := range img.Args {
		args[k] = v
	}
	if cu.Index >= 0 {
		for k, v := range img.Versions[cu.Index].Args {
			args[k] = v
		}
	}
	// Dockerfiles can name their base image in the project's registry:
	// ARG POLYARCH_REGISTRY / FROM ${POLYARCH_REGISTRY}/base/busybox.
	if _, set := args["POLYARCH_REGISTRY"]; !set && cfg.Registry != "" {
		args["POLYARCH_REGISTRY"] = cfg.Registry
	}
	if _, set := args["SOURCE_DATE_EPOCH"]; !set && git.Epoch != "" {
		args["SOURCE_DATE_EPOCH"] = git.Epoch
	}
	annotations := git.Annotations(u.Version)
	for k, v := range img.Annotations {
		annotations[k] = v
	}
	for i, tp := range targets {
		ref, err := withRegistry(cfg.Registry, refs[i])
		if err != nil {
			return nil, fmt.Errorf("%s: archRef for %s: %w", where, platform.Format(tp.Platform), err)
		}
		job := build.Job{
			Image: img.Name, Platform: tp.Platform,
			Context: ctxDir, Dockerfile: cfg.Dockerfile(*img, cu), Target: img.Target,
			Args: args, Labels: img.Labels, Annotations: annotations, Ref: ref,
		}
		if len(img.Versions) > 0 {
			job.Version = u.Version
		}
		if o.NoArchTags {
			job.Ref, job.ByDigest = u.Repository, true
		} else if _, err := name.NewTag(ref); err != nil {
			return nil, fmt.Errorf("%s: archRef for %s gives %q: %w", where, platform.Format(tp.Platform), ref, err)
		}
		u.Targets = append(u.Targets, &Target{Platform: tp.Platform, Optional: tp.Optional, Job: job})
	}
	return u, nil
}

// withRegistry prefixes a repository (or reference) with the default
// registry unless its first component already names one.
func withRegistry(registry, ref string) (string, error) {
	first, _, found := strings.Cut(ref, "/")
	if found && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return ref, nil
	}
	if registry == "" {
		return "", fmt.Errorf("%q names no registry and polyarch.yaml sets no registry:", ref)
	}
	return strings.TrimSuffix(registry, "/") + "/" + ref, nil
}

func expand(text string, d naming.Data) (string, error) {
	if !strings.Contains(text, "{{") {
		return text, nil
	}
	t, err := template.New("tag").Option("missingkey=error").Parse(text)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := t.Execute(&b, d); err != nil {
		return "", err
	}
	return b.String(), nil
}

// Jobs lists every target's build job, in plan order.
func (p *Plan) Jobs() []build.Job {
	var out []build.Job
	for _, u := range p.Units {
		for _, t := range u.Targets {
			out = append(out, t.Job)
		}
	}
	return out
}

func imageNames(cfg *config.Config) []string {
	var out []string
	for _, img := range cfg.Images {
		out = append(out, img.Name)
	}
	return out
}

func versionNames(img *config.Image) []string {
	var out []string
	for _, v := range img.Versions {
		out = append(out, v.Version)
	}
	if len(out) == 0 {
		return []string{"no versions matrix"}
	}
	sort.Strings(out)
	return out
}
