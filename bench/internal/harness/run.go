package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
)

// Run calls run with a context that SIGINT and SIGTERM cancel, so the
// benchmark's deferred stops still run when it is interrupted. If run
// fails, Run prints "prog: error" on stderr and exits with status 1.
func Run(prog string, run func(context.Context) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, prog+":", err)
		os.Exit(1)
	}
}

// RoundLabel names a round in the per-turn lines: round 0 is the untimed
// warm-up, the others "round r/rounds".
func RoundLabel(round, rounds int) string {
	if round == 0 {
		return "warm-up"
	}
	return fmt.Sprintf("round %d/%d", round, rounds)
}

// LoadAverage is the 1-minute load average, or -1 where /proc has none.
// A load far above what the run itself causes means other work competed.
func LoadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	var l float64
	if _, err := fmt.Sscan(string(b), &l); err != nil {
		return -1
	}
	return l
}

// WriteJSON writes v, indented, to path, creating its directory.
func WriteJSON(path string, v any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// SaveResults writes v as JSON to path (nothing when path is empty, the
// -json flag left out) and says where.
func SaveResults(path string, v any) error {
	if path == "" {
		return nil
	}
	if err := WriteJSON(path, v); err != nil {
		return err
	}
	fmt.Println("results written to", path)
	return nil
}

// AbsPaths makes each path absolute in place: the benchmarks run tools in
// other directories (a project, a clone) with paths given relative to here.
func AbsPaths(paths ...*string) error {
	for _, p := range paths {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	return nil
}
