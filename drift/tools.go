// Package drift compares the tool versions of a Dockerfile with those of
// the upstream Dockerfile it follows: Maistra's builder image for 2.2 keeps
// the tools of Istio's build-tools Dockerfile on release-1.12, and bazel at
// the version of istio/proxy's .bazelversion on that branch.
//
// How to use it: Check compares one version of an image in polyarch.yaml
// with its upstream: (config.Version).Upstream, read by a Fetcher, which
// keeps git repositories and URLs in a cache and falls back to it when the
// upstream cannot be reached. Each Row of the Report is one tool: its
// version in ours and in upstream's, where each was read (file:line), and
// a Status. Dockerfile and VersionFile read the tools of one file.
//
// A tool version is any of:
//
//	ARG GOLANG_VERSION=1.17.5     ENV BAZEL_VERSION=5.1.1    (a name ending in VERSION: golang, bazel)
//	ARG GOLANG_IMAGE=golang:1.17  FROM golang:1.17.5 AS go   (a tagged image: golang)
//	RUN go install sigs.k8s.io/kind@v0.11.1                  (kind)
//	RUN apt-get install -y gcc-9=9.4.0-1 / apk add make=4.3  (gcc-9, make)
//	RUN pip3 install yamllint==1.26.3 / npm install -g markdownlint-cli@0.23.2
//	.bazelversion: 5.1.1                                     (bazel, from the file's name)
//
// and, for our side, polyarch.yaml's build args with such names, which
// override the Dockerfile's ARG defaults. Versions that read as variables
// ($GO_VERSION) are not tools: the variable is.
//
// Tools are compared by name: the ARG or ENV name lowercased without its
// VERSION suffix, the image's or package's last path element. Aliases
// rename a tool on either side (drift.aliases in polyarch.yaml).
package drift

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// Kind is the syntax a tool version was read from.
type Kind string

// The kinds of tool versions.
const (
	KindArg       Kind = "ARG"
	KindEnv       Kind = "ENV"
	KindFrom      Kind = "FROM"
	KindGoInstall Kind = "go install"
	KindApt       Kind = "apt"
	KindApk       Kind = "apk"
	KindPip       Kind = "pip"
	KindNpm       Kind = "npm"
	KindFile      Kind = "version file"
	// KindBuildArg is a build arg of polyarch.yaml.
	KindBuildArg Kind = "build arg"
)

// Tool is one tool version, where it was read.
type Tool struct {
	// Name is what it is compared as: "golang", "bazel", "kind".
	Name string `json:"name"`
	// Key is the name as written: GOLANG_VERSION, sigs.k8s.io/kind, .bazelversion.
	Key     string `json:"key"`
	Version string `json:"version"`
	Kind    Kind   `json:"kind"`
	// File and Line are where it was read.
	File string `json:"file"`
	Line int    `json:"line"`
	// Field is the polyarch.yaml field of a build arg:
	// images[0].versions[1].args.BAZEL_VERSION.
	Field string `json:"field,omitempty"`
	// Offset and Len locate Version's text in File's bytes, to rewrite it;
	// Len is 0 for a build arg.
	Offset int `json:"-"`
	Len    int `json:"-"`
}

// At is "file:line".
func (t Tool) At() string { return fmt.Sprintf("%s:%d", t.File, t.Line) }

// Dockerfile reads the tool versions of a Dockerfile's source, in file
// order; file names it in each Tool. A tool set twice to the same version
// (an ARG redeclared in a second stage) is listed twice.
func Dockerfile(file string, src []byte) ([]Tool, error) {
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	lines := lineStarts(src)
	escape := byte('\\')
	if res.EscapeToken == '`' {
		escape = '`'
	}
	var out []Tool
	stages := map[string]bool{}
	add := func(t Tool) {
		t.File = file
		t.Line = lineOf(lines, t.Offset)
		out = append(out, t)
	}
	for _, n := range res.AST.Children {
		if n.StartLine < 1 || n.EndLine > len(lines) {
			continue
		}
		start, end := lines[n.StartLine-1], len(src)
		if n.EndLine < len(lines) {
			end = lines[n.EndLine]
		}
		toks := tokenize(src, start, end, escape)
		if len(toks) < 2 {
			continue
		}
		switch strings.ToLower(n.Value) {
		case "arg", "env":
			kind := KindArg
			if strings.ToLower(n.Value) == "env" {
				kind = KindEnv
			}
			for _, t := range assignments(toks[1:]) {
				if tool, ok := variableTool(kind, t); ok {
					add(tool)
				}
			}
		case "from":
			if tool, name, ok := fromTool(toks[1:], stages); ok {
				add(tool)
				stages[name] = true
			} else if name != "" {
				stages[name] = true
			}
		case "run":
			if len(n.Heredocs) > 0 || strings.HasPrefix(toks[1].text, "[") {
				continue // a heredoc or the exec form: no shell words to read
			}
			for _, t := range runTools(toks[1:]) {
				add(t)
			}
		}
	}
	return out, nil
}

