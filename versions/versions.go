// Package versions adds and removes versions of an image's versions
// matrix: builder images kept one per release branch, as Maistra keeps
// maistra-builder_2.4.Dockerfile for its 2.4 branch.
//
// How to use it: Add copies one version to a new one, the way a new
// release branch starts: the Dockerfile under the new version's name, the
// tool versions that differ from the new upstream ref rewritten in it
// (drift finds them), and the entry added to polyarch.yaml with its
// comments and layout kept (config.AddVersion). Remove takes a version out
// of polyarch.yaml and deletes its Dockerfile. Neither overwrites a file:
// each refuses, saying why, instead.
package versions

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/polyarch/polyarch/config"
	"github.com/polyarch/polyarch/drift"
)

// AddOptions say which version to add and where from.
type AddOptions struct {
	// Image is the image; "" is the only image with a versions matrix.
	Image string
	// Version is the new version; From is the version it copies.
	Version, From string
	// UpstreamRef, if set, replaces the ref of each of From's git upstreams
	// (its Dockerfile and version files) in the new version.
	UpstreamRef string
	// Fetcher reads the upstream. Required when From names one.
	Fetcher *drift.Fetcher
}

// Change is one tool version rewritten in the new version.
type Change struct {
	Tool     string
	Key      string
	From, To string
	// File and Line are where: the new Dockerfile, or polyarch.yaml for a
	// build arg.
	File string
	Line int
	// Upstream is where the new version was read.
	Upstream drift.Tool
}

// Added is what Add did.
type Added struct {
	Image, Version, From string
	// Dockerfile is the new version's Dockerfile, written.
	Dockerfile string
	Changes    []Change
	// Notes are what was not rewritten and why: tools only upstream has,
	// build args every version shares, upstreams given as URLs or paths.
	Notes []string
	// Cached names the upstream files read from the cache, and why.
	Cached []drift.Cached
}

