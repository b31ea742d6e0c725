package main

import (
	"fmt"
	"io"
	"time"

	"github.com/polyarch/polyarch/bench/internal/harness"
)

// report is everything one run measured, as printed and as JSON.
type report struct {
	Started   time.Time `json:"started"`
	CPUs      int       `json:"cpus"`
	Polyarch  string    `json:"polyarch"`
	BuildKit  string    `json:"buildkit"`
	Platforms []string  `json:"platforms"`
	Rounds    int       `json:"rounds"`
	LoadStart float64   `json:"loadStart"`
	LoadEnd   float64   `json:"loadEnd"`
	Goals     goals     `json:"goals"`
	Samples   []sample  `json:"samples"`
	// Seconds is each variant's median wall time.
	Seconds map[string]float64 `json:"seconds"`
	Ratios  []ratio            `json:"ratios"`
	// SameDigests: the rebuild from the cache pushed the cold build's digests.
	SameDigests bool `json:"sameDigests"`
	Met         bool `json:"met"`
}

type goals struct {
	Rebuild  float64 `json:"rebuild"`
	Cross    float64 `json:"cross"`
	Overhead float64 `json:"overhead"`
}

// ratio is a / b, against a goal (0: for information).
type ratio struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Goal  float64 `json:"goal,omitempty"`
	Met   bool    `json:"met"`
}

func (r *report) median(v variant) float64 {
	var xs []float64
	for _, s := range r.Samples {
		if s.v == v {
			xs = append(xs, s.Seconds)
		}
	}
	return harness.Median(xs)
}

// last is the variant's last sample.
func (r *report) last(v variant) sample {
	var out sample
	for _, s := range r.Samples {
		if s.v == v {
			out = s
		}
	}
	return out
}

func (r *report) summarise() {
	r.Seconds = map[string]float64{}
	for v := polyarchCross; v <= polyarchEmulated; v++ {
		r.Seconds[v.String()] = r.median(v)
	}
	add := func(name string, a, b, goal float64) {
		x := ratio{Name: name, Value: a / b, Goal: goal}
		x.Met = goal == 0 || x.Value <= goal
		r.Ratios = append(r.Ratios, x)
	}
	cold, rebuild := r.median(polyarchCross), r.median(polyarchRebuild)
	add("rebuild on a fresh node from the registry cache / cold build", rebuild, cold, rebuildGoal)
	add("cross-compiled / compiled under emulation", cold, r.median(polyarchEmulated), crossGoal)
	add("polyarch / buildctl, cold cross build", cold, r.median(buildctlCross), overheadGoal)
	add("polyarch / buildctl, rebuild from the cache", rebuild, r.median(buildctlRebuild), 0)
	r.SameDigests = true
	c, w := r.last(polyarchCross), r.last(polyarchRebuild)
	for _, p := range platforms {
		if c.Platforms[p.platform].Digest == "" || c.Platforms[p.platform].Digest != w.Platforms[p.platform].Digest {
			r.SameDigests = false
		}
	}
	r.Met = r.SameDigests
	for _, x := range r.Ratios {
		r.Met = r.Met && x.Met
	}
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "\nper platform, wall seconds of its build (the last of %d cold cross rounds; the emulated build; polyarch's rebuild)\n", r.Rounds)
	fmt.Fprintf(w, "%-12s %12s %12s %12s\n", "platform", "cross", "emulated", "rebuild")
	c, e, rb := r.last(polyarchCross), r.last(polyarchEmulated), r.last(polyarchRebuild)
	for _, p := range platforms {
		fmt.Fprintf(w, "%-12s %11.1fs %11.1fs %11.1fs\n", p.platform, c.Platforms[p.platform].Seconds, e.Platforms[p.platform].Seconds, rb.Platforms[p.platform].Seconds)
	}
	fmt.Fprintf(w, "\nall %d platforms at once, wall seconds (medians)\n", len(platforms))
	for v := polyarchCross; v <= polyarchEmulated; v++ {
		fmt.Fprintf(w, "  %-50s %8.1fs\n", v, r.Seconds[v.String()])
	}
	fmt.Fprintln(w, "\nratios")
	for _, x := range r.Ratios {
		verdict := "(for information)"
		if x.Goal > 0 {
			verdict = fmt.Sprintf("goal <= %.2f: %s", x.Goal, okOrMissed(x.Met))
		}
		fmt.Fprintf(w, "  %-62s %5.2f   %s\n", x.Name, x.Value, verdict)
	}
	fmt.Fprintf(w, "  %-62s %5v   %s\n", "the rebuild pushed the cold build's digests", r.SameDigests, okOrMissed(r.SameDigests))
	fmt.Fprintf(w, "\nload average %.1f at the start, %.1f at the end (on %d CPUs)\n", r.LoadStart, r.LoadEnd, r.CPUs)
}

func okOrMissed(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISSED"
}
