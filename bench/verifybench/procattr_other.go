//go:build !linux

package main

import "syscall"

func serverProcAttr() *syscall.SysProcAttr { return nil }
