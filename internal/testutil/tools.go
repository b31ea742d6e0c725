package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// RepoRoot is the repository's top directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// E2E reports whether end-to-end tests must run: scripts/test.sh sets
// POLYARCH_E2E=1 after installing every tool they need, so there a missing
// tool fails the test instead of skipping it.
func E2E() bool { return os.Getenv("POLYARCH_E2E") == "1" }

// Tool finds an external program in the repository's bin/ (where
// scripts/test.sh installs it) or on PATH. Without it the test fails when
// E2E() is true and is skipped, saying what to run, otherwise.
func Tool(t testing.TB, name string) string {
	t.Helper()
	if p := filepath.Join(RepoRoot(), "bin", name); isExecutable(p) {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if E2E() {
		t.Fatalf("%s not found in bin/ or on PATH: scripts/test.sh installs it", name)
	}
	t.Skipf("%s not installed; run scripts/test.sh to install it and run the end-to-end tests", name)
	return ""
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}
