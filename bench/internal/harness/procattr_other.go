//go:build !linux

package harness

import "syscall"

// ChildProcAttr: only Linux can tie a child's life to its parent's;
// elsewhere a benchmark stops what it started itself, on return and on
// SIGINT/SIGTERM (see Run).
func ChildProcAttr() *syscall.SysProcAttr { return nil }
