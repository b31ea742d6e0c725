package pipeline_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/polyarch/polyarch/config"
	"github.com/polyarch/polyarch/imagetest"
	"github.com/polyarch/polyarch/internal/testutil"
	"github.com/polyarch/polyarch/pipeline"
	"github.com/polyarch/polyarch/platform"
)

// builderConfig is a project whose image builder has versions 2.3 and 2.4
// for linux/amd64 and linux/arm64, named by the default archRef
// (<registry>/builder:<version>-<arch>), and whose test checks an env var.
func builderConfig(t *testing.T, host string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("GIT_CEILING_DIRECTORIES", filepath.Dir(dir))
	yaml := `registry: ` + host + `
images:
  - name: builder
    context: .
    platforms: [linux/amd64, linux/arm64]
    versions:
      - version: "2.3"
      - version: "2.4"
    test:
      metadata:
        env: {BUILDER_VERSION: "2.4"}
  - name: agent
    context: .
    platforms: [linux/amd64]
`
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "polyarch.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// pushArch pushes a linux image of arch at ref and returns its digest.
func pushArch(t *testing.T, ref, arch string) string {
	t.Helper()
	return testutil.Push(t, ref, testutil.Image(t, "linux", arch, "", types.OCIManifestSchema1)).String()
}

// jobRefs lists "platform ref" of each job, in order.
func jobRefs(jobs []imagetest.Job) []string {
	var out []string
	for _, j := range jobs {
		out = append(out, platform.Format(j.Target.Platform)+" "+j.Target.Ref)
	}
	return out
}

func TestTestJobsOfSelectors(t *testing.T) {
	reg := testutil.NewRegistry(t)
	cfg := builderConfig(t, reg.Host)
	amd := pushArch(t, reg.Host+"/builder:2.4-amd64", "amd64")
	arm := pushArch(t, reg.Host+"/builder:2.4-arm64", "arm64")
	agent := pushArch(t, reg.Host+"/agent:latest-amd64", "amd64")
	repo := reg.Host + "/builder@"

	tests := []struct {
		name string
		args []string
		only []v1.Platform
		want []string
	}{
		{"one version", []string{"builder@2.4"}, nil, []string{"linux/amd64 " + repo + amd, "linux/arm64 " + repo + arm}},
		{"one version, one platform", []string{"builder@2.4"}, []v1.Platform{{OS: "linux", Architecture: "arm64"}}, []string{"linux/arm64 " + repo + arm}},
		{"two images", []string{"agent", "builder@2.4"}, nil, []string{"linux/amd64 " + reg.Host + "/agent@" + agent, "linux/amd64 " + repo + amd, "linux/arm64 " + repo + arm}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			jobs, err := pipeline.TestJobs(context.Background(), cfg, tc.args, pipeline.TestOptions{Platforms: tc.only})
			if err != nil {
				t.Fatal(err)
			}
			if got := jobRefs(jobs); !slices.Equal(got, tc.want) {
				t.Errorf("jobs\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			for _, j := range jobs {
				if strings.Contains(j.Target.Ref, "/builder@") && (j.Spec.Metadata == nil || j.Spec.Metadata.Env["BUILDER_VERSION"] != "2.4") {
					t.Errorf("%s is tested with %+v, not builder's test: spec", j.Target.Ref, j.Spec)
				}
			}
		})
	}
}

// Every per-arch image that was never pushed is named at once, with the
// command that builds it.
func TestTestJobsNameEveryMissingImage(t *testing.T) {
	reg := testutil.NewRegistry(t)
	cfg := builderConfig(t, reg.Host)
	pushArch(t, reg.Host+"/builder:2.4-amd64", "amd64")
	pushArch(t, reg.Host+"/builder:2.4-arm64", "arm64")

	_, err := pipeline.TestJobs(context.Background(), cfg, []string{"builder"}, pipeline.TestOptions{})
	if err == nil {
		t.Fatal("builder 2.3 was never built, yet TestJobs found images to test")
	}
	for _, want := range []string{reg.Host + "/builder:2.3-amd64", reg.Host + "/builder:2.3-arm64", "polyarch build builder@2.3"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "2.4-") {
		t.Errorf("error names 2.4's images, which are there:\n%v", err)
	}
}

func TestTestJobsOfAReference(t *testing.T) {
	reg := testutil.NewRegistry(t)
	cfg := builderConfig(t, reg.Host)
	ref := reg.Host + "/org/tool:1"
	d := pushArch(t, ref, "s390x")
	spec := &imagetest.Spec{Files: []imagetest.FileTest{{Path: "/bin/sh"}}}

	for _, c := range []struct {
		name string
		cfg  *config.Config
	}{{"without polyarch.yaml", nil}, {"beside a polyarch.yaml", cfg}} {
		t.Run(c.name, func(t *testing.T) {
			jobs, err := pipeline.TestJobs(context.Background(), c.cfg, []string{ref}, pipeline.TestOptions{Spec: spec})
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"linux/s390x " + reg.Host + "/org/tool@" + d}
			if got := jobRefs(jobs); !slices.Equal(got, want) {
				t.Fatalf("jobs %v, want %v", got, want)
			}
			if jobs[0].Spec != spec {
				t.Errorf("the reference is tested with %+v, not the spec given", jobs[0].Spec)
			}
		})
	}
}

func TestTestJobsRefuse(t *testing.T) {
	reg := testutil.NewRegistry(t)
	cfg := builderConfig(t, reg.Host)
	spec := &imagetest.Spec{}
	tests := []struct {
		name    string
		cfg     *config.Config
		args    []string
		spec    *imagetest.Spec
		is      error // the sentinel the error wraps, nil for none of them
		mention []string
	}{
		{"nothing without polyarch.yaml", nil, nil, nil, pipeline.ErrTestArgs, []string{"no polyarch.yaml"}},
		{"two references", nil, []string{reg.Host + "/a:1", reg.Host + "/b:1"}, nil, pipeline.ErrTestArgs, []string{reg.Host + "/a:1", "one image reference"}},
		{"a selector and something else", cfg, []string{"builder@2.4", "nope"}, nil, pipeline.ErrTestArgs, []string{`no image "nope"`, "builder, agent"}},
		{"a spec for images of polyarch.yaml", cfg, []string{"builder@2.4"}, spec, pipeline.ErrSpecForConfig, []string{"builder@2.4", cfg.File}},
		{"a spec for every image of polyarch.yaml", cfg, nil, spec, pipeline.ErrSpecForConfig, []string{cfg.File}},
		{"a reference that does not parse", nil, []string{"Not A Ref"}, nil, pipeline.ErrTestArgs, []string{"Not A Ref"}},
		{"an unknown version", cfg, []string{"builder@9.9"}, nil, nil, []string{`no version "9.9"`, "2.3, 2.4"}},
		{"a reference not pushed, beside polyarch.yaml", cfg, []string{reg.Host + "/nope:1"}, nil, nil, []string{reg.Host + "/nope:1", "not an image of " + cfg.File}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pipeline.TestJobs(context.Background(), tc.cfg, tc.args, pipeline.TestOptions{Spec: tc.spec})
			if err == nil {
				t.Fatal("no error")
			}
			for _, s := range []error{pipeline.ErrTestArgs, pipeline.ErrSpecForConfig} {
				if errors.Is(err, s) != (s == tc.is) {
					t.Errorf("errors.Is(err, %q) = %v:\n%v", s, errors.Is(err, s), err)
				}
			}
			for _, m := range tc.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error does not name %q:\n%v", m, err)
				}
			}
		})
	}
}
