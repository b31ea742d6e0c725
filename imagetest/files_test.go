package imagetest

// Internal tests: fileTests, metadataTests and matchAll are what Run uses
// for files, metadata and output, driven here directly on images built in
// memory.

import (
	"archive/tar"
	"bytes"
	"io"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// entry is one tar header of a layer; Body is a regular file's content.
type entry struct {
	Name     string
	Type     byte // tar.TypeReg unless set
	Mode     int64
	UID, GID int
	Body     string
	Link     string
}

func layer(t testing.TB, entries ...entry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.Name, Typeflag: e.Type, Mode: e.Mode, Uid: e.UID, Gid: e.GID, Linkname: e.Link, Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.Body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			io.WriteString(tw, e.Body)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func imageOf(t testing.TB, cfg v1.Config, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Config = "linux", "arm64", cfg
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// layered is an image of three layers: a base, an upper layer that deletes
// and replaces files of it, and a last one that adds to it.
func layered(t testing.TB) v1.Image {
	base := layer(t,
		entry{Name: "etc/", Type: tar.TypeDir},
		entry{Name: "etc/passwd", Body: "root:x:0:0:root:/root:/bin/sh\n"},
		entry{Name: "etc/motd", Body: "old motd\n"},
		entry{Name: "./bin/agent", Mode: 0o755, UID: 0, GID: 0, Body: "#!/bin/sh\necho agent 1.4\n"},
		entry{Name: "bin/sh", Type: tar.TypeSymlink, Link: "busybox", Mode: 0o777},
		entry{Name: "tmp/secret", Mode: 0o600, Body: "hunter2\n"},
		entry{Name: "opt/", Type: tar.TypeDir},
		entry{Name: "opt/plugins/", Type: tar.TypeDir},
		entry{Name: "opt/plugins/old.so", Body: "x"},
		entry{Name: "var/cache/", Type: tar.TypeDir},
		entry{Name: "var/cache/apk/index", Body: "x"},
	)
	upper := layer(t,
		entry{Name: "tmp/.wh.secret"},           // deletes /tmp/secret
		entry{Name: "var/.wh.cache"},            // deletes /var/cache and all below
		entry{Name: "opt/plugins/.wh..wh..opq"}, // hides what lower layers had in /opt/plugins
		entry{Name: "opt/plugins/new.so", Body: "y"},
		entry{Name: "etc/motd", Mode: 0o600, UID: 1000, GID: 1000, Body: "welcome\n"},
	)
	top := layer(t,
		entry{Name: "home/app/", Type: tar.TypeDir, UID: 1000, GID: 1000, Mode: 0o750},
		entry{Name: "home/app/config.yaml", Body: "level: info\nport: 8080\n", UID: 1000, GID: 100},
	)
	return imageOf(t, v1.Config{}, base, upper, top)
}

func fileResults(t *testing.T, img v1.Image, tests ...FileTest) []Result {
	t.Helper()
	rs, err := fileTests(img, tests)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != len(tests) {
		t.Fatalf("%d results for %d tests", len(rs), len(tests))
	}
	return rs
}

func no() *bool { f := false; return &f }

func TestFileTests(t *testing.T) {
	img := layered(t)
	cases := []struct {
		name string
		test FileTest
		// want is "" for a pass, else text the failure message must hold.
		want string
	}{
		{"exists", FileTest{Path: "/etc/passwd"}, ""},
		{"a directory exists", FileTest{Path: "/etc"}, ""},
		{"a trailing slash is the same path", FileTest{Path: "/home/app/", Mode: "0750", Owner: "1000:1000"}, ""},
		{"a ./ name in the tar", FileTest{Path: "/bin/agent", Mode: "0755", Owner: "0:0"}, ""},
		{"missing", FileTest{Path: "/etc/shadow"}, "expected /etc/shadow to exist, but the image has no such file"},
		{"absent as asserted", FileTest{Path: "/etc/shadow", Exists: no()}, ""},
		{"present but should be absent", FileTest{Path: "/etc/passwd", Exists: no()}, "expected /etc/passwd to be absent, but it is there"},
		{"whited out by an upper layer", FileTest{Path: "/tmp/secret", Exists: no()}, ""},
		{"a whited-out file does not exist", FileTest{Path: "/tmp/secret"}, "expected /tmp/secret to exist, but the image has no such file"},
		{"below a whited-out directory", FileTest{Path: "/var/cache/apk/index", Exists: no()}, ""},
		{"the whited-out directory", FileTest{Path: "/var/cache", Exists: no()}, ""},
		{"hidden by an opaque directory", FileTest{Path: "/opt/plugins/old.so", Exists: no()}, ""},
		{"added in the opaque directory", FileTest{Path: "/opt/plugins/new.so"}, ""},
		{"the upper layer's mode", FileTest{Path: "/etc/motd", Mode: "0600"}, ""},
		{"wrong mode", FileTest{Path: "/etc/motd", Mode: "644"}, "mode: expected 0644, got 0600"},
		{"the upper layer's owner", FileTest{Path: "/etc/motd", Owner: "1000:1000"}, ""},
		{"wrong owner", FileTest{Path: "/home/app/config.yaml", Owner: "1000:1000"}, "owner: expected 1000:1000, got 1000:100"},
		{"the upper layer's content", FileTest{Path: "/etc/motd", Content: []string{"^welcome$"}, ContentNot: []string{"old"}}, ""},
		{"content is multi-line", FileTest{Path: "/home/app/config.yaml", Content: []string{"^port: 8080$", `^level: \w+$`}}, ""},
		{"content missing", FileTest{Path: "/bin/agent", Content: []string{"agent 2"}}, `content: expected a match for "agent 2", got "#!/bin/sh\necho agent 1.4\n"`},
		{"content that must not be there", FileTest{Path: "/home/app/config.yaml", ContentNot: []string{`^port: \d+`}}, `content: expected no match for "^port: \\d+", got "port: 8080"`},
		{"content of a symlink", FileTest{Path: "/bin/sh", Content: []string{"."}}, "content: /bin/sh is not a regular file"},
		{"a symlink's mode", FileTest{Path: "/bin/sh", Mode: "0777"}, ""},
		{"every problem at once", FileTest{Path: "/etc/motd", Mode: "0644", Owner: "0:0", Content: []string{"^old"}},
			"mode: expected 0644, got 0600\nowner: expected 0:0, got 1000:1000\ncontent: expected a match for \"^old\""},
	}
	tests := make([]FileTest, len(cases))
	for i, tc := range cases {
		tests[i] = tc.test
	}
	// All at once: the image is read once for every test.
	rs := fileResults(t, img, tests...)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := rs[i]
			if r.Kind != KindFile || r.Name != tc.test.Path {
				t.Errorf("result %q %q, want kind file named %q", r.Kind, r.Name, tc.test.Path)
			}
			if tc.want == "" {
				if !r.Passed || r.Message != "" {
					t.Errorf("failed: %s", r.Message)
				}
				return
			}
			if r.Passed {
				t.Fatalf("passed, want a failure saying %q", tc.want)
			}
			if !strings.Contains(r.Message, tc.want) {
				t.Errorf("message %q lacks %q", r.Message, tc.want)
			}
		})
	}
}

