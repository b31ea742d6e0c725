package drift_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/polyarch/polyarch/drift"
)

// istioLike is modelled on Istio's build-tools Dockerfile: tool versions
// in ARGs and ENVs, a Go toolchain image, go install, pinned packages.
const istioLike = `# syntax=docker/dockerfile:1
ARG GOLANG_IMAGE=golang:1.17.5
FROM ${GOLANG_IMAGE} AS binary_tools_context
ENV GO_BINDATA_VERSION=v3.1.2 \
    GOGO_PROTOBUF_VERSION="v1.3.2" \
    # a comment inside the continuation
    HELM3_VERSION=v3.7.1
ENV KIND_VERSION v0.11.1
RUN go install -ldflags="-extldflags -static -s -w" sigs.k8s.io/kind@${KIND_VERSION} && \
    go install github.com/golangci/golangci-lint/cmd/golangci-lint@v1.43.0
FROM ubuntu:focal AS base
ARG BAZEL_VERSION=5.1.1
RUN apt-get update && apt-get -y install --no-install-recommends gcc-9=9.4.0-1ubuntu1~20.04 make \
    && pip3 install --no-cache-dir yamllint==1.26.3 'jwcrypto==1.0' \
    && npm install -g markdownlint-cli@0.23.2 @scope/tool@2.0.1 latest-thing@latest
FROM base
COPY --from=binary_tools_context /go/bin /usr/local/bin
FROM scratch
ARG VERSION=1
ARG PATH_VERSION=$GOLANG_VERSION
`

func TestDockerfileReadsToolVersions(t *testing.T) {
	src := []byte(istioLike)
	tools, err := drift.Dockerfile("Dockerfile", src)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"golang 1.17.5 ARG GOLANG_IMAGE :2",
		"go-bindata v3.1.2 ENV GO_BINDATA_VERSION :4",
		"gogo-protobuf v1.3.2 ENV GOGO_PROTOBUF_VERSION :5",
		"helm3 v3.7.1 ENV HELM3_VERSION :7",
		"kind v0.11.1 ENV KIND_VERSION :8",
		"golangci-lint v1.43.0 go install github.com/golangci/golangci-lint/cmd/golangci-lint :10",
		"ubuntu focal FROM ubuntu :11",
		"bazel 5.1.1 ARG BAZEL_VERSION :12",
		"gcc-9 9.4.0-1ubuntu1~20.04 apt gcc-9 :13",
		"yamllint 1.26.3 pip yamllint :14",
		"jwcrypto 1.0 pip jwcrypto :14",
		"markdownlint-cli 0.23.2 npm markdownlint-cli :15",
		"@scope/tool 2.0.1 npm @scope/tool :15",
	}
	var got []string
	for _, tl := range tools {
		got = append(got, fmt.Sprintf("%s %s %s %s :%d", tl.Name, tl.Version, tl.Kind, tl.Key, tl.Line))
		// Offset and Len locate the version's text, for rewriting it.
		if s := string(src[tl.Offset : tl.Offset+tl.Len]); s != tl.Version {
			t.Errorf("%s: the bytes at its offset are %q, not %q", tl.Name, s, tl.Version)
		}
		if tl.File != "Dockerfile" {
			t.Errorf("%s: file %q", tl.Name, tl.File)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("tools:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestDockerfileErrorNamesTheFile(t *testing.T) {
	_, err := drift.Dockerfile("up/Dockerfile", []byte("FROM a\nRUN <<EOF\nunterminated"))
	if err == nil {
		// BuildKit's parser accepts an unterminated heredoc; an empty file it does not.
		_, err = drift.Dockerfile("up/Dockerfile", []byte(""))
	}
	if err == nil || !strings.Contains(err.Error(), "up/Dockerfile") {
		t.Errorf("error %v does not name up/Dockerfile", err)
	}
}

func TestVersionFile(t *testing.T) {
	for _, tc := range []struct {
		name, file, tool, src string
		want                  string
	}{
		{"bazel", ".bazelversion", "", "5.1.1\n", "bazel 5.1.1 :1"},
		{"a comment first", ".bazelversion", "", "# pinned by proxy\n\n  6.0.0  \n", "bazel 6.0.0 :3"},
		{"go", "ci/.go-version", "", "1.19\n", "go 1.19 :1"},
		{"named by the config", "VERSION", "envoy", "1.24.0", "envoy 1.24.0 :1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tl, err := drift.VersionFile("repo@ref:"+tc.file, tc.file, tc.tool, []byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprintf("%s %s :%d", tl.Name, tl.Version, tl.Line); got != tc.want {
				t.Errorf("read %q, want %q", got, tc.want)
			}
			if s := tc.src[tl.Offset : tl.Offset+tl.Len]; s != tl.Version {
				t.Errorf("offset names %q", s)
			}
		})
	}
	if _, err := drift.VersionFile("x/.bazelversion", ".bazelversion", "", []byte("# nothing\n")); err == nil || !strings.Contains(err.Error(), "x/.bazelversion: no version") {
		t.Errorf("an empty version file: %v", err)
	}
}

