package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/polyarch/polyarch/bench/internal/harness"
)

// The publish step's goal: under 10 requests per platform and under 1 s on
// loopback, for a merge job that writes the index.
const (
	goalRequestsPerPlatform = 10
	goalPublishSeconds      = time.Second
)

// sample is one variant's turn in one round.
type sample struct {
	Variant string `json:"variant"`
	Round   int    `json:"round"`
	// Seconds is the wall time: for the fan-out, from the start of the
	// three runners to the end of the merge job.
	Seconds float64 `json:"seconds"`
	// Runners are each runner's wall time (fan-out only).
	Runners  []float64 `json:"runners,omitempty"`
	Statuses []string  `json:"statuses"`
	// The merge job writing the index (its tags deleted), and again unchanged.
	PublishSeconds  float64        `json:"publishSeconds,omitempty"`
	PublishRequests int            `json:"publishRequests,omitempty"`
	PublishByMethod map[string]int `json:"publishByMethod,omitempty"`
	// The merge job's requests split: those of the index, and per platform
	// those naming a platform's repository or image.
	PublishPerIndex    int     `json:"publishPerIndex,omitempty"`
	PublishPerPlatform float64 `json:"publishPerPlatform,omitempty"`
	NoopSeconds        float64 `json:"noopSeconds,omitempty"`
	NoopRequests       int     `json:"noopRequests,omitempty"`
}

func (s sample) line(label string) string {
	if s.Variant == "single" {
		return fmt.Sprintf("%-11s %-8s wall %6.2fs", label, s.Variant, s.Seconds)
	}
	rs := make([]string, len(s.Runners))
	for i, r := range s.Runners {
		rs[i] = fmt.Sprintf("%.2fs", r)
	}
	return fmt.Sprintf("%-11s %-8s wall %6.2fs (runners %s; %s)   publish %.3fs %d requests (%d + %.1f per platform)   unchanged %.3fs %d requests",
		label, s.Variant, s.Seconds, strings.Join(rs, " "), strings.Join(s.Statuses, ", "), s.PublishSeconds, s.PublishRequests, s.PublishPerIndex, s.PublishPerPlatform, s.NoopSeconds, s.NoopRequests)
}

type report struct {
	Started   time.Time `json:"started"`
	CPUs      int       `json:"cpus"`
	Polyarch  string    `json:"polyarch"`
	Platforms []string  `json:"platforms"`
	Rounds    int       `json:"rounds"`
	LoadStart float64   `json:"loadStart"`
	LoadEnd   float64   `json:"loadEnd"`
	Samples   []sample  `json:"samples"`

	FanOutSeconds  float64 `json:"fanOutSeconds"`
	SingleSeconds  float64 `json:"singleSeconds"`
	Ratio          float64 `json:"fanOutOverSingle"`
	PublishSeconds float64 `json:"publishSeconds"`
	// PublishRequests is the median request count of a merge job writing
	// the index: PublishPerIndex for the index, plus PublishPerPlatform
	// for each platform (what one more platform adds).
	PublishRequests         float64 `json:"publishRequests"`
	PublishPerIndex         float64 `json:"publishPerIndex"`
	PublishPerPlatform      float64 `json:"publishPerPlatform"`
	NoopSeconds             float64 `json:"noopSeconds"`
	NoopRequests            float64 `json:"noopRequests"`
	GoalRequestsPerPlatform int     `json:"goalRequestsPerPlatform"`
	GoalPublishSeconds      float64 `json:"goalPublishSeconds"`
	GoalMet                 bool    `json:"goalMet"`
}

func (r *report) summarise() {
	var fan, single, pub, preq, pidx, pplat, noop, nreq []float64
	for _, s := range r.Samples {
		switch s.Variant {
		case "fan-out":
			fan = append(fan, s.Seconds)
			pub = append(pub, s.PublishSeconds)
			preq = append(preq, float64(s.PublishRequests))
			pidx = append(pidx, float64(s.PublishPerIndex))
			pplat = append(pplat, s.PublishPerPlatform)
			noop = append(noop, s.NoopSeconds)
			nreq = append(nreq, float64(s.NoopRequests))
		case "single":
			single = append(single, s.Seconds)
		}
	}
	r.FanOutSeconds, r.SingleSeconds = harness.Median(fan), harness.Median(single)
	if r.SingleSeconds > 0 {
		r.Ratio = r.FanOutSeconds / r.SingleSeconds
	}
	r.PublishSeconds, r.PublishRequests = harness.Median(pub), harness.Median(preq)
	r.NoopSeconds, r.NoopRequests = harness.Median(noop), harness.Median(nreq)
	r.PublishPerIndex, r.PublishPerPlatform = harness.Median(pidx), harness.Median(pplat)
	r.GoalMet = r.PublishPerPlatform < float64(r.GoalRequestsPerPlatform) && r.PublishSeconds < r.GoalPublishSeconds
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "\nmedians over %d rounds (load average %.1f at the start, %.1f at the end):\n", r.Rounds, r.LoadStart, r.LoadEnd)
	fmt.Fprintf(w, "  three runners at once + merge job   %6.2fs\n", r.FanOutSeconds)
	fmt.Fprintf(w, "  one release of every platform       %6.2fs\n", r.SingleSeconds)
	fmt.Fprintf(w, "  fan-out / single                    %6.2f\n", r.Ratio)
	fmt.Fprintf(w, "  publish step (merge job writing the index): %.3fs, %.0f requests: %.0f for the index + %.1f per platform (%.1f per platform all told)\n",
		r.PublishSeconds, r.PublishRequests, r.PublishPerIndex, r.PublishPerPlatform, r.PublishRequests/float64(len(r.Platforms)))
	fmt.Fprintf(w, "  publish step, unchanged:                    %.3fs, %.0f requests\n", r.NoopSeconds, r.NoopRequests)
	verdict := "met"
	if !r.GoalMet {
		verdict = "MISSED"
	}
	fmt.Fprintf(w, "  goal: each platform adds under %d requests, and the publish step takes under %.0fs: %s\n", r.GoalRequestsPerPlatform, r.GoalPublishSeconds, verdict)
}
