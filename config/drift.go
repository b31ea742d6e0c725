package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Upstream is where a version's tool versions come from, for polyarch
// drift and polyarch versions add: the upstream Dockerfile ours follows
// (Istio's build-tools Dockerfile on release-1.12 for Maistra 2.2) and
// version files in other upstream repositories (.bazelversion).
type Upstream struct {
	// Dockerfile is the upstream Dockerfile.
	Dockerfile *Source `yaml:"dockerfile"`
	// Files are version files, each holding one tool's version.
	Files []VersionFile `yaml:"files"`
}

// Source is one upstream file, in one of three forms: Git, Ref and Path (a
// file in a git repository at a branch or tag), URL (fetched over HTTP), or
// Path alone (a local file, relative to polyarch.yaml).
type Source struct {
	// Git is the repository: https://, http://, file:// or a local path.
	Git string `yaml:"git"`
	// Ref is a branch or tag of Git.
	Ref string `yaml:"ref"`
	// Path is the file inside Git, or a local file without Git.
	Path string `yaml:"path"`
	// URL is an http:// or https:// address of the file.
	URL string `yaml:"url"`
}

// VersionFile is a file such as .bazelversion whose first line is one
// tool's version.
type VersionFile struct {
	Source `yaml:",inline"`
	// Tool names the tool; default from the file name (.bazelversion: bazel).
	Tool string `yaml:"tool"`
}

// Drift configures polyarch drift.
type Drift struct {
	// Aliases map a tool's name in either file to the name it is compared
	// as, for tools named differently in ours and upstream's:
	// {GOLANG_VERSION: go} compares ARG GOLANG_VERSION with ARG GO_VERSION.
	Aliases map[string]string `yaml:"aliases"`
}

// String names the source in tables and errors:
// "https://github.com/istio/tools.git@release-1.12:docker/build-tools/Dockerfile",
// the URL, or the local path.
func (s Source) String() string {
	switch {
	case s.Git != "":
		return s.Git + "@" + s.Ref + ":" + s.Path
	case s.URL != "":
		return s.URL
	}
	return s.Path
}

// gitRef is what a branch or tag may look like here: nothing git could read
// as an option, no spaces, no revision syntax.
var gitRef = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._/+-]*$`)

// validateUpstream checks one version's upstream: p is its path
// (images[0].versions[1].upstream).
func (c *Config) validateUpstream(p string, u *Upstream, add func(path, format string, args ...any)) {
	if u == nil {
		return
	}
	if u.Dockerfile == nil && len(u.Files) == 0 {
		add(p, "empty: give dockerfile (git, ref and path; url; or path) and/or files")
	}
	if u.Dockerfile != nil {
		validateSource(p+".dockerfile", *u.Dockerfile, add)
	}
	for i, f := range u.Files {
		validateSource(fmt.Sprintf("%s.files[%d]", p, i), f.Source, add)
	}
}

func validateSource(p string, s Source, add func(path, format string, args ...any)) {
	switch {
	case s.Git != "":
		if s.URL != "" {
			add(p+".url", "give git (with ref and path) or url, not both")
		}
		if strings.HasPrefix(s.Git, "-") {
			add(p+".git", "%q: a repository cannot start with '-'", s.Git)
		}
		switch {
		case s.Ref == "":
			add(p+".ref", "missing: the branch or tag of %s to read", s.Git)
		case !gitRef.MatchString(s.Ref) || strings.Contains(s.Ref, ".."):
			add(p+".ref", "%q is not a branch or tag name", s.Ref)
		}
		if s.Path == "" {
			add(p+".path", "missing: the file's path in %s", s.Git)
		} else if strings.HasPrefix(s.Path, "/") || strings.HasPrefix(s.Path, "-") {
			add(p+".path", "%q: give the path relative to the repository's root", s.Path)
		}
	case s.URL != "":
		if s.Ref != "" || s.Path != "" {
			add(p+".url", "a url takes no ref or path (those go with git)")
		}
		if u, err := url.Parse(s.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add(p+".url", "%q: want an http:// or https:// address", s.URL)
		}
	case s.Path != "":
		if s.Ref != "" {
			add(p+".ref", "a local path takes no ref; to read a git repository at a ref, give git too")
		}
	default:
		add(p, "missing: git (with ref and path), url, or path")
	}
}
