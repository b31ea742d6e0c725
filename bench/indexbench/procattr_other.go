//go:build !linux

package main

import "syscall"

// childProcAttr: only Linux can tie a child's life to its parent's; elsewhere
// registries are stopped by indexbench itself, on exit and on SIGINT/SIGTERM.
func childProcAttr() *syscall.SysProcAttr { return nil }
