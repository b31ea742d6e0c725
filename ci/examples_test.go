package ci_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/polyarch/polyarch/ci"
	"github.com/polyarch/polyarch/config"
	"github.com/polyarch/polyarch/internal/testutil"
)

// TestExamplesPipelinesAreCurrent keeps the pipelines committed under each
// example what its polyarch.yaml generates, and checks each with
// actionlint, ci check and jenkins-jobs.
func TestExamplesPipelinesAreCurrent(t *testing.T) {
	configs, _ := filepath.Glob(filepath.Join(testutil.RepoRoot(), "examples", "*", "polyarch.yaml"))
	withCI, withJenkins := 0, 0
	for _, p := range configs {
		name := filepath.Base(filepath.Dir(p))
		t.Run(name, func(t *testing.T) {
			cfg, err := config.Load(p)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.CI == nil {
				// The three examples modelled on real projects show their CI;
				// another example may have none, and then has nothing to keep current.
				if slices.Contains([]string{"agent", "validation", "builder"}, name) {
					t.Fatalf("%s has no ci: section", p)
				}
				t.Logf("%s has no ci: section: no pipelines to check", p)
				return
			}
			withCI++
			gh, err := ci.GitHub(cfg, ci.Options{ConfigPath: "polyarch.yaml"})
			if err != nil {
				t.Fatal(err)
			}
			current(t, filepath.Join(filepath.Dir(p), ".github", "workflows", "polyarch.yml"), gh, "github", name)
			if fs, err := ci.Check("polyarch.yml", gh); err != nil || len(fs) > 0 {
				t.Errorf("ci check: %v %v", fs, err)
			}
			actionlint(t, gh)
			if cfg.CI.Jenkins == nil {
				return
			}
			withJenkins++
			jj, err := ci.Jenkins(cfg, ci.Options{ConfigPath: "polyarch.yaml"})
			if err != nil {
				t.Fatal(err)
			}
			current(t, filepath.Join(filepath.Dir(p), "jenkins", "polyarch.yaml"), jj, "jenkins", name)
			jobs := renderJenkins(t, jj)
			if want := len(cfg.CI.Placements(cfg.Images)) + 2; len(jobs) != want {
				t.Errorf("jenkins-jobs rendered %d jobs (%v), want %d", len(jobs), keys(jobs), want)
			}
			shellcheckJenkins(t, jobs)
		})
	}
	if withCI != 3 || withJenkins != 1 {
		t.Errorf("%d examples with ci:, %d with Jenkins jobs; want the three, one with Jenkins (Akraino's validation)", withCI, withJenkins)
	}
}

func current(t *testing.T, path string, want []byte, kind, example string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("%s is not what examples/%s/polyarch.yaml generates (%v): run polyarch ci generate %s -f examples/%s/polyarch.yaml", path, example, err, kind, example)
	}
}
