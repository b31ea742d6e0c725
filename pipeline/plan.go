// Package pipeline plans and runs polyarch's release: images x versions x
// platforms from polyarch.yaml, built on their nodes, pushed under their
// arch-named refs, tested per architecture, then published as one index per
// image version.
package pipeline

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/polyarch/polyarch/build"
	"github.com/polyarch/polyarch/config"
	"github.com/polyarch/polyarch/imagetest"
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
	// Test is the image's test spec, checked when the plan was made.
	Test *imagetest.Spec
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
	// NoCache builds every step again (build.Cache.NoCache); NoCacheExport
	// leaves the registry's cache as it was (build.Cache.NoExport).
	NoCache, NoCacheExport bool
}

// NewPlan plans the selected units: "agent" is every version of agent,
// "builder@2.4" one version; no selector means every image.
//
// The whole file is checked first, selected or not, so that no mistake is
// found after something was built or pushed: every image's test spec, and
// every version's tags and every platform's archRef as rendered, held to
// the grammar the registry enforces. All the mistakes are reported at once,
// each at its file:line.
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
		imgName, version, _ := strings.Cut(s, "@")
		img, ok := cfg.Image(imgName)
		if !ok {
			return nil, fmt.Errorf("%s: no image %q (it has %s)", cfg.File, imgName, strings.Join(imageNames(cfg), ", "))
		}
		if version != "" {
			found := false
			for _, u := range img.Units() {
				found = found || u.Version == version
			}
			if !found || len(img.Versions) == 0 {
				return nil, fmt.Errorf("%s: image %q has no version %q (it has %s)", cfg.File, imgName, version, strings.Join(versionNames(img), ", "))
			}
		}
		sels = append(sels, sel{img: img, version: version})
	}

	units := map[string]*Unit{} // by image@version
	var errs []error
	for i := range cfg.Images {
		img := &cfg.Images[i]
		spec, err := TestSpec(cfg, img)
		if err != nil {
			errs = append(errs, err)
		}
		for _, cu := range img.Units() {
			u, err := planUnit(cfg, i, cu, o)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			u.Test = spec
			units[img.Name+"@"+cu.Version] = u
		}
	}
	errs = append(errs, checkSharedCaches(cfg, units)...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
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
			u := units[key]
			if len(o.Platforms) > 0 {
				var kept []*Target
				for _, t := range u.Targets {
					if platform.Contains(o.Platforms, t.Platform) {
						kept = append(kept, t)
					}
				}
				u.Targets = kept
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

// planUnit plans one version of images[index] on all its platforms; its
// errors name the field at fault by file:line, and the image, version and
// platform it was rendered for.
func planUnit(cfg *config.Config, index int, cu config.Unit, o Options) (*Unit, error) {
	img := &cfg.Images[index]
	field := fmt.Sprintf("images[%d]", index)
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
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: image %s, version %s: %s", cfg.At(field), img.Name, u.Version, fmt.Sprintf(format, args...)))
	}

	repo := img.Repository
	if repo == "" {
		repo = img.Name
	}
	var err error
	if u.Repository, err = withRegistry(cfg.Registry, repo); err != nil {
		bad(field+".repository", "repository: %v", err)
	} else if _, err := name.NewRepository(u.Repository); err != nil {
		bad(field+".repository", "repository %q: %v", u.Repository, err)
	} else if _, err := naming.CheckTag(u.Repository + ":latest"); err != nil {
		bad(field+".repository", "repository %q: %v", u.Repository, err)
	}

	data := naming.Data{Version: u.Version, Commit: git.Commit, GitTag: git.Tag}
	tags, tagsField := img.Tags, field+".tags"
	if cu.Index >= 0 && len(img.Versions[cu.Index].Tags) > 0 {
		tags, tagsField = img.Versions[cu.Index].Tags, fmt.Sprintf("%s.versions[%d].tags", field, cu.Index)
	}
	defaultTags := len(tags) == 0
	if defaultTags {
		tags = []string{"{{.Version}}"}
	}
	for j, t := range tags {
		at := fmt.Sprintf("%s[%d]", tagsField, j)
		if defaultTags {
			at = tagsField // not written: the image's line
		}
		s, err := expand(t, data)
		if err != nil {
			bad(at, "tag %q: %v", t, err)
			continue
		}
		if u.Repository != "" {
			if _, err := naming.CheckTag(u.Repository + ":" + s); err != nil {
				bad(at, "tag %q gives %q: %v", t, u.Repository+":"+s, err)
				continue
			}
		}
		u.Tags = append(u.Tags, s)
	}

	archRef := img.ArchRef
	if archRef == "" {
		archRef = repo + ":{{.Version}}-{{.ArchVariant}}"
	}
	targets := img.TargetPlatforms()
	ps := make([]v1.Platform, len(targets))
	for i, tp := range targets {
		ps[i] = tp.Platform
	}
	var refs []string
	tmpl, err := naming.Parse(archRef)
	if err == nil {
		refs, err = tmpl.ForPlatforms(ps, func(d *naming.Data) { d.Version, d.Commit, d.GitTag = data.Version, data.Commit, data.GitTag })
	}
	if err != nil {
		bad(field+".archRef", "archRef: %v", err)
		return nil, errors.Join(errs...)
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
	caches := planCache(cfg, img, u.Repository, ps, data, bad, field)
	annotations := git.Annotations(u.Version)
	for k, v := range img.Annotations {
		annotations[k] = v
	}
	for i, tp := range targets {
		job := build.Job{
			Image: img.Name, Platform: tp.Platform,
			Context: ctxDir, Dockerfile: cfg.Dockerfile(*img, cu), Target: img.Target,
			Args: args, Labels: img.Labels, Annotations: annotations,
		}
		if len(img.Versions) > 0 {
			job.Version = u.Version
		}
		if caches != nil {
			job.Cache = build.Cache{Ref: caches[i], NoCache: o.NoCache, NoExport: o.NoCacheExport}
		} else {
			job.Cache.NoCache = o.NoCache
		}
		if o.NoArchTags {
			job.Ref, job.ByDigest = u.Repository, true
		} else {
			ref, err := withRegistry(cfg.Registry, refs[i])
			if err != nil {
				bad(field+".archRef", "platform %s: archRef for %s: %v", platform.Format(tp.Platform), platform.Format(tp.Platform), err)
				continue
			}
			if _, err := naming.CheckTag(ref); err != nil {
				bad(field+".archRef", "platform %s: archRef %q gives %q: %v", platform.Format(tp.Platform), archRef, ref, err)
				continue
			}
			job.Ref = ref
		}
		u.Targets = append(u.Targets, &Target{Platform: tp.Platform, Optional: tp.Optional, Job: job})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
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
	t, err := naming.ParseTemplate(text)
	if err != nil {
		return "", err
	}
	return t.Expand(d)
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