// VersionFile reads a file such as .bazelversion: its first line that is
// neither empty nor a # comment is the version of tool (default the file's
// name: .bazelversion is bazel, .go-version go).
func VersionFile(file, name, tool string, src []byte) (Tool, error) {
	if tool == "" {
		tool = toolOfFile(name)
	}
	off := 0
	for _, l := range bytes.SplitAfter(src, []byte("\n")) {
		trimmed := bytes.TrimSpace(l)
		if len(trimmed) > 0 && trimmed[0] != '#' {
			lead := len(l) - len(bytes.TrimLeft(l, " \t"))
			lines := lineStarts(src)
			return Tool{Name: tool, Key: path.Base(name), Version: string(trimmed), Kind: KindFile,
				File: file, Line: lineOf(lines, off), Offset: off + lead, Len: len(trimmed)}, nil
		}
		off += len(l)
	}
	return Tool{}, fmt.Errorf("%s: no version in it (the first line that is not a # comment is read)", file)
}

// toolOfFile names the tool of a version file: .bazelversion is bazel,
// .go-version go, .terraform-version terraform, VERSION stays VERSION.
func toolOfFile(name string) string {
	base := strings.TrimPrefix(path.Base(name), ".")
	t := strings.TrimRight(strings.TrimSuffix(strings.ToLower(base), "version"), "-_.")
	if t == "" {
		return base
	}
	return t
}

// ArgTool names the tool of a variable: GOLANG_VERSION is golang,
// HELM3_VERSION helm3, GO_BINDATA_VERSION go-bindata. It is "" for a name
// that does not end in VERSION, or is VERSION alone.
func ArgTool(name string) string {
	l := strings.ToLower(name)
	if !strings.HasSuffix(l, "version") {
		return ""
	}
	l = strings.TrimRight(strings.TrimSuffix(l, "version"), "_-")
	return strings.ReplaceAll(l, "_", "-")
}

// normalise is how alias names are read: a variable's name as its tool,
// anything else lowercased.
func normalise(name string) string {
	if t := ArgTool(name); t != "" {
		return t
	}
	return strings.ToLower(name)
}

var versionish = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z._+~:-]*$`)

// variableTool is the tool an ARG or ENV sets, if it sets one.
func variableTool(kind Kind, a assignment) (Tool, bool) {
	if strings.Contains(a.value, "$") || a.value == "" {
		return Tool{}, false
	}
	if name := ArgTool(a.key); name != "" && versionish.MatchString(a.value) {
		return Tool{Name: name, Key: a.key, Version: a.value, Kind: kind, Offset: a.off, Len: len(a.value)}, true
	}
	if strings.HasSuffix(strings.ToUpper(a.key), "_IMAGE") {
		if repo, tag, at, ok := imageTag(a.value); ok {
			return Tool{Name: path.Base(repo), Key: a.key, Version: tag, Kind: kind, Offset: a.off + at, Len: len(tag)}, true
		}
	}
	return Tool{}, false
}

// imageTag splits an image reference with a tag other than latest:
// "gcr.io/x/golang:1.17@sha256:..." is gcr.io/x/golang and 1.17, the tag at
// byte 16.
func imageTag(ref string) (repo, tag string, at int, ok bool) {
	if strings.Contains(ref, "$") {
		return "", "", 0, false
	}
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	i := strings.LastIndex(ref, ":")
	if i < 0 || strings.Contains(ref[i:], "/") {
		return "", "", 0, false
	}
	repo, tag = ref[:i], ref[i+1:]
	if tag == "" || tag == "latest" || !versionish.MatchString(tag) || repo == "" {
		return "", "", 0, false
	}
	return repo, tag, i + 1, true
}

// fromTool reads FROM [--platform=...] image[:tag] [AS name]: the image is
// a tool when it is tagged and is no earlier stage. name is the stage's.
func fromTool(toks []token, stages map[string]bool) (Tool, string, bool) {
	var words []token
	for _, t := range toks {
		if !t.sep && !strings.HasPrefix(t.text, "--") {
			words = append(words, t)
		}
	}
	if len(words) == 0 {
		return Tool{}, "", false
	}
	name := ""
	if len(words) >= 3 && strings.EqualFold(words[1].text, "as") {
		name = strings.ToLower(words[2].text)
	}
	img := words[0]
	if stages[strings.ToLower(img.text)] {
		return Tool{}, name, false
	}
	repo, tag, at, ok := imageTag(img.text)
	if !ok {
		return Tool{}, name, false
	}
	return Tool{Name: path.Base(repo), Key: repo, Version: tag, Kind: KindFrom, Offset: img.off + at, Len: len(tag)}, name, true
}

var (
	aptPin = regexp.MustCompile(`^([a-z0-9][a-z0-9+.-]+)=([0-9][^=\s]*)$`)
	pipPin = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([0-9][^=\s]*)$`)
	npmPin = regexp.MustCompile(`^((?:@[a-z0-9._-]+/)?[a-z0-9._-]+)@(v?[0-9][^@\s]*)$`)
	goPin  = regexp.MustCompile(`^([A-Za-z0-9.-]+\.[A-Za-z]+/[^@\s]+)@(v[0-9][^@\s]*)$`)
	major  = regexp.MustCompile(`^v[0-9]+$`)
)

