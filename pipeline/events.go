package pipeline

// Stages of a release.
const (
	StageBuild   = "build"
	StageTest    = "test"
	StagePublish = "publish"
	StageCheck   = "check"
)

// States of a step.
const (
	StateRunning = "running"
	StateDone    = "done"
	StateFailed  = "failed"
)

// Event is one step of a release, for a live view: a unit and platform
// (either may be empty), what happened, and the line to print for it.
type Event struct {
	Unit     string
	Platform string
	Stage    string
	State    string
	// Status is the unit's status once published (published, unchanged).
	Status Status
	Text   string
}
