package report

import (
	"time"

	"github.com/polyarch/polyarch/imagetest/result"
)

// Report is what a release did: pipeline.Release fills it in, WriteJSON and
// WriteHTML render it.
type Report struct {
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration"`
	OK       bool          `json:"ok"`
	Units    []*Unit       `json:"units"`
}

// Unit is one image version: its targets and what became of its index.
type Unit struct {
	Name     string `json:"name"`
	Image    string `json:"image"`
	Version  string `json:"version"`
	IndexRef string `json:"index"`
	// Tags of the index; the first is IndexRef's.
	Tags      []string `json:"tags"`
	Status    Status   `json:"status"`
	Digest    string   `json:"digest,omitempty"`
	MediaType string   `json:"mediaType,omitempty"`
	// Reason says why the unit was not published, or what the check after
	// publishing found.
	Reason  string    `json:"reason,omitempty"`
	Targets []*Target `json:"targets"`
	// Resolved is what a host of each tested platform gets from the
	// published name.
	Resolved []Resolution `json:"resolved,omitempty"`
	// Signed is what signing did after publishing, with a sign: section.
	Signed *Signed `json:"signed,omitempty"`
}

// Signed is what signing a published index did: its signature and its
// children's signatures, SBOMs and provenance.
type Signed struct {
	// Format is where they went: "tag" or "referrers".
	Format string `json:"format"`
	// Platforms is how many children were signed.
	Platforms int `json:"platforms"`
	// Written counts the signatures and attestations written; 0 when all
	// were there already.
	Written int `json:"written"`
	// Evidence: each child got its SBOM and provenance.
	Evidence bool `json:"evidence"`
	// Duration is how long signing and attaching took.
	Duration time.Duration `json:"duration"`
}

// Target is one platform of a unit.
type Target struct {
	Platform string `json:"platform"`
	Optional bool   `json:"optional"`
	// LeftOut: an optional target that did not pass, published without.
	LeftOut     bool            `json:"leftOut,omitempty"`
	Ref         string          `json:"ref"`
	Node        string          `json:"node"`
	Native      bool            `json:"native"`
	Digest      string          `json:"digest,omitempty"`
	Size        int64           `json:"size,omitempty"`
	BuildTime   time.Duration   `json:"buildDuration"`
	TestTime    time.Duration   `json:"testDuration"`
	Status      Status          `json:"status"`
	Error       string          `json:"error,omitempty"`
	LogFile     string          `json:"log,omitempty"`
	Tests       []result.Result `json:"tests,omitempty"`
	TestsReused bool            `json:"testsReused,omitempty"`
	// CI is the CI run and job that tested it, when it ran in CI.
	CI *CIRun `json:"ci,omitempty"`
}

// Resolution is what a host of one platform gets when it pulls the
// published name (index.Resolution, as data).
type Resolution struct {
	Host string `json:"host"`
	// Found is false when the host gets nothing it can run.
	Found    bool   `json:"found"`
	Digest   string `json:"digest,omitempty"`
	Platform string `json:"platform,omitempty"`
	// Why explains the choice in a sentence.
	Why string `json:"why"`
}
