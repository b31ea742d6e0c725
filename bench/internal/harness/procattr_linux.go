package harness

import "syscall"

// ChildProcAttr makes the kernel kill a child (a registry, a tool under
// test) if the benchmark dies without stopping it (SIGKILL, a crash), so
// nothing it started outlives the run. Set it as exec.Cmd.SysProcAttr.
// Processes a child starts in a session of its own (buildkitd) are not
// covered: the benchmark's shell script stops those.
func ChildProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
