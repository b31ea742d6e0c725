package report

import "fmt"

// Status is where a target (one platform) or a unit (one image version)
// ended up. The zero value is NotRun. In JSON it is its String.
type Status uint8

const (
	// NotRun: a target that was not built, or whose tests did not start.
	NotRun Status = iota
	// Passed: a target built and passed its tests.
	Passed
	// BuildFailed: a target whose build failed.
	BuildFailed
	// TestsFailed: a target built whose tests failed or could not run.
	TestsFailed
	// Published: a unit whose index was written.
	Published
	// Unchanged: a unit whose index already was what it would have written.
	Unchanged
	// NotPublished: a unit left as it was, because a required target did
	// not pass or the write failed.
	NotPublished
	// Waiting: a unit whose index waits for platforms other runners build
	// (a release split across CI runners); nothing was written.
	Waiting
	// Superseded: a unit left as it was because the index or a platform is
	// of a newer commit than this run's.
	Superseded
)

var statusNames = [...]string{
	NotRun: "not run", Passed: "passed", BuildFailed: "build failed", TestsFailed: "tests failed",
	Published: "published", Unchanged: "unchanged", NotPublished: "not published",
	Waiting: "waiting", Superseded: "superseded",
}

// String is the status as reports say it: "tests failed".
func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("status %d", uint8(s))
}

// Passed reports a target that built and passed its tests.
func (s Status) Passed() bool { return s == Passed }

// Published reports a unit whose index is what it should be: written now,
// or already there.
func (s Status) Published() bool { return s == Published || s == Unchanged }

// Failed reports a build, tests or publish that failed.
func (s Status) Failed() bool { return s == BuildFailed || s == TestsFailed || s == NotPublished }

// MarshalText makes a status its String in JSON.
func (s Status) MarshalText() ([]byte, error) {
	if int(s) >= len(statusNames) {
		return nil, fmt.Errorf("no such status: %d", uint8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText reads what MarshalText wrote.
func (s *Status) UnmarshalText(b []byte) error {
	for i, n := range statusNames {
		if n == string(b) {
			*s = Status(i)
			return nil
		}
	}
	return fmt.Errorf("no such status: %q", b)
}
