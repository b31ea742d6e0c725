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

// server is a registry under test: a name for the table and how to run it on
// a loopback address over a root directory.
type server struct {
	name string
	args func(addr, root string) []string
}

func polyarchServer(bin string) server {
	return server{name: "polyarch", args: func(addr, root string) []string {
		// --quiet: no line per request on stderr. distribution's own
		// logrus output is at warn level in both servers.
		return []string{bin, "registry", "serve", "--addr", addr, "--root", root, "--quiet"}
	}}
}

func plainServer(bin string) server {
	return server{name: "plain", args: func(addr, root string) []string {
		return []string{bin, "-addr", addr, "-root", root}
	}}
}

// running is a started server process.
type running struct {
	addr   string
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has exited
	log    string
}

// start runs s with its root in dir/root and its output in dir/server.log,
// and returns once it answers GET /v2/.
func (s server) start(ctx context.Context, dir string) (*running, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "server.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()

	args := s.args(addr, filepath.Join(dir, "root"))
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = serverProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", s.name, err)
	}
	r := &running{addr: addr, cmd: cmd, exited: make(chan struct{}), log: logPath}
	go func() { cmd.Wait(); close(r.exited) }()

	if err := r.waitReady(ctx, 10*time.Second); err != nil {
		r.stop()
		return nil, fmt.Errorf("%s on %s: %w\n%s", s.name, addr, err, r.logTail())
	}
	return r, nil
}

func (r *running) waitReady(ctx context.Context, limit time.Duration) error {
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

// stop asks the server to shut down (SIGTERM, as a service manager would),
// killing it if it has not exited within 15 seconds. Stopping a stopped
// server does nothing.
func (r *running) stop() {
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(15 * time.Second):
		r.cmd.Process.Kill()
		<-r.exited
	}
}

// cpu is the user and system time the server used over its life; call it
// after stop.
func (r *running) cpu() time.Duration {
	return r.cmd.ProcessState.UserTime() + r.cmd.ProcessState.SystemTime()
}

// logTail is the end of the server's output, for error messages.
func (r *running) logTail() string {
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