func TestFileTestsOneAtATime(t *testing.T) {
	// The same path tested twice, and a test alone, see the same filesystem.
	img := layered(t)
	rs := fileResults(t, img, FileTest{Path: "/tmp/secret"}, FileTest{Path: "/tmp/secret", Exists: no()})
	if rs[0].Passed || !rs[1].Passed {
		t.Errorf("deleted file: exists passed=%v, absent passed=%v", rs[0].Passed, rs[1].Passed)
	}
	rs = fileResults(t, img, FileTest{Path: "/opt/plugins/old.so"})
	if rs[0].Passed {
		t.Error("a file hidden by an opaque whiteout counts as present")
	}
}

func strp(s string) *string { return &s }

func TestMetadataTests(t *testing.T) {
	cf := &v1.ConfigFile{Config: v1.Config{
		Entrypoint:   []string{"/agent"},
		Cmd:          []string{"--help"},
		Env:          []string{"PATH=/usr/bin:/bin", "EMPTY=", "LOG=info=verbose"},
		WorkingDir:   "/srv",
		User:         "1000:1000",
		ExposedPorts: map[string]struct{}{"8080/tcp": {}, "53/udp": {}},
		Labels:       map[string]string{"org.opencontainers.image.title": "agent"},
	}}
	cases := []struct {
		name string
		test MetadataTest
		want map[string]string // result name -> "" (passes) or text of its failure
	}{
		{"nothing asked, nothing checked", MetadataTest{}, map[string]string{}},
		{"entrypoint and cmd", MetadataTest{Entrypoint: []string{"/agent"}, Cmd: []string{"--help"}},
			map[string]string{"entrypoint": "", "cmd": ""}},
		{"wrong entrypoint", MetadataTest{Entrypoint: []string{"/agent", "run"}},
			map[string]string{"entrypoint": `expected ["/agent" "run"], got ["/agent"]`}},
		{"cmd: [] asserts no cmd", MetadataTest{Cmd: []string{}},
			map[string]string{"cmd": `expected [], got ["--help"]`}},
		{"workdir and user", MetadataTest{Workdir: strp("/srv"), User: strp("root")},
			map[string]string{"workdir": "", "user": `expected "root", got "1000:1000"`}},
		{"env keys listed only", MetadataTest{Env: map[string]string{"PATH": "/usr/bin:/bin", "EMPTY": "", "LOG": "info=verbose"}},
			map[string]string{"env PATH": "", "env EMPTY": "", "env LOG": ""}},
		{"env wrong and unset", MetadataTest{Env: map[string]string{"PATH": "/bin", "HOME": "/root"}},
			map[string]string{"env PATH": `expected PATH="/bin", got "/usr/bin:/bin"`, "env HOME": `expected HOME="/root", got nothing (not set)`}},
		{"labels", MetadataTest{Labels: map[string]string{"org.opencontainers.image.title": "agent", "org.opencontainers.image.version": "1.4"}},
			map[string]string{"label org.opencontainers.image.title": "", "label org.opencontainers.image.version": "got nothing (not set)"}},
		{"ports, tcp by default", MetadataTest{ExposedPorts: []string{"8080", "53/udp", "53"}},
			map[string]string{"exposes 8080/tcp": "", "exposes 53/udp": "", "exposes 53/tcp": "expected port 53/tcp to be exposed, the image exposes [53/udp 8080/tcp]"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.test
			rs := metadataTests(cf, &m)
			if len(rs) != len(tc.want) {
				t.Errorf("%d results, want %d: %+v", len(rs), len(tc.want), rs)
			}
			for _, r := range rs {
				want, ok := tc.want[r.Name]
				switch {
				case !ok:
					t.Errorf("unexpected result %q", r.Name)
				case r.Kind != KindMetadata:
					t.Errorf("%s: kind %q", r.Name, r.Kind)
				case want == "" && !r.Passed:
					t.Errorf("%s failed: %s", r.Name, r.Message)
				case want != "" && r.Passed:
					t.Errorf("%s passed, want a failure saying %q", r.Name, want)
				case want != "" && !strings.Contains(r.Message, want):
					t.Errorf("%s: message %q lacks %q", r.Name, r.Message, want)
				}
			}
		})
	}
}

