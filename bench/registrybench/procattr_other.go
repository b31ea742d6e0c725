//go:build !linux

package main

import "syscall"

// serverProcAttr: only Linux can tie a child's life to its parent's; elsewhere
// servers are stopped by registrybench itself, on exit and on SIGINT/SIGTERM.
func serverProcAttr() *syscall.SysProcAttr { return nil }
