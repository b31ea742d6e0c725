package main

import "syscall"

// serverProcAttr makes the kernel kill a server if registrybench dies
// without stopping it (SIGKILL, a crash), so no registry outlives the run.
func serverProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