func TestMatchAll(t *testing.T) {
	long := strings.Repeat("x", 500)
	cases := []struct {
		name          string
		text          string
		must, mustNot []string
		want          []string // one per problem, a substring of it
	}{
		{"^ and $ match a line with its newline", "ok\n", []string{"^ok$"}, nil, nil},
		{"a line in the middle", "starting\nok\ndone\n", []string{"^ok$"}, nil, nil},
		{"not a whole line", "not ok\n", []string{"^ok$"}, nil, []string{`stdout: expected a match for "^ok$", got "not ok\n"`}},
		{"every must is checked", "a\n", []string{"a", "b", "c"}, nil, []string{`"b"`, `"c"`}},
		{"mustNot says what matched", "all fine\npanic: boom\nat main.go:3\n", nil, []string{`^panic:.*$`},
			[]string{`stdout: expected no match for "^panic:.*$", got "panic: boom" in "all fine\npanic: boom\nat main.go:3\n"`}},
		{"mustNot not matching", "all fine\n", nil, []string{"panic", "^fine"}, nil},
		{"empty output", "", []string{"."}, []string{"^$"}, []string{`expected a match for "."`, `expected no match for "^$", got ""`}},
		{"long output is cut", long, []string{"y"}, nil, []string{`got "` + strings.Repeat("x", 400) + `..."`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := matchAll("stdout", tc.text, tc.must, tc.mustNot)
			if len(got) != len(tc.want) {
				t.Fatalf("problems %q, want %d", got, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %q lacks %q", got[i], w)
				}
			}
		})
	}
}

// "Each line of output": output that ends with a newline has no empty last
// line, so '^$' (or '^\s*$', "no blank lines") must not match it.
func TestMatchAllTrailingNewlineIsNoEmptyLine(t *testing.T) {
	cases := []struct {
		name          string
		must, mustNot []string
	}{
		{"no blank lines", nil, []string{`^\s*$`}},
		{"no empty line", nil, []string{"^$"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := matchAll("stdout", "line one\nline two\n", tc.must, tc.mustNot); len(got) != 0 {
				t.Errorf("problems %q, want none", got)
			}
		})
	}
	if got := matchAll("stdout", "line one\n", []string{"^$"}, nil); len(got) != 1 {
		t.Errorf("stdout: ['^$'] passed on output without an empty line")
	}
}
