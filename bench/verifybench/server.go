package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// registry is a `polyarch registry serve` process on a loopback port.
type registry struct {
	addr   string
	cmd    *exec.Cmd
	exited chan struct{}
	log    string
}

// startRegistry runs polyarch's registry over dir/root, logging to
// dir/registry.log, and returns once it answers GET /v2/.
func startRegistry(ctx context.Context, polyarch, dir string) (*registry, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	logPath := filepath.Join(dir, "registry.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(polyarch, "registry", "serve", "--addr", addr, "--root", filepath.Join(dir, "root"), "--quiet")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = serverProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", polyarch, err)
	}
	r := &registry{addr: addr, cmd: cmd, exited: make(chan struct{}), log: logPath}
	go func() { cmd.Wait(); close(r.exited) }()

	deadline := time.Now().Add(10 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v2/", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return r, nil
			}
		}
		select {
		case <-r.exited:
			return nil, fmt.Errorf("registry exited before serving: %s", r.logTail())
		case <-ctx.Done():
			r.stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			r.stop()
			return nil, fmt.Errorf("registry not serving /v2/ on %s after 10s: %s", addr, r.logTail())
		}
	}
}

// stop sends SIGTERM, then kills the registry if it has not exited in 15s.
func (r *registry) stop() {
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(15 * time.Second):
		r.cmd.Process.Kill()
		<-r.exited
	}
}

func (r *registry) logTail() string {
	b, _ := os.ReadFile(r.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(bytes.TrimSpace(b))
}
