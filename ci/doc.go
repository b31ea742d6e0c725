// Package ci writes the CI pipelines of a polyarch.yaml's ci: section and
// audits GitHub Actions workflows.
//
// Generating: GitHub renders a workflow (.github/workflows/polyarch.yml),
// Jenkins renders Jenkins Job Builder YAML (jenkins/polyarch.yaml); both
// take a loaded *config.Config and give the same bytes for the same config,
// and Sync writes them, or with check reports a stale file as an
// *OutOfDateError:
//
//	cfg, err := config.Load("polyarch.yaml")
//	b, err := ci.GitHub(cfg, ci.Options{})
//	_, err = ci.Sync(ci.GitHubPath, b, false)
//
// Every platform gets a job on its runner (config.CI.Placements: hosted,
// self-hosted or emulated) running `polyarch release --platform P` with its
// own builder state, and a last job runs `polyarch publish --require-publish`. Jobs on
// self-hosted runners run only on trusted events; pull requests build on
// GitHub-hosted runners, pushing to a registry inside the job.
//
// Auditing: Check reads one workflow and returns a Finding per mistake
// (Rule: self-hosted-untrusted, pr-target-checkout, secrets-in-pull-request,
// permissions, unpinned-action), each with its file:line:column, job and
// fix. Which events can run a job is read from its if: by a small
// evaluator of GitHub's expression language that knows github.event_name
// and treats everything else as unknown, so a condition it cannot decide
// counts as one that can run the job.
package ci
