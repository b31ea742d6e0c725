package imagetest_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/polyarch/polyarch/imagetest"
)

func writeSpec(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tests.yaml")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadSpec(t *testing.T) {
	p := writeSpec(t, `# agent tests
arch: false
commands:
  - name: prints its version
    command: [/agent, --version]
    env: {LOG_LEVEL: debug}
    workdir: /tmp
    user: "1000"
    exitCode: 3
    stdout: ['^agent 1\.4']
    stdoutNot: [panic]
    stderr: ['.']
    stderrNot: [fatal]
  - shell: echo $PATH
files:
  - path: /agent
    mode: "0755"
    owner: "0:0"
    content: ['^#!/bin/sh']
  - path: /tmp/secret
    exists: false
metadata:
  entrypoint: [/agent]
  cmd: []
  workdir: /
  user: ""
  env: {PATH: /bin}
  exposedPorts: [8080/tcp, "53"]
  labels: {org.opencontainers.image.title: agent}
`)
	s, err := imagetest.LoadSpec(p)
	if err != nil {
		t.Fatal(err)
	}
	if s.ArchEnabled() {
		t.Error("arch: false left the architecture test on")
	}
	if len(s.Commands) != 2 || len(s.Files) != 2 || s.Metadata == nil {
		t.Fatalf("decoded %d commands, %d files, metadata %v", len(s.Commands), len(s.Files), s.Metadata)
	}
	c := s.Commands[0]
	if c.Name != "prints its version" || !slices.Equal(c.Command, []string{"/agent", "--version"}) || c.Env["LOG_LEVEL"] != "debug" ||
		c.Workdir != "/tmp" || c.User != "1000" || c.ExitCode != 3 || c.Stdout[0] != `^agent 1\.4` || c.StdoutNot[0] != "panic" ||
		c.Stderr[0] != "." || c.StderrNot[0] != "fatal" {
		t.Errorf("command %+v", c)
	}
	if s.Commands[1].Shell != "echo $PATH" || s.Commands[1].Command != nil {
		t.Errorf("shell command %+v", s.Commands[1])
	}
	f := s.Files[0]
	if f.Path != "/agent" || f.Mode != "0755" || f.Owner != "0:0" || f.Exists != nil || f.Content[0] != "^#!/bin/sh" {
		t.Errorf("file %+v", f)
	}
	if s.Files[1].Exists == nil || *s.Files[1].Exists {
		t.Errorf("exists: false decoded as %v", s.Files[1].Exists)
	}
	m := s.Metadata
	if !slices.Equal(m.Entrypoint, []string{"/agent"}) || m.Cmd == nil || len(m.Cmd) != 0 || m.Workdir == nil || *m.Workdir != "/" ||
		m.User == nil || *m.User != "" || m.Env["PATH"] != "/bin" || !slices.Equal(m.ExposedPorts, []string{"8080/tcp", "53"}) ||
		m.Labels["org.opencontainers.image.title"] != "agent" {
		t.Errorf("metadata %+v (cmd: [] must be set and empty, to assert the image has none)", m)
	}
}

func TestArchEnabledByDefault(t *testing.T) {
	for _, content := range []string{"", "commands: []\n", "arch: true\n"} {
		s, err := imagetest.LoadSpec(writeSpec(t, content))
		if err != nil {
			t.Fatalf("%q: %v", content, err)
		}
		if !s.ArchEnabled() {
			t.Errorf("%q turns the architecture test off", content)
		}
	}
	var none *imagetest.Spec
	if !none.ArchEnabled() {
		t.Error("a nil spec turns the architecture test off")
	}
}

