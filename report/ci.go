package report

// CIRun names the CI run and job that tested a platform, so that a merge
// job's report can say which runner built and tested it (pipeline.CIFrom
// reads it from the CI's environment).
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
