package main

import "syscall"

// childProcAttr makes the kernel kill a registry or tool if indexbench
// dies without stopping it (SIGKILL, a crash), so nothing outlives the run.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
