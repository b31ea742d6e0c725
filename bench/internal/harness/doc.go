// Package harness is what the benchmark programs in bench/ share around
// their own measuring: registry servers run as child processes on loopback,
// the kernel told to kill every child if the benchmark dies, CPU time read
// from /proc, and the plumbing of a run (signals, the load average,
// medians, the JSON results file).
//
// A benchmark's main hands its run function to Run, starts each registry
// under test with Start (or StartPolyarch), measures, and stops it:
//
//	func main() {
//		flag.Parse()
//		harness.Run("examplebench", func(ctx context.Context) error {
//			reg, err := harness.StartPolyarch(ctx, "bin/polyarch", workDir)
//			if err != nil {
//				return err
//			}
//			defer reg.Stop()
//			// ... talk to reg.Addr, timing what the benchmark is about ...
//			return harness.WriteJSON(jsonPath, results)
//		})
//	}
//
// Children that are not registries (the tools under test) get the same
// protection from death of the parent through ChildProcAttr.
package harness
