package pipeline

import (
	"os"
	"strings"

	"github.com/polyarch/polyarch/report"
)

// CIRun names the CI run and job a test record came from, so a merge job's
// report can say which runner built and tested each platform. It is read
// from the variables the CI systems set in every job:
//
//	GitHub Actions  GITHUB_RUN_ID, GITHUB_RUN_ATTEMPT, GITHUB_JOB, GITHUB_REPOSITORY, GITHUB_SERVER_URL
//	GitLab CI       CI_PIPELINE_ID, CI_JOB_ID, CI_JOB_NAME, CI_JOB_URL
//	Jenkins         BUILD_NUMBER, JOB_NAME, BUILD_URL
type CIRun = report.CIRun

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
