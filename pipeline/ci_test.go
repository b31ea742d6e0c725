package pipeline

import (
	"testing"
)

func TestCIFrom(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want *CIRun
		line string
	}{
		{name: "outside CI", env: map[string]string{"HOME": "/root"}},
		{
			name: "github actions",
			env: map[string]string{"GITHUB_RUN_ID": "7012345", "GITHUB_RUN_ATTEMPT": "2", "GITHUB_JOB": "build-arm64",
				"GITHUB_REPOSITORY": "antrea-io/antrea", "GITHUB_SERVER_URL": "https://github.com"},
			want: &CIRun{System: "github-actions", Run: "7012345", Attempt: "2", Job: "build-arm64", Repository: "antrea-io/antrea",
				URL: "https://github.com/antrea-io/antrea/actions/runs/7012345/attempts/2"},
			line: "github-actions run 7012345 (attempt 2) job build-arm64",
		},
		{
			name: "gitlab ci",
			env:  map[string]string{"GITLAB_CI": "true", "CI_PIPELINE_ID": "991", "CI_JOB_ID": "4410", "CI_JOB_NAME": "build:arm64", "CI_JOB_URL": "https://gitlab.example/p/-/jobs/4410"},
			want: &CIRun{System: "gitlab-ci", Run: "991", Job: "build:arm64", JobID: "4410", URL: "https://gitlab.example/p/-/jobs/4410"},
			line: "gitlab-ci run 991 job build:arm64 #4410",
		},
		{
			name: "jenkins",
			env:  map[string]string{"JENKINS_URL": "https://ci.example/", "BUILD_NUMBER": "118", "JOB_NAME": "validation-arm64", "BUILD_URL": "https://ci.example/job/validation-arm64/118/"},
			want: &CIRun{System: "jenkins", Run: "118", Job: "validation-arm64", URL: "https://ci.example/job/validation-arm64/118/"},
			line: "jenkins run 118 job validation-arm64",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := CIFrom(func(k string) string { return tc.env[k] })
			if (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
				t.Fatalf("CIFrom = %+v, want %+v", got, tc.want)
			}
			if got.String() != tc.line {
				t.Errorf("String() = %q, want %q", got.String(), tc.line)
			}
		})
	}
}