// Add adds o.Version to an image of cfg, copied from o.From.
func Add(ctx context.Context, cfg *config.Config, o AddOptions) (*Added, error) {
	img, imgIdx, err := findImage(cfg, o.Image)
	if err != nil {
		return nil, err
	}
	if o.Version == "" || o.From == "" {
		return nil, errors.New("give the new version and the version it copies")
	}
	from := versionIndex(img, o.From)
	if from < 0 {
		return nil, fmt.Errorf("%s: image %q has no version %q to copy (it has %s)", cfg.File, img.Name, o.From, strings.Join(versionNames(img), ", "))
	}
	if i := versionIndex(img, o.Version); i >= 0 {
		return nil, fmt.Errorf("%s: image %q already has version %q", cfg.At(fmt.Sprintf("images[%d].versions[%d].version", imgIdx, i)), img.Name, o.Version)
	}
	src, err := os.ReadFile(cfg.File)
	if err != nil {
		return nil, err
	}
	fromEntry := img.Versions[from]
	fromPath := fmt.Sprintf("images[%d].versions[%d]", imgIdx, from)
	set := map[string]string{"version": o.Version}

	// The new version's Dockerfile: the same template, or From's file name
	// with the version in it replaced.
	next := *img
	next.Versions = append([]config.Version(nil), img.Versions...)
	switch field := fromEntry.Dockerfile; {
	case field != "" && !strings.Contains(field, "{{.Version}}") && strings.Contains(field, o.From):
		set["dockerfile"] = strings.ReplaceAll(field, o.From, o.Version)
		next.Versions[from].Dockerfile = set["dockerfile"]
	case field != "" && !strings.Contains(field, "{{.Version}}"):
		return nil, fmt.Errorf("%s: %s is %s's Dockerfile by name: give %s its own (write the field as a {{.Version}} template, e.g. builder_{{.Version}}.Dockerfile)", cfg.At(fromPath+".dockerfile"), field, o.From, o.Version)
	}
	fromDF := cfg.Dockerfile(*img, config.Unit{Version: o.From, Index: from})
	newDF := cfg.Dockerfile(next, config.Unit{Version: o.Version, Index: from})
	if newDF == fromDF {
		return nil, fmt.Errorf("%s: every version builds %s (the image's dockerfile has no {{.Version}}): give versions their own Dockerfiles, e.g. dockerfile: builder_{{.Version}}.Dockerfile", cfg.At(fmt.Sprintf("images[%d].dockerfile", imgIdx)), fromDF)
	}
	if _, err := os.Lstat(newDF); err == nil {
		return nil, fmt.Errorf("%s already exists: versions add does not overwrite files; remove it, or add another version", newDF)
	}
	for i, t := range fromEntry.Tags {
		if strings.Contains(t, o.From) && !strings.Contains(t, "{{") {
			set[fmt.Sprintf("tags[%d]", i)] = strings.ReplaceAll(t, o.From, o.Version)
		}
	}
	// A build arg that is the version itself (MAISTRA_BRANCH: "2.4").
	for k, v := range fromEntry.Args {
		if v == o.From {
			set["args."+k] = o.Version
		}
	}

	res := &Added{Image: img.Name, Version: o.Version, From: o.From, Dockerfile: newDF}
	up, err := newUpstream(fromEntry.Upstream, o, set, res)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.At(fromPath), err)
	}
	dfSrc, err := os.ReadFile(fromDF)
	if err != nil {
		return nil, fmt.Errorf("reading %s's Dockerfile: %w", o.From, err)
	}
	var edits []drift.Edit
	var argChanges []Change
	if up != nil {
		if o.Fetcher == nil {
			return nil, errors.New("versions add: no Fetcher to read the upstream with")
		}
		theirs, files, err := o.Fetcher.Tools(ctx, up)
		if err != nil {
			return nil, fmt.Errorf("%s@%s: %w", img.Name, o.Version, err)
		}
		for _, f := range files {
			if f.Cached != nil {
				res.Cached = append(res.Cached, *f.Cached)
			}
		}
		tools, err := drift.Dockerfile(newDF, dfSrc)
		if err != nil {
			return nil, err
		}
		ours := drift.WithBuildArgs(tools, drift.BuildArgs(cfg, img, config.Unit{Version: o.From, Index: from}))
		for _, row := range drift.Compare(ours, theirs, drift.NewAliases(cfg.Drift.Aliases)) {
			switch row.Status {
			case drift.OnlyUpstream:
				res.Notes = append(res.Notes, fmt.Sprintf("upstream has %s %s (%s) and %s does not: add it if the image needs it", row.Tool, row.Upstream.Version, row.Upstream.At(), o.From))
				continue
			case drift.Differs:
			default:
				continue
			}
			to := drift.Follow(row.Ours.Version, row.Upstream.Version)
			c := Change{Tool: row.Tool, Key: row.Ours.Key, From: row.Ours.Version, To: to, File: row.Ours.File, Line: row.Ours.Line, Upstream: *row.Upstream}
			switch {
			case row.Ours.Kind != drift.KindBuildArg:
				for _, t := range append([]drift.Tool{*row.Ours}, row.Also...) {
					edits = append(edits, drift.Edit{Offset: t.Offset, Len: t.Len, Text: to})
				}
				res.Changes = append(res.Changes, c)
			case strings.HasPrefix(row.Ours.Field, fromPath+".args."):
				set["args."+row.Ours.Key] = to
				argChanges = append(argChanges, c)
			default:
				res.Notes = append(res.Notes, fmt.Sprintf("%s is %s for every version (%s: %s), upstream %s: not rewritten; set it in %s's args",
					row.Ours.Key, row.Ours.Version, row.Ours.At(), row.Ours.Field, to, o.Version))
			}
		}
	}

	newSrc, err := config.AddVersion(src, imgIdx, from, set)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.File, err)
	}
	// The new Dockerfile first (config.Parse checks that it exists), never
	// over a file that appeared meanwhile.
	mode := os.FileMode(0o644)
	if st, err := os.Stat(fromDF); err == nil {
		mode = st.Mode().Perm()
	}
	if err := writeNew(newDF, drift.Apply(dfSrc, edits), mode); err != nil {
		return nil, err
	}
	newCfg, err := config.Parse(cfg.File, newSrc)
	if err == nil {
		err = writeOver(cfg.File, newSrc)
	}
	if err != nil {
		os.Remove(newDF)
		return nil, fmt.Errorf("adding %s@%s: %w", img.Name, o.Version, err)
	}
	last := len(img.Versions)
	for i := range argChanges {
		argChanges[i].Line = newCfg.Line(fmt.Sprintf("images[%d].versions[%d].args.%s", imgIdx, last, argChanges[i].Key))
	}
	res.Changes = append(res.Changes, argChanges...)
	sort.SliceStable(res.Changes, func(i, j int) bool { return res.Changes[i].File == newDF && res.Changes[j].File != newDF })
	return res, nil
}

