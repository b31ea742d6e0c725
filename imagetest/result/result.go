// Package result is the outcome of image tests as plain data: what
// imagetest's runner produces, what test records keep in the registry, and
// what reports render, without the machinery (BuildKit, gRPC) that ran them.
package result

import "time"

// Kinds of test.
const (
	KindArch     = "arch"
	KindCommand  = "command"
	KindFile     = "file"
	KindMetadata = "metadata"
	KindJob      = "job"
)

// Result is the outcome of one test on one platform.
type Result struct {
	Platform string        `json:"platform"`
	Image    string        `json:"image"`
	Kind     string        `json:"kind"`
	Name     string        `json:"name"`
	Passed   bool          `json:"passed"`
	Skipped  bool          `json:"skipped,omitempty"`
	Message  string        `json:"message,omitempty"`
	Duration time.Duration `json:"duration"`
	// Log is the file that keeps a job's whole output.
	Log string `json:"log,omitempty"`
}

// Failed reports a test that ran and did not pass.
func (r Result) Failed() bool { return !r.Passed && !r.Skipped }

// Summary counts results.
type Summary struct{ Passed, Failed, Skipped int }

// Summarize counts results.
func Summarize(rs []Result) Summary {
	var s Summary
	for _, r := range rs {
		switch {
		case r.Skipped:
			s.Skipped++
		case r.Passed:
			s.Passed++
		default:
			s.Failed++
		}
	}
	return s
}
