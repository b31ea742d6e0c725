package main

import "syscall"

// childProcAttr makes the kernel kill a registry, polyarch or buildctl if
// buildbench dies without stopping it (SIGKILL, a crash). buildkitd is not
// buildbench's child (polyarch starts it in its own session), so
// bench/build.sh's EXIT trap stops it.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