// newUpstream is From's upstream for the new version: each git ref
// replaced by o.UpstreamRef, recorded in set.
func newUpstream(from *config.Upstream, o AddOptions, set map[string]string, res *Added) (*config.Upstream, error) {
	if o.UpstreamRef == "" || from == nil {
		if o.UpstreamRef != "" {
			return nil, fmt.Errorf("%s names no upstream for --upstream-ref %s to change", o.From, o.UpstreamRef)
		}
		return from, nil
	}
	up := &config.Upstream{Files: append([]config.VersionFile(nil), from.Files...)}
	changed := 0
	if from.Dockerfile != nil {
		d := *from.Dockerfile
		if d.Git != "" {
			d.Ref, set["upstream.dockerfile.ref"] = o.UpstreamRef, o.UpstreamRef
			changed++
		} else {
			res.Notes = append(res.Notes, fmt.Sprintf("upstream.dockerfile %s is not a git repository: kept as it is", d))
		}
		up.Dockerfile = &d
	}
	for i := range up.Files {
		if up.Files[i].Git != "" {
			up.Files[i].Ref = o.UpstreamRef
			set[fmt.Sprintf("upstream.files[%d].ref", i)] = o.UpstreamRef
			changed++
		} else {
			res.Notes = append(res.Notes, fmt.Sprintf("upstream.files[%d] %s is not a git repository: kept as it is", i, up.Files[i].Source))
		}
	}
	if changed == 0 {
		return nil, fmt.Errorf("%s's upstream has no git repository for --upstream-ref %s to change", o.From, o.UpstreamRef)
	}
	return up, nil
}

// RemoveOptions say which version to remove.
type RemoveOptions struct {
	// Image is the image; "" is the only image with a versions matrix.
	Image   string
	Version string
	// KeepDockerfile leaves the version's Dockerfile in place.
	KeepDockerfile bool
}

// Removed is what Remove did.
type Removed struct {
	Image, Version string
	// Dockerfile is the version's Dockerfile; Deleted whether it was.
	Dockerfile string
	Deleted    bool
	// Kept says why it was not deleted, when it was not.
	Kept string
}

// Remove removes a version from an image's versions matrix, and its
// Dockerfile unless another version builds it too. It deletes only a
// Dockerfile git has committed as it is, so deleting loses nothing; for
// any other it refuses, saying why (o.KeepDockerfile removes the entry
// alone).
func Remove(cfg *config.Config, o RemoveOptions) (*Removed, error) {
	img, imgIdx, err := findImage(cfg, o.Image)
	if err != nil {
		return nil, err
	}
	i := versionIndex(img, o.Version)
	if i < 0 {
		return nil, fmt.Errorf("%s: image %q has no version %q (it has %s)", cfg.File, img.Name, o.Version, strings.Join(versionNames(img), ", "))
	}
	if len(img.Versions) == 1 {
		return nil, fmt.Errorf("%s: %s is the only version of %s: a versions matrix keeps one at least (remove the image instead)", cfg.At(fmt.Sprintf("images[%d].versions[%d]", imgIdx, i)), o.Version, img.Name)
	}
	df := cfg.Dockerfile(*img, config.Unit{Version: o.Version, Index: i})
	res := &Removed{Image: img.Name, Version: o.Version, Dockerfile: df}
	for _, u := range img.Units() {
		if u.Index != i && cfg.Dockerfile(*img, u) == df {
			res.Kept = fmt.Sprintf("%s@%s builds it too", img.Name, u.Version)
		}
	}
	if o.KeepDockerfile && res.Kept == "" {
		res.Kept = "--keep-dockerfile"
	}
	if res.Kept == "" {
		if why := uncommitted(df); why != "" {
			return nil, fmt.Errorf("not removing %s@%s: its Dockerfile %s %s, and deleting it would lose that; commit it, or keep the file (--keep-dockerfile)", img.Name, o.Version, df, why)
		}
	}
	src, err := os.ReadFile(cfg.File)
	if err != nil {
		return nil, err
	}
	newSrc, err := config.RemoveVersion(src, imgIdx, i)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.File, err)
	}
	if _, err := config.Parse(cfg.File, newSrc); err != nil {
		return nil, fmt.Errorf("removing %s@%s: %w", img.Name, o.Version, err)
	}
	if err := writeOver(cfg.File, newSrc); err != nil {
		return nil, err
	}
	if res.Kept == "" {
		if err := os.Remove(df); err != nil {
			return nil, fmt.Errorf("removed %s@%s from %s but not its Dockerfile: %w", img.Name, o.Version, cfg.File, err)
		}
		res.Deleted = true
	}
	return res, nil
}

