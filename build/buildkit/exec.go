package buildkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	bk "github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	gateway "github.com/moby/buildkit/frontend/gateway/client"
	gwpb "github.com/moby/buildkit/frontend/gateway/pb"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/progress/progressui"
	specs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/tonistiigi/fsutil"
	"golang.org/x/sync/errgroup"

	"github.com/polyarch/polyarch/platform"
)

// Process is one command to run in a container.
type Process struct {
	Args []string
	Env  []string
	Cwd  string
	User string
	// Stdout and Stderr receive the process's output as it comes.
	Stdout, Stderr io.Writer
	// Stdin, when set, is the process's input.
	Stdin io.Reader
	// Tty runs the process on a terminal, whose output (stdout and stderr
	// alike) comes to Stdout.
	Tty bool
	// Resize, when set, gives the terminal's size: at the start and at each
	// change, until it is closed or the process ends.
	Resize <-chan WinSize
	// Signals, when set, are sent to the process as they come.
	Signals <-chan syscall.Signal
}

// WinSize is a terminal's size in characters.
type WinSize struct{ Rows, Cols uint32 }

// Mount is a directory of this machine mounted in a container. The
// container's writes to it go to a copy discarded with the container.
type Mount struct {
	// Source is the directory here; Dest, the path in the container.
	Source, Dest string
	Readonly     bool
}

// ExecOptions tune Exec.
type ExecOptions struct {
	// Log receives BuildKit's progress (pulling the image); nil discards it.
	Log io.Writer
	// Mounts are mounted in every container Exec starts.
	Mounts []Mount
}

// RunFunc runs one process in the container and returns its exit code.
// When ctx ends first the process is killed, with the container, and the
// error is ctx's.
type RunFunc func(ctx context.Context, p Process) (exitCode int, err error)

// Exec pulls image ref on the node for platform p (natively or under QEMU)
// and calls fn with a RunFunc that runs processes in it, each in a
// container of its own with o.Mounts. This is how polyarch tests images,
// runs jobs and commands in them: the same machinery, and the same node,
// as the build of that platform.
func (n *Node) Exec(ctx context.Context, ref string, p v1.Platform, o ExecOptions, fn func(run RunFunc) error) error {
	if n.Emulates && !n.Native(p) {
		if err := CheckEmulation(p); err != nil {
			return err
		}
	}
	c, err := n.Client(ctx)
	if err != nil {
		return err
	}
	defer c.Close()

	np := platform.Normalize(p)
	spec := specs.Platform{OS: np.OS, Architecture: np.Architecture, Variant: np.Variant}
	pbPlatform := &pb.Platform{OS: np.OS, Architecture: np.Architecture, Variant: np.Variant}
	locals := map[string]fsutil.FS{}
	for i, m := range o.Mounts {
		fs, err := fsutil.NewFS(m.Source)
		if err != nil {
			return fmt.Errorf("mounting %s: %w", m.Source, err)
		}
		locals[fmt.Sprintf("mount%d", i)] = fs
	}
	buildFunc := func(ctx context.Context, gw gateway.Client) (*gateway.Result, error) {
		solve := func(st llb.State, what string) (gateway.Reference, error) {
			def, err := st.Marshal(ctx, llb.Platform(spec))
			if err != nil {
				return nil, err
			}
			res, err := gw.Solve(ctx, gateway.SolveRequest{Definition: def.ToPB()})
			if err != nil {
				return nil, fmt.Errorf("%s: %w", what, err)
			}
			return res.SingleRef()
		}
		root, err := solve(llb.Image(ref, llb.Platform(spec)), "pulling "+ref)
		if err != nil {
			return nil, err
		}
		mounts := []gateway.Mount{{Dest: "/", MountType: pb.MountType_BIND, Ref: root}}
		for i, m := range o.Mounts {
			name := fmt.Sprintf("mount%d", i)
			dir, err := solve(llb.Local(name, llb.SharedKeyHint(m.Source)), "sending "+m.Source)
			if err != nil {
				return nil, err
			}
			mounts = append(mounts, gateway.Mount{Dest: m.Dest, MountType: pb.MountType_BIND, Ref: dir, Readonly: m.Readonly})
		}
		// One container per process: the first process of a gateway
		// container is its init, and the container ends with it.
		run := func(ctx context.Context, proc Process) (int, error) {
			ctr, err := gw.NewContainer(ctx, gateway.NewContainerRequest{
				Mounts:   mounts,
				Platform: pbPlatform,
			})
			if err != nil {
				return -1, fmt.Errorf("starting a %s container of %s: %w", platform.Format(p), ref, err)
			}
			defer ctr.Release(context.WithoutCancel(ctx))
			stdout, stderr := nopWriteCloser{orDiscard(proc.Stdout)}, nopWriteCloser{orDiscard(proc.Stderr)}
			cwd := proc.Cwd
			if cwd == "" {
				cwd = "/"
			}
			req := gateway.StartRequest{Args: proc.Args, Env: proc.Env, Cwd: cwd, User: proc.User, Stdout: stdout, Stderr: stderr, Tty: proc.Tty}
			if proc.Tty {
				req.Stderr = nil // a terminal has one output
			}
			if proc.Stdin != nil {
				req.Stdin = io.NopCloser(proc.Stdin)
			}
			pr, err := ctr.Start(ctx, req)
			if err != nil {
				return -1, fmt.Errorf("starting %q: %w", proc.Args, err)
			}
			done := make(chan struct{})
			forwarded := forward(ctx, pr, proc, done)
			err = pr.Wait()
			close(done)
			<-forwarded
			if ctx.Err() != nil {
				// Killed with its container (released on return).
				pr.Signal(context.WithoutCancel(ctx), syscall.SIGKILL)
				return -1, fmt.Errorf("running %q: %w", proc.Args, context.Cause(ctx))
			}
			var ee *gwpb.ExitError
			if errors.As(err, &ee) {
				return int(ee.ExitCode), nil
			}
			if err != nil {
				return -1, fmt.Errorf("running %q: %w", proc.Args, err)
			}
			return 0, nil
		}
		if err := fn(run); err != nil {
			return nil, err
		}
		return gateway.NewResult(), nil
	}

	opt := bk.SolveOpt{Session: n.session(ref), LocalMounts: locals}
	ch := make(chan *bk.SolveStatus)
	display, err := progressui.NewDisplay(orDiscard(o.Log), progressui.PlainMode)
	if err != nil {
		return err
	}
	eg, ectx := errgroup.WithContext(ctx)
	eg.Go(func() error {
		_, err := c.Build(ectx, opt, "polyarch", buildFunc, ch)
		return err
	})
	eg.Go(func() error {
		_, err := display.UpdateFrom(context.WithoutCancel(ectx), ch)
		return err
	})
	if err := eg.Wait(); err != nil {
		return cleanSolveError(err)
	}
	return nil
}

// forward sends proc's terminal sizes and signals to the process until
// done; the channel it returns is closed when it has stopped.
func forward(ctx context.Context, pr gateway.ContainerProcess, proc Process, done <-chan struct{}) <-chan struct{} {
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		resize, signals := proc.Resize, proc.Signals
		for resize != nil || signals != nil {
			select {
			case <-done:
				return
			case ws, ok := <-resize:
				if !ok {
					resize = nil
					continue
				}
				pr.Resize(ctx, gateway.WinSize{Rows: ws.Rows, Cols: ws.Cols})
			case sig, ok := <-signals:
				if !ok {
					signals = nil
					continue
				}
				pr.Signal(ctx, sig)
			}
		}
	}()
	return stopped
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
