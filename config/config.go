// Package config is polyarch.yaml: its schema, loading, and validation with
// errors that name the file, line and field.
//
// The reference page for users is docs/polyarch-yaml.md; keep it in step.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"go.yaml.in/yaml/v3"

	"github.com/polyarch/polyarch/naming"
	"github.com/polyarch/polyarch/platform"
)

// Config is a polyarch.yaml.
type Config struct {
	// Registry is prepended to image repositories that name none.
	Registry string `yaml:"registry"`
	// Registries say how each registry host is reached (config/registries.go).
	Registries map[string]Registry `yaml:"registries"`
	// Builders are BuildKit nodes; "local" is the managed local node.
	Builders []Builder `yaml:"builders"`
	Images   []Image   `yaml:"images"`
	// CI is where and when CI jobs run (polyarch ci generate).
	CI *CI `yaml:"ci"`
	// Drift configures polyarch drift (config/drift.go).
	Drift Drift `yaml:"drift"`
	// Sign signs what release and publish publish (config/sign.go).
	Sign *Sign `yaml:"sign"`

	// File is where the config was read from; Dir resolves relative paths.
	File string `yaml:"-"`
	Dir  string `yaml:"-"`
	root *yaml.Node
}

// LocalBuilder is the name of the managed local node, which builds its own
// platform natively and every other under QEMU emulation.
const LocalBuilder = "local"

// Builder is a BuildKit node.
type Builder struct {
	Name string `yaml:"name"`
	// Address: unix:///path/buildkitd.sock or tcp://host:port. Empty for local.
	Address string `yaml:"address"`
	// Platforms it builds natively.
	Platforms []string `yaml:"platforms"`
	// Parallel is how many builds it runs at once (default 2).
	Parallel int  `yaml:"parallel"`
	TLS      *TLS `yaml:"tls"`
}

// TLS are the client certificates for a tcp:// builder.
type TLS struct {
	CA         string `yaml:"ca"`
	Cert       string `yaml:"cert"`
	Key        string `yaml:"key"`
	ServerName string `yaml:"serverName"`
}