// uncommitted says why deleting file would lose work: "is not committed
// to git", "has changes git has not committed"; "" when git holds it as
// it is.
func uncommitted(file string) string {
	dir, base := filepath.Split(file)
	out, err := exec.Command("git", "-C", dir, "status", "--porcelain", "--ignored", "--", base).Output()
	if err != nil {
		return "is in no git repository"
	}
	s := strings.TrimSpace(string(out))
	switch {
	case s == "":
		if err := exec.Command("git", "-C", dir, "ls-files", "--error-unmatch", "--", base).Run(); err != nil {
			return "is not committed to git"
		}
		return ""
	case strings.HasPrefix(s, "??"), strings.HasPrefix(s, "!!"), strings.HasPrefix(s, "A"):
		return "is not committed to git"
	}
	return "has changes git has not committed"
}

// findImage is the named image, or the only one with a versions matrix.
func findImage(cfg *config.Config, name string) (*config.Image, int, error) {
	if name != "" {
		for i := range cfg.Images {
			if cfg.Images[i].Name == name {
				if len(cfg.Images[i].Versions) == 0 {
					return nil, 0, fmt.Errorf("%s: image %q has no versions matrix (versions:)", cfg.At(fmt.Sprintf("images[%d]", i)), name)
				}
				return &cfg.Images[i], i, nil
			}
		}
		var names []string
		for _, img := range cfg.Images {
			names = append(names, img.Name)
		}
		return nil, 0, fmt.Errorf("%s: no image %q (it has %s)", cfg.File, name, strings.Join(names, ", "))
	}
	var with []int
	for i := range cfg.Images {
		if len(cfg.Images[i].Versions) > 0 {
			with = append(with, i)
		}
	}
	switch len(with) {
	case 0:
		return nil, 0, fmt.Errorf("%s: no image has a versions matrix (versions:)", cfg.File)
	case 1:
		return &cfg.Images[with[0]], with[0], nil
	}
	var names []string
	for _, i := range with {
		names = append(names, cfg.Images[i].Name)
	}
	return nil, 0, fmt.Errorf("%s: %s have versions: say which image (IMAGE@VERSION)", cfg.File, strings.Join(names, " and "))
}

func versionIndex(img *config.Image, v string) int {
	for i, e := range img.Versions {
		if e.Version == v {
			return i
		}
	}
	return -1
}

func versionNames(img *config.Image) []string {
	var out []string
	for _, v := range img.Versions {
		out = append(out, v.Version)
	}
	return out
}

// writeNew creates file with b, refusing to replace one that exists.
func writeNew(file string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s already exists: versions add does not overwrite files; remove it, or add another version", file)
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(file)
		return err
	}
	return f.Close()
}

// writeOver replaces file with b at once (a rename), keeping its mode, so
// an interrupted edit never leaves half a polyarch.yaml.
func writeOver(file string, b []byte) error {
	if target, err := filepath.EvalSymlinks(file); err == nil {
		file = target // edit the file a symlink names, keeping the link
	}
	st, err := os.Stat(file)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(st.Mode().Perm()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}
