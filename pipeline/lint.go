package pipeline

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/polyarch/polyarch/lint"
	"github.com/polyarch/polyarch/platform"
)

// Lint checks each Dockerfile of the plan against the platforms it would
// build under emulation.
func Lint(plan *Plan, nodes Nodes) ([]lint.Finding, error) {
	emulated := map[string][]v1.Platform{}
	var order []string
	for _, u := range plan.Units {
		for _, t := range u.Targets {
			if _, native, err := nodes.Describe(t.Platform); native || err != nil {
				continue // not built, or not emulated
			}
			df := t.Job.Dockerfile
			if _, seen := emulated[df]; !seen {
				order = append(order, df)
			}
			if !platform.Contains(emulated[df], t.Platform) {
				emulated[df] = append(emulated[df], t.Platform)
			}
		}
	}
	var out []lint.Finding
	for _, df := range order {
		fs, err := lint.EmulatedCompiles(df, emulated[df])
		if err != nil {
			return nil, err
		}
		out = append(out, fs...)
	}
	return out, nil
}
