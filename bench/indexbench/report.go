package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/polyarch/polyarch/bench/internal/harness"
)

// report is everything a run measured, as printed and as written to JSON.
type report struct {
	Started   time.Time         `json:"started"`
	CPUs      int               `json:"cpus"`
	Versions  map[string]string `json:"versions"`
	Publish   *publishResult    `json:"publish,omitempty"`  // (a) and (c)
	Copy      *copyResult       `json:"copy,omitempty"`     // (b)
	LoadStart float64           `json:"load_average_start"` // 1-minute load average, -1 if unknown
	LoadEnd   float64           `json:"load_average_end"`
}

// summary is one tool's medians over the counted rounds.
type summary struct {
	Seconds float64 `json:"seconds"`
	CPU     float64 `json:"tool_cpu_seconds"`
	MBps    float64 `json:"mb_per_s,omitempty"`
	SrcCPU  float64 `json:"source_registry_cpu_seconds,omitempty"`
	DstCPU  float64 `json:"destination_registry_cpu_seconds,omitempty"`
}

// rounds maps round -> tool -> seconds, for per-round ratios.
type rounds map[int]map[string]float64

func (r rounds) add(round int, tool string, secs float64) {
	if r[round] == nil {
		r[round] = map[string]float64{}
	}
	r[round][tool] = secs
}

// ratio is polyarch's time over a peer's: of the two medians, and the
// median over rounds of the two turns' ratio (turns next to each other in
// time see nearly the same machine).
type ratio struct {
	Peer     string  `json:"peer"`
	Medians  float64 `json:"of_medians"`
	PerRound float64 `json:"median_per_round"`
}

func ratios(rs rounds, med map[string]float64, peers []string) []ratio {
	var out []ratio
	for _, p := range peers {
		var per []float64
		for _, turns := range rs {
			per = append(per, turns["polyarch"]/turns[p])
		}
		out = append(out, ratio{Peer: p, Medians: med["polyarch"] / med[p], PerRound: harness.Median(per)})
	}
	return out
}

// fastest is the peer with the lowest median time.
func fastest(med map[string]float64, peers []string) string {
	best := peers[0]
	for _, p := range peers[1:] {
		if med[p] < med[best] {
			best = p
		}
	}
	return best
}

func (r *publishResult) summarise() {
	r.Medians = map[string]summary{}
	for _, t := range r.Tools {
		var pub, pubCPU, re, reCPU []float64
		for _, s := range r.Samples {
			if s.Tool == t {
				pub, pubCPU = append(pub, s.PublishSeconds), append(pubCPU, s.PublishCPU)
				re, reCPU = append(re, s.RepublishSeconds), append(reCPU, s.RepublishCPU)
			}
		}
		r.Medians["publish/"+t] = summary{Seconds: harness.Median(pub), CPU: harness.Median(pubCPU)}
		r.Medians["republish/"+t] = summary{Seconds: harness.Median(re), CPU: harness.Median(reCPU)}
	}
}

func (r *copyResult) summarise() {
	r.Medians = map[string]summary{}
	for _, t := range r.Tools {
		var secs, mbps, cpu, src, dst []float64
		for _, s := range r.Samples {
			if s.Tool == t {
				secs, mbps, cpu = append(secs, s.Seconds), append(mbps, s.MBps), append(cpu, s.ToolCPU)
				src, dst = append(src, s.SrcCPU), append(dst, s.DstCPU)
			}
		}
		r.Medians[t] = summary{Seconds: harness.Median(secs), MBps: harness.Median(mbps), CPU: harness.Median(cpu), SrcCPU: harness.Median(src), DstCPU: harness.Median(dst)}
	}
}

func (r *report) print(w io.Writer) {
	if p := r.Publish; p != nil {
		p.print(w, "publish", fmt.Sprintf("(a) publish a %d-platform index from arch-named repositories, medians of %d rounds", p.Platforms, p.Rounds))
		p.print(w, "republish", fmt.Sprintf("(c) no-op republish (the same command again), medians of %d rounds", p.Rounds))
	}
	if c := r.Copy; c != nil {
		c.print(w)
	}
	// The run itself keeps up to two threads busy; a load well above that
	// means other work competed with it.
	fmt.Fprintf(w, "\nload average %.1f at start, %.1f at end, on %d CPUs\n", r.LoadStart, r.LoadEnd, r.CPUs)
}

