// Package imagetest tests each per-architecture image on its own
// architecture: commands run in the image through BuildKit, on the node that
// serves its platform (natively or under QEMU), addressed by digest so that
// what was tested is what is published; files are read from the image's
// layers; metadata from its config. Every image also gets an automatic
// architecture test: `uname -m` in the image matches its platform, and no
// layer holds a binary of another architecture.
//
// A spec is YAML, in polyarch.yaml under images[].test or in its own file:
//
//	commands:
//	  - name: prints its version
//	    command: [/agent, --version]
//	    stdout: ['^agent 1\.4']
//	files:
//	  - path: /agent
//	    mode: "0755"
//	metadata:
//	  entrypoint: [/agent]
package imagetest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Spec is a test spec.
type Spec struct {
	// Arch turns the automatic architecture test off when false.
	Arch     *bool         `yaml:"arch"`
	Commands []CommandTest `yaml:"commands"`
	Files    []FileTest    `yaml:"files"`
	Metadata *MetadataTest `yaml:"metadata"`
	// Jobs run a project's build or tests in the image (job.go).
	Jobs []JobTest `yaml:"jobs"`
}

// CommandTest runs a command in the image.
type CommandTest struct {
	Name string `yaml:"name"`
	// Command is the argv; Shell, instead, is run with /bin/sh -c.
	Command []string          `yaml:"command"`
	Shell   string            `yaml:"shell"`
	Env     map[string]string `yaml:"env"`
	Workdir string            `yaml:"workdir"`
	User    string            `yaml:"user"`
	// ExitCode expected (default 0).
	ExitCode int `yaml:"exitCode"`
	// Stdout and Stderr are regular expressions that must match; the Not
	// forms must not match. They are multi-line: ^ and $ match at the start
	// and end of each line of output.
	Stdout    []string `yaml:"stdout"`
	StdoutNot []string `yaml:"stdoutNot"`
	Stderr    []string `yaml:"stderr"`
	StderrNot []string `yaml:"stderrNot"`
	line      int
}

// FileTest checks a path in the image's filesystem.
type FileTest struct {
	Path string `yaml:"path"`
	// Exists defaults to true; false asserts the path is absent.
	Exists *bool `yaml:"exists"`
	// Mode is the permission bits in octal, e.g. "0755".
	Mode string `yaml:"mode"`
	// Owner is "uid:gid", e.g. "0:0".
	Owner      string   `yaml:"owner"`
	Content    []string `yaml:"content"`
	ContentNot []string `yaml:"contentNot"`
	line       int
}

// MetadataTest checks the image config. Unset fields are not checked; Env
// and Labels check only the keys they list.
type MetadataTest struct {
	Entrypoint   []string          `yaml:"entrypoint"`
	Cmd          []string          `yaml:"cmd"`
	Env          map[string]string `yaml:"env"`
	Workdir      *string           `yaml:"workdir"`
	User         *string           `yaml:"user"`
	ExposedPorts []string          `yaml:"exposedPorts"`
	Labels       map[string]string `yaml:"labels"`
	line         int
}

// ArchEnabled reports whether the automatic architecture test runs.
func (s *Spec) ArchEnabled() bool { return s == nil || s.Arch == nil || *s.Arch }

// LoadSpec reads a standalone spec file.
func LoadSpec(path string) (*Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading test spec: %w", err)
	}
	var n yaml.Node
	if err := yaml.Unmarshal(b, &n); err != nil {
		return nil, fmt.Errorf("%s: %s", path, yamlMessage(err))
	}
	if len(n.Content) == 0 {
		return &Spec{}, nil
	}
	return DecodeSpec(path, n.Content[0])
}

// DecodeSpec decodes a spec from a YAML node (of polyarch.yaml, or a file);
// file names it in errors.
func DecodeSpec(file string, n *yaml.Node) (*Spec, error) {
	var s Spec
	if err := decodeStrict(n, &s); err != nil {
		return nil, fmt.Errorf("%s: %s", file, yamlMessage(err))
	}
	lines(n, &s)
	if err := s.check(file); err != nil {
		return nil, err
	}
	if abs, err := filepath.Abs(file); err == nil {
		for i := range s.Jobs {
			s.Jobs[i].base = filepath.Dir(abs)
		}
	}
	return &s, nil
}

// decodeStrict decodes n refusing unknown fields. yaml.Node.Decode has no
// such option, so the keys are checked against v's yaml tags on the node
// itself, whose lines are the file's.
func decodeStrict(n *yaml.Node, v any) error {
	if errs := unknownKeys(n, reflect.TypeOf(v), "the test spec"); len(errs) > 0 {
		return fmt.Errorf("unmarshal errors:\n  %s", strings.Join(errs, "\n  "))
	}
	return n.Decode(v)
}

