package pipeline

import (
	"os"
	"strings"
)

// CIRun names the CI run and job a test record came from, so a merge job's
// report can say which runner built and tested each platform. It is read
// from the variables the CI systems set in every job:
//
//	GitHub Actions  GITHUB_RUN_ID, GITHUB_RUN_ATTEMPT, GITHUB_JOB, GITHUB_REPOSITORY, GITHUB_SERVER_URL
//	GitLab CI       CI_PIPELINE_ID, CI_JOB_ID, CI_JOB_NAME, CI_JOB_URL
//	Jenkins         BUILD_NUMBER, JOB_NAME, BUILD_URL
type CIRun struct {
	// System is "github-actions", "gitlab-ci" or "jenkins".
	System string `json:"system"`
	// Run is the run (GitHub), pipeline (GitLab) or build number (Jenkins).
	Run string `json:"run,omitempty"`
	// Attempt is GitHub's re-run attempt of Run.
	Attempt string `json:"attempt,omitempty"`
	// Job names the job within the run.
	Job string `json:"job,omitempty"`
	// JobID is GitLab's job id.
	JobID string `json:"jobId,omitempty"`
	// Repository is GitHub's owner/name.
	Repository string `json:"repository,omitempty"`
	// URL is a link to the run or job.
	URL string `json:"url,omitempty"`
}

// String is one line for reports: "github-actions run 42 (attempt 2) job build-arm64".
func (c *CIRun) String() string {
	if c == nil {
		return ""
	}
	s := c.System
	if c.Run != "" {
		s += " run " + c.Run
	}
	if c.Attempt != "" && c.Attempt != "1" {
		s += " (attempt " + c.Attempt + ")"
	}
	if c.Job != "" {
		s += " job " + c.Job
	}
	if c.JobID != "" {
		s += " #" + c.JobID
	}
	return s
}

// CIFromEnv reads the CI run from the process environment; nil outside CI.
func CIFromEnv() *CIRun { return CIFrom(os.Getenv) }

// CIFrom reads the CI run from getenv; nil when no known CI set its variables.
func CIFrom(getenv func(string) string) *CIRun {
	switch {
	case getenv("GITHUB_RUN_ID") != "":
		c := &CIRun{System: "github-actions", Run: getenv("GITHUB_RUN_ID"), Attempt: getenv("GITHUB_RUN_ATTEMPT"),
			Job: getenv("GITHUB_JOB"), Repository: getenv("GITHUB_REPOSITORY")}
		if server := strings.TrimSuffix(getenv("GITHUB_SERVER_URL"), "/"); server != "" && c.Repository != "" {
			c.URL = server + "/" + c.Repository + "/actions/runs/" + c.Run
			if c.Attempt != "" {
				c.URL += "/attempts/" + c.Attempt
			}
		}
		return c
	case getenv("CI_PIPELINE_ID") != "" || getenv("GITLAB_CI") != "":
		return &CIRun{System: "gitlab-ci", Run: getenv("CI_PIPELINE_ID"), Job: getenv("CI_JOB_NAME"), JobID: getenv("CI_JOB_ID"), URL: getenv("CI_JOB_URL")}
	case getenv("BUILD_URL") != "" || getenv("JENKINS_URL") != "":
		return &CIRun{System: "jenkins", Run: getenv("BUILD_NUMBER"), Job: getenv("JOB_NAME"), URL: getenv("BUILD_URL")}
	}
	return nil
}
