package main

import (
	"fmt"
	"io"
	"time"

	"github.com/polyarch/polyarch/bench/internal/harness"
)

// overheadGoal is the highest polyarch/buildctl wall-time ratio that counts
// as "no slower than BuildKit alone".
const overheadGoal = 1.05

// report is everything a run measured, as printed and as written to JSON.
type report struct {
	Started    time.Time          `json:"started"`
	CPUs       int                `json:"cpus"`
	Polyarch   string             `json:"polyarch"`
	BuildKit   string             `json:"buildkit"` // buildctl's and buildkitd's version
	Base       string             `json:"base_image"`
	Platforms  []string           `json:"platforms"`
	Loop       int                `json:"run_loop_iterations"`
	PayloadKiB int                `json:"run_payload_kib"`
	Rounds     int                `json:"rounds"`
	Samples    []sample           `json:"samples"`
	Medians    map[string]medians `json:"medians"` // by variant name
	// Overhead is polyarch/buildctl wall time, one after another ("seq")
	// and all at once ("par").
	Overhead  map[string]ratio `json:"overhead"`
	Parallel  map[string]ratio `json:"parallel_over_sequential"` // by tool
	Goal      float64          `json:"goal"`
	LoadStart float64          `json:"load_average_start"` // 1-minute load average, -1 if unknown
	LoadEnd   float64          `json:"load_average_end"`
}

// medians are one variant's medians over the counted rounds.
type medians struct {
	Seconds    float64 `json:"seconds"`
	BuilderCPU float64 `json:"builder_cpu_seconds"`
	ClientCPU  float64 `json:"client_cpu_seconds"`
}

// ratio of two variants' wall times: of their medians, and the median over
// rounds of the ratio within each round (turns next to each other in time
// see nearly the same machine). Builder CPU is the same for its medians.
type ratio struct {
	Medians    float64 `json:"of_medians"`
	PerRound   float64 `json:"median_per_round"`
	BuilderCPU float64 `json:"builder_cpu_of_medians"`
}

func (r *report) summarise() {
	r.Medians = map[string]medians{}
	for _, v := range variants {
		var secs, bcpu, ccpu []float64
		for _, s := range r.Samples {
			if s.Variant == v.name() {
				secs, bcpu, ccpu = append(secs, s.Seconds), append(bcpu, s.BuilderCPU), append(ccpu, s.ClientCPU)
			}
		}
		r.Medians[v.name()] = medians{Seconds: harness.Median(secs), BuilderCPU: harness.Median(bcpu), ClientCPU: harness.Median(ccpu)}
	}
	r.Overhead = map[string]ratio{
		"seq": r.ratio(variant{"polyarch", false}, variant{"buildctl", false}),
		"par": r.ratio(variant{"polyarch", true}, variant{"buildctl", true}),
	}
	r.Parallel = map[string]ratio{
		"polyarch": r.ratio(variant{"polyarch", true}, variant{"polyarch", false}),
		"buildctl": r.ratio(variant{"buildctl", true}, variant{"buildctl", false}),
	}
}

func (r *report) ratio(a, b variant) ratio {
	byRound := map[int]map[string]float64{}
	for _, s := range r.Samples {
		if byRound[s.Round] == nil {
			byRound[s.Round] = map[string]float64{}
		}
		byRound[s.Round][s.Variant] = s.Seconds
	}
	var per []float64
	for _, turns := range byRound {
		per = append(per, turns[a.name()]/turns[b.name()])
	}
	ma, mb := r.Medians[a.name()], r.Medians[b.name()]
	return ratio{Medians: ma.Seconds / mb.Seconds, PerRound: harness.Median(per), BuilderCPU: ma.BuilderCPU / mb.BuilderCPU}
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "\nmedians of %d rounds: %d platforms (linux/amd64 native, the others under QEMU), each FROM busybox, a RUN that always runs, a push\n",
		r.Rounds, len(r.Platforms))
	fmt.Fprintf(w, "%-26s %8s %15s %14s\n", "variant", "wall s", "builder CPU s", "client CPU s")
	for _, v := range variants {
		m := r.Medians[v.name()]
		fmt.Fprintf(w, "%-26s %8.2f %15.2f %14.2f\n", v.name(), m.Seconds, m.BuilderCPU, m.ClientCPU)
	}
	fmt.Fprintln(w)
	for _, row := range []struct {
		label string
		x     ratio
	}{
		{"polyarch/buildctl, one at a time", r.Overhead["seq"]},
		{"polyarch/buildctl, 5 at once", r.Overhead["par"]},
		{"5 at once / one at a time, polyarch", r.Parallel["polyarch"]},
		{"5 at once / one at a time, buildctl", r.Parallel["buildctl"]},
	} {
		fmt.Fprintf(w, "%-36s wall %.2f (ratio of the medians), %.2f (median of the per-round ratios); builder CPU %.2f\n",
			row.label, row.x.Medians, row.x.PerRound, row.x.BuilderCPU)
	}
	// The builds keep both CPUs busy; a load well above 2 plus the number of
	// builds at once means other work competed with them.
	fmt.Fprintf(w, "load average %.1f at start, %.1f at end, on %d CPUs\n", r.LoadStart, r.LoadEnd, r.CPUs)
	verdict := "met"
	if r.Overhead["seq"].Medians > r.Goal || r.Overhead["par"].Medians > r.Goal {
		verdict = "NOT met"
	}
	fmt.Fprintf(w, "goal: polyarch/buildctl wall time (of the medians) <= %.2f, one at a time (it is %.3f) and 5 at once (%.3f): %s\n",
		r.Goal, r.Overhead["seq"].Medians, r.Overhead["par"].Medians, verdict)
}