// runTools reads the pinned versions of a RUN's shell words, command by
// command (split at &&, ||, ;, |): go install pkg@vX, apt-get/apt install
// and apk add name=version, pip install name==version, npm install
// name@version.
func runTools(toks []token) []Tool {
	var out []Tool
	var cmd []token
	flush := func() {
		out = append(out, commandTools(cmd)...)
		cmd = cmd[:0]
	}
	for _, t := range toks {
		if t.sep {
			flush()
			continue
		}
		cmd = append(cmd, t)
	}
	flush()
	return out
}

func commandTools(cmd []token) []Tool {
	var out []Tool
	for i := 0; i+1 < len(cmd); i++ {
		w, j := base(cmd[i].text), i+1
		for j+1 < len(cmd) && strings.HasPrefix(cmd[j].text, "-") {
			j++ // apt-get -y install, pip3 --no-cache-dir install
		}
		next := cmd[j].text
		var kind Kind
		switch {
		case w == "go" && (next == "install" || next == "get"):
			kind = KindGoInstall
		case (w == "apt-get" || w == "apt") && next == "install":
			kind = KindApt
		case w == "apk" && next == "add":
			kind = KindApk
		case (w == "pip" || w == "pip3") && next == "install":
			kind = KindPip
		case w == "npm" && (next == "install" || next == "i"):
			kind = KindNpm
		default:
			continue
		}
		for _, t := range cmd[j+1:] {
			if strings.HasPrefix(t.text, "-") {
				continue
			}
			word, off, ok := t.unquoted()
			if !ok || strings.Contains(word, "$") {
				continue
			}
			if tool, ok := pin(kind, word); ok {
				tool.Offset = off + (len(word) - len(tool.Version))
				out = append(out, tool)
			}
		}
		break
	}
	return out
}

// pin reads one package word of a command of kind.
func pin(kind Kind, word string) (Tool, bool) {
	var m []string
	switch kind {
	case KindGoInstall:
		if m = goPin.FindStringSubmatch(word); m == nil {
			return Tool{}, false
		}
		return Tool{Name: goTool(m[1]), Key: m[1], Version: m[2], Kind: kind, Len: len(m[2])}, true
	case KindApt, KindApk:
		if m = aptPin.FindStringSubmatch(word); m == nil {
			return Tool{}, false
		}
		return Tool{Name: m[1], Key: m[1], Version: m[2], Kind: kind, Len: len(m[2])}, true
	case KindPip:
		if m = pipPin.FindStringSubmatch(word); m == nil {
			return Tool{}, false
		}
		return Tool{Name: strings.ToLower(m[1]), Key: m[1], Version: m[3], Kind: kind, Len: len(m[3])}, true
	case KindNpm:
		if m = npmPin.FindStringSubmatch(word); m == nil {
			return Tool{}, false
		}
		return Tool{Name: m[1], Key: m[1], Version: m[2], Kind: kind, Len: len(m[2])}, true
	}
	return Tool{}, false
}

// goTool names a Go package's tool: its last path element, skipping a
// major-version suffix and "/...": sigs.k8s.io/kind is kind,
// github.com/x/y/v2/cmd/z z, github.com/x/y/v2 y.
func goTool(pkg string) string {
	parts := strings.Split(strings.TrimSuffix(pkg, "/..."), "/")
	for i := len(parts) - 1; i > 0; i-- {
		if !major.MatchString(parts[i]) {
			return parts[i]
		}
	}
	return parts[0]
}

// base is a command word without its directory: /usr/bin/pip3 is pip3.
func base(w string) string { return path.Base(w) }