// Image is one image to build and publish.
type Image struct {
	Name string `yaml:"name"`
	// Repository is where the multi-arch index goes; default <registry>/<name>.
	Repository string `yaml:"repository"`
	Context    string `yaml:"context"`
	// Dockerfile, relative to Context; may use {{.Version}}. Default Dockerfile.
	Dockerfile string `yaml:"dockerfile"`
	// Target is the Dockerfile stage to build.
	Target      string            `yaml:"target"`
	Args        map[string]string `yaml:"args"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
	Platforms   []PlatformEntry   `yaml:"platforms"`
	// ArchRef names each per-arch image: a naming template such as
	// "org/agent-{{.Arch}}:{{.Version}}". Default "<repository>:{{.Version}}-{{.ArchVariant}}".
	ArchRef string `yaml:"archRef"`
	// Tags of the index, templated: "{{.Version}}", "latest", "{{.Commit}}".
	Tags []string `yaml:"tags"`
	// Version of the image when it has no versions matrix; default from git.
	Version string `yaml:"version"`
	// Versions is a matrix: one build per version, each with its own
	// Dockerfile and args (builder images kept one per release branch).
	Versions []Version `yaml:"versions"`
	// Test is the per-architecture test spec.
	Test *TestSpec `yaml:"test"`
	// Cache is where the image's build cache is kept (config/cache.go).
	Cache *Cache `yaml:"cache"`
}

// Version is one entry of a versions matrix.
type Version struct {
	Version    string            `yaml:"version"`
	Dockerfile string            `yaml:"dockerfile"`
	Args       map[string]string `yaml:"args"`
	Tags       []string          `yaml:"tags"`
	// Upstream is where this version's tool versions come from (polyarch drift).
	Upstream *Upstream `yaml:"upstream"`
}

// PlatformEntry is a platform, written "linux/arm64" or {platform: linux/arm/v7, optional: true}.
type PlatformEntry struct {
	Platform string `yaml:"platform"`
	Optional bool   `yaml:"optional"`
	line     int
}

// UnmarshalYAML accepts the short and the long form.
func (p *PlatformEntry) UnmarshalYAML(n *yaml.Node) error {
	p.line = n.Line
	if n.Kind == yaml.ScalarNode {
		p.Platform = n.Value
		return nil
	}
	type long PlatformEntry
	var l long
	if err := n.Decode(&l); err != nil {
		return err
	}
	*p = PlatformEntry(l)
	p.line = n.Line
	return nil
}

// TestSpec is kept as YAML here and interpreted by the imagetest package.
type TestSpec struct{ Node yaml.Node }

// UnmarshalYAML keeps the node as it is.
func (t *TestSpec) UnmarshalYAML(n *yaml.Node) error {
	t.Node = *n
	return nil
}

// Load reads and validates a polyarch.yaml.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(path, b)
}

// Parse parses and validates a config; file names it in errors and its
// directory anchors relative paths.
func Parse(file string, b []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("%s: %s", file, yamlMessage(err))
	}
	if len(root.Content) == 0 {
		return nil, fmt.Errorf("%s: empty config: it needs at least images", file)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %s", file, yamlMessage(err))
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	c.File, c.Dir, c.root = file, filepath.Dir(abs), root.Content[0]
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// yamlMessage turns yaml's "yaml: unmarshal errors:\n  line 3: ..." into
// "line 3: ...; line 5: ...".
func yamlMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n  ")
	return strings.ReplaceAll(msg, "\n  ", "; ")
}

// At returns "file:line: path" for a field path such as images[1].tags[0]:
// the line of that field, or of the nearest enclosing one written in the
// file (an unset archRef is reported at its image).
func (c *Config) At(path string) string {
	return fmt.Sprintf("%s:%d: %s", c.File, c.Line(path), path)
}

// Line is the line of a field path such as images[0].versions[1].args.BAZEL_VERSION
// (as At names it), or of the nearest enclosing field written in the file.
func (c *Config) Line(path string) int {
	n := c.root
	line := n.Line
	for _, part := range strings.Split(path, ".") {
		key, idx := part, -1
		if i := strings.Index(part, "["); i >= 0 {
			key = part[:i]
			idx, _ = strconv.Atoi(strings.TrimSuffix(part[i+1:], "]"))
		}
		next := mapValue(n, key)
		if next == nil {
			break
		}
		n, line = next, next.Line
		if idx >= 0 {
			if n.Kind != yaml.SequenceNode || idx >= len(n.Content) {
				break
			}
			n, line = n.Content[idx], n.Content[idx].Line
		}
	}
	return line
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

var imageName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

func (c *Config) validate() error {
	var errs []error
	add := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", c.At(path), fmt.Sprintf(format, args...)))
	}
	builders := map[string]bool{}
	native := map[string]string{}
	for i, b := range c.Builders {
		p := fmt.Sprintf("builders[%d]", i)
		switch {
		case b.Name == "":
			add(p+".name", "missing")
		case builders[b.Name]:
			add(p+".name", "builder %q is declared twice", b.Name)
		}
		builders[b.Name] = true
		if b.Name == LocalBuilder {
			if b.Address != "" {
				add(p+".address", "the local builder is managed by polyarch; give no address (use another name for a buildkitd you run)")
			}
		} else if b.Name != "" {
			switch {
			case b.Address == "":
				add(p+".address", "missing: unix:///path/to/buildkitd.sock or tcp://host:port")
			case !strings.HasPrefix(b.Address, "unix://") && !strings.HasPrefix(b.Address, "tcp://"):
				add(p+".address", "%q: want unix:// or tcp://", b.Address)
			}
			if len(b.Platforms) == 0 {
				add(p+".platforms", "missing: which platforms does %s build natively?", b.Name)
			}
		}
		for j, s := range b.Platforms {
			pl, err := platform.Parse(s)
			if err != nil {
				add(fmt.Sprintf("%s.platforms[%d]", p, j), "%v", err)
				continue
			}
			key := platform.Format(pl)
			if other, dup := native[key]; dup {
				add(fmt.Sprintf("%s.platforms[%d]", p, j), "%s is already built natively by builder %q", key, other)
			}
			native[key] = b.Name
		}
		if b.Parallel < 0 {
			add(p+".parallel", "must be positive")
		}
		if b.TLS != nil && !strings.HasPrefix(b.Address, "tcp://") {
			add(p+".tls", "TLS only applies to tcp:// addresses")
		}
	}
	if len(c.Images) == 0 {
		add("images", "missing: list at least one image")
	}
	names := map[string]bool{}
	for i, img := range c.Images {
		p := fmt.Sprintf("images[%d]", i)
		switch {
		case img.Name == "":
			add(p+".name", "missing")
		case !imageName.MatchString(img.Name):
			add(p+".name", "%q: lowercase letters, digits, '.', '_' and '-' only", img.Name)
		case names[img.Name]:
			add(p+".name", "image %q is declared twice", img.Name)
		}
		names[img.Name] = true
		if img.Context == "" {
			add(p+".context", "missing: the build context directory")
		} else if st, err := os.Stat(c.Path(img.Context)); err != nil || !st.IsDir() {
			add(p+".context", "%s is not a directory", c.Path(img.Context))
		}
		if len(img.Platforms) == 0 {
			add(p+".platforms", "missing: list the platforms to build")
		}
		seen := map[string]bool{}
		for j, e := range img.Platforms {
			pl, err := platform.Parse(e.Platform)
			if err != nil {
				add(fmt.Sprintf("%s.platforms[%d]", p, j), "%v", err)
				continue
			}
			if seen[platform.Format(pl)] {
				add(fmt.Sprintf("%s.platforms[%d]", p, j), "%s is listed twice", platform.Format(pl))
			}
			seen[platform.Format(pl)] = true
		}
		if img.ArchRef != "" {
			if _, err := naming.Parse(img.ArchRef); err != nil {
				add(p+".archRef", "%v", err)
			}
		}
		c.validateCache(p+".cache", img.Cache, add)
		checkTags := func(path string, tags []string) {
			for j, t := range tags {
				if _, err := naming.ParseTemplate(t); err != nil {
					add(fmt.Sprintf("%s.tags[%d]", path, j), "%v", err)
				}
			}
		}
		checkTags(p, img.Tags)
		for j, v := range img.Versions {
			checkTags(fmt.Sprintf("%s.versions[%d]", p, j), v.Tags)
		}
		if len(img.Versions) > 0 && img.Version != "" {
			add(p+".version", "give version or versions, not both")
		}
		vs := map[string]bool{}
		for j, v := range img.Versions {
			vp := fmt.Sprintf("%s.versions[%d]", p, j)
			if v.Version == "" {
				add(vp+".version", "missing")
			} else if vs[v.Version] {
				add(vp+".version", "version %q is listed twice", v.Version)
			}
			vs[v.Version] = true
			c.validateUpstream(vp+".upstream", v.Upstream, add)
		}
		// Every Dockerfile a build would use must exist.
		for _, u := range img.Units() {
			df := c.Dockerfile(img, u)
			if _, err := os.Stat(df); err != nil {
				path := p + ".dockerfile"
				if u.Index >= 0 && img.Versions[u.Index].Dockerfile != "" {
					path = fmt.Sprintf("%s.versions[%d].dockerfile", p, u.Index)
				}
				add(path, "%s does not exist", df)
			}
		}
	}
	c.validateCI(c.CI, add)
	c.validateSign(c.Sign, add)
	errs = append(errs, c.validateRegistries()...)
	return errors.Join(errs...)
}

// Path resolves a path relative to the config file's directory.
func (c *Config) Path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Dir, p)
}

// Unit is one version of an image: the image itself when it has no versions
// matrix (Index -1), else one entry of it.
type Unit struct {
	Version string
	Index   int
}

// Units lists the versions of an image to build.
func (img *Image) Units() []Unit {
	if len(img.Versions) == 0 {
		return []Unit{{Version: img.Version, Index: -1}}
	}
	out := make([]Unit, len(img.Versions))
	for i, v := range img.Versions {
		out[i] = Unit{Version: v.Version, Index: i}
	}
	return out
}

// Dockerfile returns the Dockerfile path of one unit, {{.Version}} expanded.
func (c *Config) Dockerfile(img Image, u Unit) string {
	df := img.Dockerfile
	if u.Index >= 0 && img.Versions[u.Index].Dockerfile != "" {
		df = img.Versions[u.Index].Dockerfile
	}
	if df == "" {
		df = "Dockerfile"
	}
	df = strings.ReplaceAll(df, "{{.Version}}", u.Version)
	if filepath.IsAbs(df) {
		return df
	}
	return filepath.Join(c.Path(img.Context), df)
}

// TargetPlatform is one platform of an image, parsed.
type TargetPlatform struct {
	Platform v1.Platform
	Optional bool
}

// TargetPlatforms returns an image's platforms in order (validated by Parse).
func (img *Image) TargetPlatforms() []TargetPlatform {
	out := make([]TargetPlatform, 0, len(img.Platforms))
	for _, e := range img.Platforms {
		p, _ := platform.Parse(e.Platform)
		out = append(out, TargetPlatform{Platform: p, Optional: e.Optional})
	}
	return out
}

// Image finds an image by name.
func (c *Config) Image(name string) (*Image, bool) {
	for i := range c.Images {
		if c.Images[i].Name == name {
			return &c.Images[i], true
		}
	}
	return nil, false
}