func TestCompare(t *testing.T) {
	ours, _ := drift.Dockerfile("ours", []byte("FROM golang:1.17.5 AS go\nARG BAZEL_VERSION=5.1.1\nARG OURS_ONLY_VERSION=1\nFROM scratch\nARG BAZEL_VERSION=5.1.1\nENV KIND_VERSION=0.11.1\nENV GOLANG_VERSION=1.17\n"))
	theirs, _ := drift.Dockerfile("theirs", []byte("FROM scratch\nENV GO_VERSION=1.18.2\nENV BAZEL_VERSION=6.0.0\nENV KIND_VERSION=v0.11.1\nENV UPSTREAM_ONLY_VERSION=2\n"))
	// The alias makes golang (FROM golang and ENV GOLANG_VERSION) go: our
	// two settings of it, at two versions, are two rows.
	rows := drift.Compare(ours, theirs, drift.NewAliases(map[string]string{"GOLANG_VERSION": "go"}))
	var got []string
	for _, r := range rows {
		s := r.Tool + " " + string(r.Status)
		if r.Ours != nil {
			s += " ours=" + r.Ours.Version + "@" + r.Ours.At()
		}
		if r.Upstream != nil {
			s += " upstream=" + r.Upstream.Version + "@" + r.Upstream.At()
		}
		s += fmt.Sprintf(" also=%d", len(r.Also))
		got = append(got, s)
	}
	want := []string{
		"bazel differs ours=5.1.1@ours:2 upstream=6.0.0@theirs:3 also=1",
		"go differs ours=1.17.5@ours:1 upstream=1.18.2@theirs:2 also=0",
		"go differs ours=1.17@ours:7 upstream=1.18.2@theirs:2 also=0",
		"kind same ours=0.11.1@ours:6 upstream=v0.11.1@theirs:4 also=0",
		"ours-only only ours ours=1@ours:3 also=0",
		"upstream-only only upstream upstream=2@theirs:5 also=0",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for s, drifts := range map[drift.Status]bool{drift.Same: false, drift.OnlyOurs: false, drift.Differs: true, drift.OnlyUpstream: true} {
		if s.Drift() != drifts {
			t.Errorf("%s.Drift() = %v", s, !drifts)
		}
	}
}

func TestFollowKeepsOurSpelling(t *testing.T) {
	for _, tc := range [][3]string{
		{"1.17.5", "v1.18.0", "1.18.0"},
		{"v0.11.1", "0.12.0", "v0.12.0"},
		{"v1", "v2", "v2"},
		{"focal", "jammy", "jammy"},
		{"focal", "v2", "v2"},
	} {
		if got := drift.Follow(tc[0], tc[1]); got != tc[2] {
			t.Errorf("Follow(%q, %q) = %q, want %q", tc[0], tc[1], got, tc[2])
		}
	}
}
