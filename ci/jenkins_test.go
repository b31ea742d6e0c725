package ci_test

import (
	"bytes"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/polyarch/polyarch/ci"
	"github.com/polyarch/polyarch/internal/testutil"
)

// akraino is Akraino's validation job: daily, polled on master, amd64 and
// arm64 agents.
const akraino = `
registry: 127.0.0.1:5000
images:
  - name: validation
    repository: akraino/validation
    context: .
    platforms: [linux/amd64, linux/arm64]
ci:
  runners:
    linux/amd64: {agent: ubuntu1804-docker-8c-8g}
    linux/arm64: {selfHosted: [ARM64], agent: ubuntu1804-docker-aarch64-4c-16g}
  triggers:
    push: [master]
    schedule: "H 3 * * *"
  install: {version: v0.5.0, action: ` + setupAction + `}
  registry: docker.io
  credentials:
    - {username: DOCKERHUB_USERNAME, password: DOCKERHUB_TOKEN, jenkins: akraino-dockerhub}
  jenkins: {git: "https://gerrit.akraino.org/r/validation"}
`

// jenkinsJob is what the tests read of a job's config.xml.
type jenkinsJob struct {
	XMLName      xml.Name
	AssignedNode string `xml:"assignedNode"`
	Triggers     struct {
		Timer []struct {
			Spec string `xml:"spec"`
		} `xml:"hudson.triggers.TimerTrigger"`
		SCM []struct {
			Spec string `xml:"spec"`
		} `xml:"hudson.triggers.SCMTrigger"`
	} `xml:"triggers"`
	Branches []string `xml:"scm>branches>hudson.plugins.git.BranchSpec>name"`
	Builders struct {
		Phases []struct {
			Name      string `xml:"phaseName"`
			Condition string `xml:"continuationCondition"`
			Execution string `xml:"executionType"`
			Jobs      []struct {
				Name       string `xml:"jobName"`
				Parameters string `xml:"configs>hudson.plugins.parameterizedtrigger.PredefinedBuildParameters>properties"`
			} `xml:"phaseJobs>com.tikal.jenkins.plugins.multijob.PhaseJobsConfig"`
		} `xml:"com.tikal.jenkins.plugins.multijob.MultiJobBuilder"`
		Shells []string `xml:"hudson.tasks.Shell>command"`
	} `xml:"builders"`
	Bindings []string `xml:"buildWrappers>org.jenkinsci.plugins.credentialsbinding.impl.SecretBuildWrapper>bindings>org.jenkinsci.plugins.credentialsbinding.impl.UsernamePasswordMultiBinding>credentialsId"`
}

// renderJenkins renders Jenkins Job Builder YAML with jenkins-jobs test
// and reads every job's XML.
func renderJenkins(t *testing.T, b []byte) map[string]jenkinsJob {
	t.Helper()
	jj := testutil.Tool(t, "jenkins-jobs")
	dir := t.TempDir()
	src := filepath.Join(dir, "jobs.yaml")
	if err := os.WriteFile(src, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	cmd := exec.Command(jj, "--conf", os.DevNull, "test", "-o", out, src)
	cmd.Env = append(os.Environ(), "HOME="+dir) // jenkins-jobs keeps a cache under HOME
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("jenkins-jobs test: %v\n%s", err, o)
	}
	files, _ := filepath.Glob(filepath.Join(out, "*"))
	jobs := map[string]jenkinsJob{}
	for _, f := range files {
		x, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var j jenkinsJob
		if err := xml.Unmarshal(x, &j); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		jobs[filepath.Base(f)] = j
	}
	return jobs
}