// print writes the table of one step: "publish" or "republish".
func (r *publishResult) print(w io.Writer, step, title string) {
	med, rs := map[string]float64{}, rounds{}
	for _, t := range r.Tools {
		med[t] = r.Medians[step+"/"+t].Seconds
	}
	for _, s := range r.Samples {
		secs := s.PublishSeconds
		if step == "republish" {
			secs = s.RepublishSeconds
		}
		rs.add(s.Round, s.Tool, secs)
	}
	peers := r.Tools[1:]
	best := fastest(med, peers)
	cnts := r.Publish
	if step == "republish" {
		cnts = r.Republish
	}

	fmt.Fprintf(w, "\n%s (requests and bytes: the counting pass, through the proxy; MB = 10^6 bytes)\n", title)
	fmt.Fprintf(w, "%-10s %8s %10s %8s %9s %11s %13s   %s\n", "tool", "wall s", "/fastest", "CPU s", "requests", "blob MB up", "blob MB down", "requests by method")
	for _, t := range r.Tools {
		m, c := r.Medians[step+"/"+t], cnts[t]
		fmt.Fprintf(w, "%-10s %8.3f %10.2f %8.3f %9d %11.2f %13.2f   %s\n", t, m.Seconds, m.Seconds/med[best], m.CPU, c.Requests, harness.MB(c.BlobUp), harness.MB(c.BlobDown), byMethod(c))
	}
	printRatios(w, ratios(rs, med, peers))
	pa := cnts["polyarch"]
	switch step {
	case "publish":
		verdict := "met"
		if med["polyarch"]/med[best] > r.GoalRatio || pa.BlobUp > r.GoalBlobUp {
			verdict = "NOT met"
		}
		fmt.Fprintf(w, "goal: polyarch/fastest peer (%s) wall time <= %.2f (it is %.3f) and %d blob bytes moved (it moved %d): %s\n",
			best, r.GoalRatio, med["polyarch"]/med[best], r.GoalBlobUp, pa.BlobUp, verdict)
	case "republish":
		writes := pa.ByMethod["PUT"] + pa.ByMethod["POST"] + pa.ByMethod["PATCH"] + pa.ByMethod["DELETE"]
		fmt.Fprintf(w, "polyarch's republish: %d requests, %d of them writes; fastest peer %s (polyarch/%s %.2f)\n",
			pa.Requests, writes, best, best, med["polyarch"]/med[best])
	}
}

func (r *copyResult) print(w io.Writer) {
	med, rs := map[string]float64{}, rounds{}
	for _, t := range r.Tools {
		med[t] = r.Medians[t].Seconds
	}
	for _, s := range r.Samples {
		rs.add(s.Round, s.Tool, s.Seconds)
	}
	peers := r.Tools[1:]
	best := fastest(med, peers)
	sha := (r.SHA256[0] + r.SHA256[1]) / 2

	fmt.Fprintf(w, "\n(b) cold copy between two registries, %.0f MB in %d blobs, destination roots in %s, medians of %d rounds (requests and bytes: the counting pass)\n", harness.MB(r.BlobBytes), r.Blobs, r.DestDir, r.Rounds)
	fmt.Fprintf(w, "%-10s %8s %8s %8s %10s %10s %10s %10s %9s %11s %13s   %s\n",
		"tool", "wall s", "MB/s", "of SHA", "/fastest", "tool CPU", "src CPU", "dst CPU", "requests", "blob MB up", "blob MB down", "requests by method")
	for _, t := range r.Tools {
		m, c := r.Medians[t], r.Counts[t]
		fmt.Fprintf(w, "%-10s %8.3f %8.1f %8.2f %10.2f %10.2f %10.2f %10.2f %9d %11.1f %13.1f   %s\n",
			t, m.Seconds, m.MBps, m.MBps/sha, m.Seconds/med[best], m.CPU, m.SrcCPU, m.DstCPU, c.Requests, harness.MB(c.BlobUp), harness.MB(c.BlobDown), byMethod(c))
	}
	printRatios(w, ratios(rs, med, peers))
	fmt.Fprintf(w, "SHA-256 on one core (Go crypto/sha256): %.0f MB/s at start, %.0f at end; \"of SHA\" is MB/s over their mean\n", r.SHA256[0], r.SHA256[1])
	verdict := "met"
	if med["polyarch"]/med[best] > r.GoalRatio {
		verdict = "NOT met"
	}
	fmt.Fprintf(w, "goal: polyarch/fastest peer (%s) wall time <= %.2f (it is %.3f): %s\n", best, r.GoalRatio, med["polyarch"]/med[best], verdict)
}

func printRatios(w io.Writer, rs []ratio) {
	for _, x := range rs {
		fmt.Fprintf(w, "polyarch/%-8s wall time %.2f (ratio of the medians), %.2f (median of the per-round ratios)\n", x.Peer, x.Medians, x.PerRound)
	}
}

// byMethod is "GET 10, HEAD 4, ...", the usual methods first.
func byMethod(c counts) string {
	order := map[string]int{"GET": 0, "HEAD": 1, "POST": 2, "PATCH": 3, "PUT": 4, "DELETE": 5}
	var ms []string
	for m := range c.ByMethod {
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool {
		oi, iok := order[ms[i]]
		oj, jok := order[ms[j]]
		if iok != jok {
			return iok
		}
		if oi != oj {
			return oi < oj
		}
		return ms[i] < ms[j]
	})
	var parts []string
	for _, m := range ms {
		parts = append(parts, fmt.Sprintf("%s %d", m, c.ByMethod[m]))
	}
	return strings.Join(parts, ", ")
}
