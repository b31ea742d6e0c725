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
	"strings"
	"syscall"
	"time"
)

// registry is a `polyarch registry serve` process on a loopback port, the
// registry every tool talks to.
type registry struct {
	addr   string
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has exited
	log    string
}

// startRegistry runs polyarch's registry over dir/root, logging to
// dir/registry.log, and returns once it answers GET /v2/.
func startRegistry(ctx context.Context, polyarch, dir string) (*registry, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "registry.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(polyarch, "registry", "serve", "--addr", addr, "--root", filepath.Join(dir, "root"), "--quiet")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", polyarch, err)
	}
	r := &registry{addr: addr, cmd: cmd, exited: make(chan struct{}), log: logPath}
	go func() { cmd.Wait(); close(r.exited) }()
	if err := r.waitReady(ctx, 10*time.Second); err != nil {
		r.stop()
		return nil, fmt.Errorf("registry on %s: %w\n%s", addr, err, r.logTail())
	}
	return r, nil
}

func (r *registry) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+r.addr+"/v2/", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-r.exited:
			return fmt.Errorf("exited before serving (%s)", r.cmd.ProcessState)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not serving /v2/ after %s", limit)
		}
	}
}

// stop asks the registry to shut down (SIGTERM), killing it if it has not
// exited within 15 seconds. Stopping a stopped registry does nothing.
func (r *registry) stop() {
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(15 * time.Second):
		r.cmd.Process.Kill()
		<-r.exited
	}
}

// cpu is the user and system time the registry used over its life; call
// it after stop.
func (r *registry) cpu() time.Duration {
	return r.cmd.ProcessState.UserTime() + r.cmd.ProcessState.SystemTime()
}

// cpuSoFar is the user and system time the running registry has used, read
// from /proc; -1 where there is no /proc.
func (r *registry) cpuSoFar() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", r.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	// Fields after the command name (which may hold spaces) start at
	// field 3; utime and stime are fields 14 and 15, in USER_HZ (100/s).
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	var utime, stime int64
	if len(f) < 13 {
		return -1
	}
	fmt.Sscan(f[11], &utime)
	fmt.Sscan(f[12], &stime)
	return time.Duration(utime+stime) * (time.Second / 100)
}

// logTail is the end of the registry's output, for error messages.
func (r *registry) logTail() string {
	b, _ := os.ReadFile(r.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(bytes.TrimSpace(b))
}

// freeLoopbackAddr asks the kernel for an unused port on 127.0.0.1. Another
// process could take it before the server binds; on a bench machine it won't.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
