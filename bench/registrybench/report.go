package main

import (
	"fmt"
	"io"
	"time"

	"github.com/polyarch/polyarch/bench/internal/harness"
)

// throughputGoal is the lowest polyarch/plain ratio of push and pull MB/s
// that counts as "no slower than distribution alone" on a noisy machine.
const throughputGoal = 0.95

// sample is one server's turn in one round.
type sample struct {
	Server      string  `json:"server"`
	Round       int     `json:"round"`
	PushSeconds float64 `json:"push_seconds"`
	PullSeconds float64 `json:"pull_seconds"`
	GetSeconds  float64 `json:"manifest_get_seconds"`
	metrics
}

// metrics are the numbers compared: one turn's, a server's medians, or the
// ratio of the candidate's to the baseline's.
type metrics struct {
	PushMBps   float64 `json:"push_mb_per_s"`
	PullMBps   float64 `json:"pull_mb_per_s"`
	GetsPerSec float64 `json:"manifest_gets_per_s"`
	// ServerCPU is the server's user+system seconds for the whole turn:
	// how much work it did, less sensitive to a busy machine than the
	// wall-clock rates. Lower is better.
	ServerCPU float64 `json:"server_cpu_seconds"`
}

func (m metrics) values() []float64 {
	return []float64{m.PushMBps, m.PullMBps, m.GetsPerSec, m.ServerCPU}
}

func metricsOf(v []float64) metrics { return metrics{v[0], v[1], v[2], v[3]} }

func (m metrics) over(b metrics) metrics {
	mv, bv := m.values(), b.values()
	for i := range mv {
		mv[i] /= bv[i]
	}
	return metricsOf(mv)
}

// report is everything a run measured, as printed and as written to JSON.
type report struct {
	Started    time.Time          `json:"started"`
	CPUs       int                `json:"cpus"`
	Crane      string             `json:"crane"`
	Image      image              `json:"image"`
	Rounds     int                `json:"rounds"`
	Gets       int                `json:"manifest_gets"`
	Workers    int                `json:"manifest_workers"`
	Samples    []sample           `json:"samples"`
	Candidate  string             `json:"candidate"`
	Baseline   string             `json:"baseline"`
	Medians    map[string]metrics `json:"medians"`
	Ratio      metrics            `json:"ratio"`       // candidate median / baseline median
	RoundRatio metrics            `json:"round_ratio"` // median over rounds of candidate / baseline
	Goal       float64            `json:"throughput_goal"`
	LoadStart  float64            `json:"load_average_start"` // 1-minute load average, -1 if unknown
	LoadEnd    float64            `json:"load_average_end"`
}

// summarise fills in the medians and both kinds of candidate/baseline ratio.
func (r *report) summarise(candidate, baseline string) {
	r.Candidate, r.Baseline = candidate, baseline
	r.Medians = map[string]metrics{}
	byRound := map[int]map[string]metrics{}
	for _, name := range []string{candidate, baseline} {
		var ms []metrics
		for _, s := range r.Samples {
			if s.Server == name {
				ms = append(ms, s.metrics)
				if byRound[s.Round] == nil {
					byRound[s.Round] = map[string]metrics{}
				}
				byRound[s.Round][name] = s.metrics
			}
		}
		r.Medians[name] = medians(ms)
	}
	r.Ratio = r.Medians[candidate].over(r.Medians[baseline])
	var ratios []metrics
	for _, turns := range byRound {
		ratios = append(ratios, turns[candidate].over(turns[baseline]))
	}
	r.RoundRatio = medians(ratios)
}

func (r *report) printTable(w io.Writer) {
	fmt.Fprintf(w, "\nmedians of %d rounds (MB = 10^6 bytes)\n", r.Rounds)
	fmt.Fprintf(w, "%-16s %10s %10s %15s %13s\n", "server", "push MB/s", "pull MB/s", "manifest GET/s", "server CPU s")
	for _, name := range []string{r.Candidate, r.Baseline} {
		m := r.Medians[name]
		fmt.Fprintf(w, "%-16s %10.1f %10.1f %15.0f %13.2f\n", name, m.PushMBps, m.PullMBps, m.GetsPerSec, m.ServerCPU)
	}
	for _, row := range []struct {
		label, what string
		m           metrics
	}{
		{r.Candidate + "/" + r.Baseline, "ratio of the medians", r.Ratio},
		{"", "median of the per-round ratios", r.RoundRatio},
	} {
		fmt.Fprintf(w, "%-16s %10.2f %10.2f %15.2f %13.2f   %s\n", row.label, row.m.PushMBps, row.m.PullMBps, row.m.GetsPerSec, row.m.ServerCPU, row.what)
	}
	// The run itself keeps about two threads busy; a load well above that
	// means other work competed with the servers.
	fmt.Fprintf(w, "load average %.1f at start, %.1f at end, on %d CPUs\n", r.LoadStart, r.LoadEnd, r.CPUs)
	verdict := "met"
	if r.Ratio.PushMBps < r.Goal || r.Ratio.PullMBps < r.Goal {
		verdict = "NOT met"
	}
	fmt.Fprintf(w, "goal: %s/%s push and pull ratios (of the medians) >= %.2f: %s\n", r.Candidate, r.Baseline, r.Goal, verdict)
}

// medians is the median of each metric.
func medians(ms []metrics) metrics {
	cols := make([][]float64, len(metrics{}.values()))
	for _, m := range ms {
		for i, v := range m.values() {
			cols[i] = append(cols[i], v)
		}
	}
	out := make([]float64, len(cols))
	for i, c := range cols {
		out[i] = harness.Median(c)
	}
	return metricsOf(out)
}
