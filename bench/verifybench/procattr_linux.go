package main

import "syscall"

// serverProcAttr makes the kernel kill the registry if verifybench dies
// without stopping it, so no registry outlives the run.
func serverProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
