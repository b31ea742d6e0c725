package harness

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

// Command is the command line of a registry server that listens on addr
// (host:port) and stores its data under root; element 0 is the binary.
type Command func(addr, root string) []string

// PolyarchRegistry is `polyarch registry serve` run from bin. --quiet: no
// line per request on stderr; distribution's own logrus output stays at
// warn level.
func PolyarchRegistry(bin string) Command {
	return func(addr, root string) []string {
		return []string{bin, "registry", "serve", "--addr", addr, "--root", root, "--quiet"}
	}
}

// Server is a registry server running as a child process on 127.0.0.1.
type Server struct {
	Addr   string // host:port it serves on
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has exited
	log    string
}

// StartPolyarch starts `polyarch registry serve` (see Start) with its
// output in dir/registry.log.
func StartPolyarch(ctx context.Context, polyarch, dir string) (*Server, error) {
	return Start(ctx, "registry", dir, PolyarchRegistry(polyarch))
}

// Start runs cmd on a free loopback port with its root in dir/root and its
// output in dir/NAME.log, and returns once it answers GET /v2/ with 200.
// name says which server it is in errors. If the server does not come up
// within 10 seconds, it is stopped and the error ends with its output.
func Start(ctx context.Context, name, dir string, cmd Command) (*Server, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()

	args := cmd(addr, filepath.Join(dir, "root"))
	c := exec.Command(args[0], args[1:]...)
	c.Stdout, c.Stderr = logFile, logFile
	c.SysProcAttr = ChildProcAttr()
	if err := c.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", args[0], err)
	}
	s := &Server{Addr: addr, cmd: c, exited: make(chan struct{}), log: logPath}
	go func() { c.Wait(); close(s.exited) }()

	if err := s.waitReady(ctx, 10*time.Second); err != nil {
		s.Stop()
		return nil, fmt.Errorf("%s on %s: %w\n%s", name, addr, err, LogTail(logPath))
	}
	return s, nil
}

// waitReady polls GET /v2/ every 20ms until it answers 200, the process
// exits, ctx ends or limit has passed.
func (s *Server) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.Addr+"/v2/", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("exited before serving (%s)", s.cmd.ProcessState)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not serving /v2/ after %s", limit)
		}
	}
}

// Stop asks the server to shut down (SIGTERM, as a service manager would),
// killing it if it has not exited within 15 seconds. Stopping a stopped
// server does nothing, so callers can both defer Stop and call it early.
func (s *Server) Stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

// CPU is the user and system time the server used over its whole life;
// call it after Stop.
func (s *Server) CPU() time.Duration {
	return s.cmd.ProcessState.UserTime() + s.cmd.ProcessState.SystemTime()
}

// CPUSoFar is the user and system time the running server has used so far
// (see ProcCPU); -1 where there is no /proc.
func (s *Server) CPUSoFar() time.Duration {
	return ProcCPU(s.cmd.Process.Pid)
}

// LogTail is the last 2000 bytes of the file at path, for error messages.
func LogTail(path string) string {
	b, _ := os.ReadFile(path)
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