func TestJenkinsJobsRender(t *testing.T) {
	cfg := project(t, akraino)
	b, err := ci.Jenkins(cfg, ci.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := ci.Jenkins(cfg, ci.Options{}); !bytes.Equal(b, again) {
		t.Error("generating twice gave different bytes")
	}
	jobs := renderJenkins(t, b)
	if got, want := keys(jobs), []string{"validation-polyarch", "validation-polyarch-linux-amd64", "validation-polyarch-linux-arm64", "validation-polyarch-publish"}; !slices.Equal(got, want) {
		t.Fatalf("jobs %v, want %v", got, want)
	}

	parent := jobs["validation-polyarch"]
	if parent.XMLName.Local != "com.tikal.jenkins.plugins.multijob.MultiJobProject" {
		t.Errorf("parent is a %s, want a multijob", parent.XMLName.Local)
	}
	if len(parent.Triggers.Timer) != 1 || parent.Triggers.Timer[0].Spec != "H 3 * * *" {
		t.Errorf("timer triggers %+v, want the daily schedule", parent.Triggers.Timer)
	}
	if len(parent.Triggers.SCM) != 1 || parent.Triggers.SCM[0].Spec != ci.DefaultPoll {
		t.Errorf("SCM triggers %+v", parent.Triggers.SCM)
	}
	if !slices.Equal(parent.Branches, []string{"*/master"}) {
		t.Errorf("parent builds %v", parent.Branches)
	}
	ph := parent.Builders.Phases
	if len(ph) != 2 || ph[0].Name != "release" || ph[1].Name != "publish" {
		t.Fatalf("phases %+v, want release then publish", ph)
	}
	if ph[0].Execution != "PARALLEL" || ph[0].Condition != "SUCCESSFUL" {
		t.Errorf("release phase runs %s, continues when %s", ph[0].Execution, ph[0].Condition)
	}
	var names []string
	for _, j := range ph[0].Jobs {
		names = append(names, j.Name)
		if j.Parameters != "POLYARCH_COMMIT=${GIT_COMMIT}" {
			t.Errorf("%s is started with %q, not the parent's commit", j.Name, j.Parameters)
		}
	}
	if !slices.Equal(names, []string{"validation-polyarch-linux-amd64", "validation-polyarch-linux-arm64"}) {
		t.Errorf("release phase runs %v", names)
	}
	if len(ph[1].Jobs) != 1 || ph[1].Jobs[0].Name != "validation-polyarch-publish" {
		t.Errorf("publish phase %+v", ph[1].Jobs)
	}

	for job, want := range map[string]struct{ node, command string }{
		"validation-polyarch-linux-amd64": {"ubuntu1804-docker-8c-8g", `polyarch release -f polyarch.yaml --platform linux/amd64 --builder-dir "$dir" --registry docker.io`},
		"validation-polyarch-linux-arm64": {"ubuntu1804-docker-aarch64-4c-16g", `polyarch release -f polyarch.yaml --platform linux/arm64 --builder-dir "$dir" --registry docker.io`},
		"validation-polyarch-publish":     {"ubuntu1804-docker-8c-8g", `polyarch publish -f polyarch.yaml --require-publish --registry docker.io`},
	} {
		j := jobs[job]
		if j.AssignedNode != want.node {
			t.Errorf("%s runs on %q, want %q", job, j.AssignedNode, want.node)
		}
		if len(j.Builders.Shells) != 1 || !strings.HasSuffix(j.Builders.Shells[0], want.command) {
			t.Errorf("%s runs %q, want it to end %q", job, j.Builders.Shells, want.command)
		}
		if !slices.Equal(j.Branches, []string{"${POLYARCH_COMMIT}"}) {
			t.Errorf("%s builds %v, not the parent's commit", job, j.Branches)
		}
		if !slices.Equal(j.Bindings, []string{"akraino-dockerhub"}) {
			t.Errorf("%s binds credentials %v", job, j.Bindings)
		}
	}
	shellcheckJenkins(t, jobs)
}

func TestJenkinsOptionalPlatformsLetPublishRun(t *testing.T) {
	src := strings.Replace(akraino, "platforms: [linux/amd64, linux/arm64]", "platforms: [linux/amd64, {platform: linux/arm64, optional: true}]", 1)
	b, err := ci.Jenkins(project(t, src), ci.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c := renderJenkins(t, b)["validation-polyarch"].Builders.Phases[0].Condition; c != "COMPLETED" {
		t.Errorf("release phase continues when %s: an optional platform's failure would stop the publish", c)
	}
}

func TestJenkinsNeedsItsSection(t *testing.T) {
	src := strings.Replace(akraino, `  jenkins: {git: "https://gerrit.akraino.org/r/validation"}`+"\n", "", 1)
	_, err := ci.Jenkins(project(t, src), ci.Options{})
	if err == nil || !strings.Contains(err.Error(), "ci.jenkins is missing") {
		t.Errorf("error %v", err)
	}
}

// shellcheckJenkins runs shellcheck over each job's shell step.
func shellcheckJenkins(t *testing.T, jobs map[string]jenkinsJob) {
	t.Helper()
	sc := testutil.Tool(t, "shellcheck")
	for name, j := range jobs {
		for _, s := range j.Builders.Shells {
			cmd := exec.Command(sc, "-s", "bash", "-")
			cmd.Stdin = strings.NewReader(s)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("shellcheck of %s: %v\n%s", name, err, out)
			}
		}
	}
}