// unknownKeys lists "line N: field X not found in WHERE (it has a, b)" for
// every mapping key of n that t (a struct, or pointer or slice of one) has
// no field for; where names the mapping in the user's words: files[].
func unknownKeys(n *yaml.Node, t reflect.Type, where string) []string {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		if t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode {
			var out []string
			for _, item := range n.Content {
				out = append(out, unknownKeys(item, t.Elem(), where+"[]")...)
			}
			return out
		}
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || n.Kind != yaml.MappingNode {
		return nil
	}
	fields := map[string]reflect.Type{}
	var names []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); tag != "" && tag != "-" {
			fields[tag] = f.Type
			names = append(names, tag)
		}
	}
	var out []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := n.Content[i]
		ft, ok := fields[key.Value]
		if !ok {
			out = append(out, fmt.Sprintf("line %d: field %s not found in %s (it has %s)", key.Line, key.Value, where, strings.Join(names, ", ")))
			continue
		}
		out = append(out, unknownKeys(n.Content[i+1], ft, key.Value)...)
	}
	return out
}

func yamlMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n  ")
	return strings.ReplaceAll(msg, "\n  ", "; ")
}

// lines records each test's line for error messages.
func lines(n *yaml.Node, s *Spec) {
	if n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i].Value, n.Content[i+1]
		switch key {
		case "commands":
			for j, c := range val.Content {
				if j < len(s.Commands) {
					s.Commands[j].line = c.Line
				}
			}
		case "files":
			for j, c := range val.Content {
				if j < len(s.Files) {
					s.Files[j].line = c.Line
				}
			}
		case "jobs":
			for j, c := range val.Content {
				if j < len(s.Jobs) {
					s.Jobs[j].line = c.Line
				}
			}
		case "metadata":
			if s.Metadata != nil {
				s.Metadata.line = val.Line
			}
		}
	}
}

func (s *Spec) check(file string) error {
	var errs []error
	bad := func(line int, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: %s", file, line, fmt.Sprintf(format, args...)))
	}
	for i, c := range s.Commands {
		where := fmt.Sprintf("commands[%d]", i)
		if (len(c.Command) == 0) == (c.Shell == "") {
			bad(c.line, "%s: give command (an argv list) or shell (a /bin/sh -c string), one of them", where)
		}
		for _, re := range [][]string{c.Stdout, c.StdoutNot, c.Stderr, c.StderrNot} {
			for _, r := range re {
				if _, err := regexp.Compile("(?m)" + r); err != nil {
					bad(c.line, "%s: regular expression %q: %v", where, r, err)
				}
			}
		}
	}
	for i, f := range s.Files {
		where := fmt.Sprintf("files[%d]", i)
		if !strings.HasPrefix(f.Path, "/") {
			bad(f.line, "%s.path %q: must be absolute", where, f.Path)
		}
		if f.Mode != "" {
			if _, err := strconv.ParseUint(f.Mode, 8, 32); err != nil {
				bad(f.line, "%s.mode %q: want octal permission bits such as 0755", where, f.Mode)
			}
		}
		if f.Owner != "" {
			if _, _, err := parseOwner(f.Owner); err != nil {
				bad(f.line, "%s.owner %q: %v", where, f.Owner, err)
			}
		}
		for _, r := range append(append([]string{}, f.Content...), f.ContentNot...) {
			if _, err := regexp.Compile(r); err != nil {
				bad(f.line, "%s: regular expression %q: %v", where, r, err)
			}
		}
	}
	for i, j := range s.Jobs {
		for _, msg := range j.check() {
			bad(j.line, "jobs[%d]: %s", i, msg)
		}
	}
	return errors.Join(errs...)
}

func parseOwner(s string) (uid, gid int, err error) {
	u, g, ok := strings.Cut(s, ":")
	if !ok {
		return 0, 0, errors.New(`want "uid:gid", e.g. "0:0"`)
	}
	if uid, err = strconv.Atoi(u); err != nil {
		return 0, 0, errors.New(`want numeric "uid:gid"`)
	}
	if gid, err = strconv.Atoi(g); err != nil {
		return 0, 0, errors.New(`want numeric "uid:gid"`)
	}
	return uid, gid, nil
}

// label names a command test.
func (c CommandTest) label() string {
	if c.Name != "" {
		return c.Name
	}
	if c.Shell != "" {
		return c.Shell
	}
	return strings.Join(c.Command, " ")
}

func (c CommandTest) argv() []string {
	if c.Shell != "" {
		return []string{"/bin/sh", "-c", c.Shell}
	}
	return c.Command
}
