package lint_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/polyarch/polyarch/lint"
)

var arm64 = []v1.Platform{{OS: "linux", Architecture: "arm64"}}

func dockerfile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "Dockerfile")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEmulatedCompiles(t *testing.T) {
	cases := []struct {
		name, body string
		emulated   []v1.Platform
		want       []string // "line:stage:tool"; empty for none
	}{
		{"go build in an unpinned stage", "FROM golang AS build\nRUN go build -o /app .\nFROM scratch\nCOPY --from=build /app /app\n", arm64, []string{"2:build:go build"}},
		{"cross-compiling stage is fine", "FROM --platform=$BUILDPLATFORM golang AS build\nARG TARGETARCH\nRUN GOARCH=$TARGETARCH go build -o /app .\nFROM scratch\nCOPY --from=build /app /app\n", arm64, nil},
		{"make in a continued line", "FROM debian\nRUN apt-get update && \\\n    make -j4 install\n", arm64, []string{"2:0:make"}},
		{"no compiler", "FROM debian\nRUN apt-get install -y curl && echo done\n", arm64, nil},
		{"a word that only contains cc", "FROM debian\nRUN echo success > /ok\n", arm64, nil},
		{"nothing emulated", "FROM golang\nRUN go build .\n", nil, nil},
		{"one finding per stage", "FROM gcc AS c\nRUN gcc -c a.c\nRUN make\n", arm64, []string{"2:c:gcc"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs, err := lint.EmulatedCompiles(dockerfile(t, tc.body), tc.emulated)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range fs {
				tool := f.Message[strings.Index(f.Message, `"`)+1:]
				tool = tool[:strings.Index(tool, `"`)]
				got = append(got, strings.Join([]string{strconv.Itoa(f.Line), f.Stage, tool}, ":"))
				if !strings.Contains(f.Message, "--platform=$BUILDPLATFORM") || !strings.Contains(f.Message, "linux/arm64") {
					t.Errorf("message does not say what to do or for which platform: %s", f.Message)
				}
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("findings %v, want %v", got, tc.want)
			}
		})
	}
}

func TestBadDockerfile(t *testing.T) {
	if _, err := lint.EmulatedCompiles(filepath.Join(t.TempDir(), "nope"), arm64); err == nil {
		t.Error("missing Dockerfile accepted")
	}
}
