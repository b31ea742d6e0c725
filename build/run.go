package build

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/polyarch/polyarch/platform"
)

// Assignment is a job and the node that will build it.
type Assignment struct {
	Job    Job
	Node   Node
	Native bool
}

// RunOptions says where logs go.
type RunOptions struct {
	// LogDir keeps one log file per build; required.
	LogDir string
	// Console, when set, receives every build's progress as plain lines
	// prefixed with the job's name.
	Console io.Writer
	// OnStart and OnDone, when set, are called as each build starts and ends
	// (from the build's goroutine), with its index in the assignments.
	OnStart func(i int, a Assignment)
	OnDone  func(i int, r Result)
}

// Run builds every assignment, in parallel up to each node's capacity. A
// failed build does not stop the others; results are in assignment order.
func Run(ctx context.Context, as []Assignment, o RunOptions) []Result {
	if err := os.MkdirAll(o.LogDir, 0o755); err != nil {
		out := make([]Result, len(as))
		for i, a := range as {
			out[i] = Result{Job: a.Job, Node: a.Node.Name(), Native: a.Native, Err: fmt.Errorf("log directory: %w", err)}
		}
		return out
	}
	sems := map[string]chan struct{}{}
	for _, a := range as {
		if _, ok := sems[a.Node.Name()]; !ok {
			n := a.Node.Parallel()
			if n < 1 {
				n = 1
			}
			sems[a.Node.Name()] = make(chan struct{}, n)
		}
	}
	var console *lockedWriter
	if o.Console != nil {
		console = &lockedWriter{w: o.Console}
	}
	results := make([]Result, len(as))
	var wg sync.WaitGroup
	for i, a := range as {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem := sems[a.Node.Name()]
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				results[i] = Result{Job: a.Job, Node: a.Node.Name(), Native: a.Native, Err: ctx.Err()}
				return
			}
			defer func() { <-sem }()
			if o.OnStart != nil {
				o.OnStart(i, a)
			}
			results[i] = runOne(ctx, a, o.LogDir, console)
			if o.OnDone != nil {
				o.OnDone(i, results[i])
			}
		}()
	}
	wg.Wait()
	return results
}

func runOne(ctx context.Context, a Assignment, logDir string, console *lockedWriter) Result {
	res := Result{Job: a.Job, Node: a.Node.Name(), Native: a.Native}
	res.LogFile = filepath.Join(logDir, logName(a.Job))
	f, err := os.Create(res.LogFile)
	if err != nil {
		res.Err = fmt.Errorf("log file: %w", err)
		return res
	}
	defer f.Close()
	mode := "emulated"
	if a.Native {
		mode = "native"
	}
	fmt.Fprintf(f, "# %s on node %s (%s) -> %s\n", a.Job.Name(), a.Node.Name(), mode, a.Job.Ref)
	lf := &lastByte{w: f}
	var w io.Writer = lf
	if console != nil {
		pw := &prefixWriter{prefix: "[" + a.Job.Name() + "] ", w: console}
		defer pw.Flush()
		w = io.MultiWriter(f, pw)
	}
	start := time.Now()
	res.Output, res.Err = a.Node.Build(ctx, a.Job, w)
	res.Duration = time.Since(start)
	if lf.last != 0 && lf.last != '\n' {
		fmt.Fprintln(f) // the footer starts its own line
	}
	if res.Err != nil {
		fmt.Fprintf(f, "# failed after %s: %v\n", res.Duration.Round(time.Millisecond), res.Err)
	} else {
		fmt.Fprintf(f, "# pushed %s@%s in %s\n", res.Output.Ref, res.Output.Digest, res.Duration.Round(time.Millisecond))
	}
	return res
}

// logName is a file name for a job: agent@1.4_linux-arm-v7.log.
func logName(j Job) string {
	n := j.Image
	if j.Version != "" {
		n += "@" + j.Version
	}
	return n + "_" + strings.ReplaceAll(platform.Format(j.Platform), "/", "-") + ".log"
}

// Tail returns the last n lines of a build log, for error reports.
func Tail(file string, n int) string {
	b, err := os.ReadFile(file)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// lastByte remembers the last byte written through it.
type lastByte struct {
	w    io.Writer
	last byte
}

func (l *lastByte) Write(p []byte) (int, error) {
	if len(p) > 0 {
		l.last = p[len(p)-1]
	}
	return l.w.Write(p)
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// prefixWriter writes whole lines, each with a prefix.
type prefixWriter struct {
	prefix string
	w      io.Writer
	buf    bytes.Buffer
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf.Write(b)
	for {
		line, err := p.buf.ReadBytes('\n')
		if err != nil {
			p.buf.Write(line) // incomplete: keep it for the next write
			return len(b), nil
		}
		if _, err := p.w.Write(append([]byte(p.prefix), line...)); err != nil {
			return len(b), err
		}
	}
}

// Flush writes a last line without a newline.
func (p *prefixWriter) Flush() {
	if p.buf.Len() > 0 {
		p.w.Write(append(append([]byte(p.prefix), p.buf.Bytes()...), '\n'))
		p.buf.Reset()
	}
}
