package index

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"go.yaml.in/yaml/v3"

	"github.com/polyarch/polyarch/platform"
)

// Spec is manifest-tool's YAML spec for `manifest-tool push from-spec`,
// plus polyarch's optional and annotations fields:
//
//	image: reg/org/agent:v1.4
//	tags: [latest, "1.4"]
//	manifests:
//	  - image: reg/org/agent-amd64:v1.4
//	    platform: {architecture: amd64, os: linux}
//	  - image: reg/org/agent-arm:v1.4
//	    platform: {architecture: arm, os: linux, variant: v7}
//	    optional: true
type Spec struct {
	Image       string            `yaml:"image"`
	Tags        []string          `yaml:"tags"`
	Annotations map[string]string `yaml:"annotations"`
	Manifests   []SpecManifest    `yaml:"manifests"`

	// File and the lines of each entry, for error messages.
	File  string `yaml:"-"`
	line  int
	lines []int
}

// SpecManifest is one entry of Spec.Manifests.
type SpecManifest struct {
	Image       string            `yaml:"image"`
	Platform    *SpecPlatform     `yaml:"platform"`
	Optional    bool              `yaml:"optional"`
	Annotations map[string]string `yaml:"annotations"`
}

// SpecPlatform is manifest-tool's platform block.
type SpecPlatform struct {
	Architecture string   `yaml:"architecture"`
	OS           string   `yaml:"os"`
	Variant      string   `yaml:"variant"`
	Features     []string `yaml:"features"`
	OSVersion    string   `yaml:"osversion"`
	OSFeatures   []string `yaml:"osfeatures"`
}

// LoadSpec reads and checks a spec file. Errors name the file and line.
func LoadSpec(path string) (*Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading spec: %w", err)
	}
	return ParseSpec(path, b)
}

var yamlLine = regexp.MustCompile(`line (\d+): `)

// ParseSpec parses a spec; file names it in errors.
func ParseSpec(file string, b []byte) (*Spec, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("%s: %s", file, yamlError(err))
	}
	if len(root.Content) == 0 {
		return nil, fmt.Errorf("%s: empty spec: it needs image and manifests", file)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var s Spec
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%s: %s", file, yamlError(err))
	}
	s.File = file
	s.line = root.Content[0].Line
	if m := mapValue(root.Content[0], "manifests"); m != nil {
		for _, item := range m.Content {
			s.lines = append(s.lines, item.Line)
		}
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	return &s, nil
}

// yamlError turns "yaml: line 3: ..." into "line 3: ...".
func yamlError(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n  ")
	msg = strings.ReplaceAll(msg, "\n  ", "; ")
	return yamlLine.ReplaceAllString(msg, "line $1: ")
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func (s *Spec) at(i int) string {
	if i < len(s.lines) {
		return fmt.Sprintf("%s:%d", s.File, s.lines[i])
	}
	return s.File
}

func (s *Spec) check() error {
	var errs []error
	if s.Image == "" {
		errs = append(errs, fmt.Errorf("%s:%d: image: missing (the multi-arch name to publish)", s.File, s.line))
	}
	if len(s.Manifests) == 0 {
		errs = append(errs, fmt.Errorf("%s:%d: manifests: missing or empty", s.File, s.line))
	}
	for i, m := range s.Manifests {
		if m.Image == "" {
			errs = append(errs, fmt.Errorf("%s: manifests[%d].image: missing", s.at(i), i))
		}
		if m.Platform == nil {
			continue
		}
		if _, err := m.Platform.platform(); err != nil {
			errs = append(errs, fmt.Errorf("%s: manifests[%d].platform: %w", s.at(i), i, err))
		}
	}
	return errors.Join(errs...)
}

func (p *SpecPlatform) platform() (v1.Platform, error) {
	if p.OS == "" || p.Architecture == "" {
		return v1.Platform{}, fmt.Errorf("os and architecture are both required (got os %q, architecture %q)", p.OS, p.Architecture)
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	out, err := platform.Parse(s)
	if err != nil {
		return v1.Platform{}, err
	}
	out.OSVersion, out.OSFeatures, out.Features = p.OSVersion, p.OSFeatures, p.Features
	return out, nil
}

// Request turns the spec into a publish request; parse resolves references.
func (s *Spec) Request(parse func(string) (name.Reference, error)) (Request, error) {
	target, err := parse(s.Image)
	if err != nil {
		return Request{}, fmt.Errorf("%s:%d: image: %w", s.File, s.line, err)
	}
	req := Request{Target: target, Tags: s.Tags, Annotations: s.Annotations}
	for i, m := range s.Manifests {
		ref, err := parse(m.Image)
		if err != nil {
			return Request{}, fmt.Errorf("%s: manifests[%d].image: %w", s.at(i), i, err)
		}
		src := Source{Ref: ref, Optional: m.Optional, Annotations: m.Annotations}
		if m.Platform != nil {
			p, _ := m.Platform.platform() // checked by ParseSpec
			src.Platform = &p
		}
		req.Sources = append(req.Sources, src)
	}
	return req, nil
}