func TestLoadSpecErrorsNameFileAndLine(t *testing.T) {
	cases := []struct {
		name, spec string
		want       []string // after "<file>"
	}{
		{"unknown field", "commands:\n  - name: x\n    command: [a]\n    stdot: [b]\n",
			[]string{": line 4: field stdot not found"}},
		{"a file that starts with a comment", "# tests of the agent image\n\ncommands:\n  - shell: a\n    stdot: [x]\n",
			[]string{": line 5: field stdot not found"}},
		{"unknown top-level field", "arch: true\ncomands: []\n",
			[]string{": line 2: field comands not found in the test spec (it has arch, commands, files, metadata, jobs)"}},
		{"unknown field of a file test", "files:\n  - path: /a\n    mod: '0755'\n",
			[]string{": line 3: field mod not found in files[] (it has path, exists, mode, owner, content, contentNot)"}},
		{"wrong type", "commands:\n  - name: x\n    shell: a\n    exitCode: zero\n",
			[]string{": line 4: cannot unmarshal"}},
		{"yaml syntax", "commands:\n  - name: x\n\tshell: a\n",
			[]string{": line 2: found a tab character"}}, // the line yaml reports
		{"command and shell", "commands:\n  - name: ok\n    shell: a\n  - name: both\n    command: [a]\n    shell: b\n",
			[]string{":4: commands[1]: give command (an argv list) or shell"}},
		{"neither command nor shell", "commands:\n  - name: nothing to run\n    stdout: [x]\n",
			[]string{":2: commands[0]: give command"}},
		{"bad stdout regexp", "commands:\n  - shell: a\n  - shell: b\n    stdout: ['(']\n",
			[]string{":3: commands[1]: regular expression \"(\""}},
		{"bad stderrNot regexp", "commands:\n  - shell: a\n    stderrNot: ['a**']\n",
			[]string{":2: commands[0]: regular expression \"a**\""}},
		{"bad content regexp", "files:\n  - path: /a\n    content: ['[z-a]']\n",
			[]string{":2: files[0]: regular expression \"[z-a]\""}},
		{"relative path", "files:\n  - path: /ok\n  - path: etc/passwd\n",
			[]string{`:3: files[1].path "etc/passwd": must be absolute`}},
		{"mode not octal", "files:\n  - path: /a\n    mode: \"0799\"\n",
			[]string{`:2: files[0].mode "0799": want octal permission bits`}},
		{"mode in letters", "files:\n  - path: /a\n    mode: rwxr-xr-x\n",
			[]string{`:2: files[0].mode "rwxr-xr-x"`}},
		{"owner by name", "files:\n  - path: /a\n    owner: root:root\n",
			[]string{`:2: files[0].owner "root:root": want numeric "uid:gid"`}},
		{"owner without group", "files:\n  - path: /a\n    owner: \"0\"\n",
			[]string{`:2: files[0].owner "0": want "uid:gid"`}},
		{"every error at once", "commands:\n  - name: x\nfiles:\n  - path: a\n    mode: \"9\"\n",
			[]string{":2: commands[0]", `:4: files[0].path "a"`, `:4: files[0].mode "9"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := writeSpec(t, tc.spec)
			s, err := imagetest.LoadSpec(p)
			if err == nil {
				t.Fatalf("accepted: %+v", s)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), p+w) {
					t.Errorf("error %q lacks %q", err, p+w)
				}
			}
		})
	}
}

func TestLoadSpecMissingFile(t *testing.T) {
	_, err := imagetest.LoadSpec(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %v, want one wrapping fs.ErrNotExist", err)
	}
}

// embedded is a polyarch.yaml whose images[1].test begins at line 12.
const embedded = `registry: r.example
images:
  - name: a
    context: .
    platforms: [linux/amd64]
    test:
      commands:
        - shell: "true"
  - name: b
    context: .
    platforms: [linux/amd64]
    test:
      commands:
        - name: version
          command: [/b, --version]
          stdout: ['^b ']
          stdot: [x]
      files:
        - path: /b
          mode: "0755"
        - path: b.conf
`

func testNode(t *testing.T, doc string, image int) *yaml.Node {
	t.Helper()
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &root); err != nil {
		t.Fatal(err)
	}
	images := mapValue(root.Content[0], "images")
	n := mapValue(images.Content[image], "test")
	if n == nil {
		t.Fatalf("images[%d] has no test", image)
	}
	return n
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func TestDecodeSpecReportsLinesOfTheWholeFile(t *testing.T) {
	t.Run("unknown field, from the strict decode", func(t *testing.T) {
		_, err := imagetest.DecodeSpec("polyarch.yaml", testNode(t, embedded, 1))
		if err == nil {
			t.Fatal("accepted stdot")
		}
		if want := "polyarch.yaml: line 17: field stdot not found"; !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	})
	t.Run("a check of the decoded spec", func(t *testing.T) {
		doc := strings.Replace(embedded, "          stdot: [x]\n", "", 1)
		_, err := imagetest.DecodeSpec("polyarch.yaml", testNode(t, doc, 1))
		if err == nil {
			t.Fatal("accepted a relative path")
		}
		if want := `polyarch.yaml:20: files[1].path "b.conf": must be absolute`; !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	})
	t.Run("a valid spec", func(t *testing.T) {
		s, err := imagetest.DecodeSpec("polyarch.yaml", testNode(t, embedded, 0))
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Commands) != 1 || s.Commands[0].Shell != "true" {
			t.Errorf("decoded %+v", s)
		}
	})
}

// Re-encoding a node (how DecodeSpec refuses unknown fields) drops blank
// lines and moves comments and flow-style collections, so shifting the
// re-encoded line by where the node starts is only right for a spec written
// compactly in block style.
func TestDecodeSpecLinesSurviveBlankLinesAndComments(t *testing.T) {
	cases := []struct {
		name, doc string
		want      string
	}{
		{"blank lines between tests",
			"images:\n  - name: a\n    test:\n      commands:\n        - shell: a\n\n        - shell: b\n\n          stdot: [x]\n",
			"p.yaml: line 9: field stdot not found"},
		{"a comment before the first key",
			"images:\n  - name: a\n    test:\n      # the tests\n      commands:\n        - shell: a\n          stdot: [x]\n",
			"p.yaml: line 7: field stdot not found"},
		{"a flow mapping over lines",
			"images:\n  - name: a\n    test:\n      commands:\n        - {shell: a,\n           stdot: [x]}\n",
			"p.yaml: line 6: field stdot not found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := imagetest.DecodeSpec("p.yaml", testNode(t, tc.doc, 0))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}
